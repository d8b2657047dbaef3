/**
 * The soak's payloads: every message carries its connection's sequence number and a CRC-32 of itself, so
 * the receiver tells a lost message (a gap), a reordered one (a number out of turn) and a corrupted one (a
 * bad checksum) apart. Binary records for byte streams; a text form for chat and WebSocket text.
 *
 *   binary record:  u32 seq | u32 length | payload (length bytes) | u32 crc32(seq | length | payload)
 *   text record:    "<seq>:<crc32 hex of payload>:<payload>"
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3), written out so the soak depends on nothing it is testing. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Payload bytes that vary with the sequence number, so a swapped or stale record cannot pass. */
export function payload(seq: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = (seq * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function encodeRecord(seq: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(12 + length);
  out.writeUInt32BE(seq, 0);
  out.writeUInt32BE(length, 4);
  payload(seq, length).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(0, 8 + length)), 8 + length);
  return out;
}

export type RecordVerdict =
  | { readonly kind: 'ok'; readonly seq: number }
  | { readonly kind: 'corrupt'; readonly detail: string };

/** Checks one whole record (exactly its bytes). */
export function verifyRecord(bytes: Uint8Array): RecordVerdict {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.length < 12) return { kind: 'corrupt', detail: `record of ${view.length} bytes` };
  const seq = view.readUInt32BE(0);
  const length = view.readUInt32BE(4);
  if (view.length !== 12 + length) return { kind: 'corrupt', detail: `record ${seq} declares ${length} bytes, has ${view.length - 12}` };
  if (crc32(view.subarray(0, 8 + length)) !== view.readUInt32BE(8 + length)) return { kind: 'corrupt', detail: `record ${seq}: checksum mismatch` };
  return { kind: 'ok', seq };
}

/**
 * Cuts a byte stream of records back into records, whatever the chunking (TCP has no message boundaries).
 * The length field is trusted only up to `maxLength`; beyond that the stream is corrupt.
 */
export class RecordReader {
  #pending: Buffer[] = [];
  #length = 0;
  readonly #maxLength: number;

  constructor(maxLength: number) {
    this.#maxLength = maxLength;
  }

  /** Feeds a chunk; returns the records it completed, or a 'corrupt' verdict if the stream broke. */
  push(chunk: Buffer): RecordVerdict[] {
    this.#pending.push(chunk);
    this.#length += chunk.length;
    const verdicts: RecordVerdict[] = [];
    for (;;) {
      if (this.#length < 8) return verdicts;
      const head = this.#peek(8);
      const length = head.readUInt32BE(4);
      if (length > this.#maxLength) {
        verdicts.push({ kind: 'corrupt', detail: `length field ${length} over ${this.#maxLength}` });
        return verdicts;
      }
      if (this.#length < 12 + length) return verdicts;
      verdicts.push(verifyRecord(this.#take(12 + length)));
    }
  }

  get buffered(): number { return this.#length; }

  #peek(n: number): Buffer {
    if (this.#pending[0]!.length < n) this.#pending = [Buffer.concat(this.#pending)];
    return this.#pending[0]!.subarray(0, n);
  }

  #take(n: number): Buffer {
    const all = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#length -= n;
    return taken;
  }
}

export function encodeText(seq: number, length: number): string {
  const text = payload(seq, length).toString('base64').slice(0, length);
  return `${seq}:${crc32(Buffer.from(text)).toString(16)}:${text}`;
}

export function verifyText(message: string): RecordVerdict {
  const first = message.indexOf(':');
  const second = message.indexOf(':', first + 1);
  if (first < 0 || second < 0) return { kind: 'corrupt', detail: `text record without its fields: ${message.slice(0, 40)}` };
  const seq = Number(message.slice(0, first));
  const text = message.slice(second + 1);
  if (!Number.isSafeInteger(seq) || crc32(Buffer.from(text)).toString(16) !== message.slice(first + 1, second)) {
    return { kind: 'corrupt', detail: `text record ${message.slice(0, first)}: checksum mismatch` };
  }
  return { kind: 'ok', seq };
}
