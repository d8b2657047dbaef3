import { Buffer } from 'node:buffer';
import { ProtocolError, UsageError } from '../../errors.js';
import { DEFAULT_LIMITS } from '../../limits.js';
import { WebSocketErrorCode as Err } from './error-codes.js';
import { unmaskInPlace } from './mask.js';
import { ReceiveBuffer } from '../../http/receive-buffer.js';

export { unmaskInPlace } from './mask.js';

/**
 * WebSocket frames (RFC 6455 §5.2), sans-IO: bytes in through `receive`, events out of `next`.
 *
 * How this works: received chunks go into a ReceiveBuffer (the HTTP parser's) untouched. `next()` looks at the unread bytes
 * and returns one event: a `header` once the whole header (2-14 bytes) is there, then one `payload`
 * event per piece of payload as it becomes available (a zero-copy view of one received chunk, unmasked
 * in place), then `frame-end`, then the next frame's header. The header is checked byte by byte as it
 * arrives, so a broken frame is reported on its first bad byte, and the payload length is checked
 * against `maxPayloadBytes` the moment the length field is complete, before the masking key and long
 * before any payload: nothing is ever allocated from a length the peer declared. Bytes after a frame
 * stay queued for the next one. Errors are sticky.
 *
 * Ownership: `receive` takes the chunk. Masked payloads are unmasked in place, and payload events are
 * views of the received chunks, so the caller must not reuse a chunk after handing it over (Node's
 * socket `data` buffers are never reused, so the I/O layer passes them straight through).
 */

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** §5.5: "All control frames MUST have a payload length of 125 bytes or less". */
export const MAX_CONTROL_PAYLOAD_BYTES = 125;

/** Control frames are those with the high bit of the opcode set (§5.5). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** §5.2: opcodes 0x3-0x7 and 0xB-0xF are "reserved for further (non-)control frames". */
const KNOWN_OPCODE: readonly boolean[] = Array.from({ length: 16 }, (_, op) => op <= 2 || (op >= 8 && op <= 10));

export type Role = 'server' | 'client';

export interface FrameHeader {
  readonly fin: boolean;
  /** RSV1: "Per-Message Compressed" once permessage-deflate is agreed (RFC 7692 §6). */
  readonly rsv1: boolean;
  readonly opcode: Opcode;
  /** The 4-byte masking key, or undefined for an unmasked frame. */
  readonly mask: Uint8Array | undefined;
  readonly payloadLength: number;
  /** 2 to 14 bytes. */
  readonly headerLength: number;
}

export type FrameEvent =
  | { readonly type: 'header'; readonly header: FrameHeader }
  /** A piece of the current frame's payload, already unmasked. */
  | { readonly type: 'payload'; readonly data: Uint8Array }
  | { readonly type: 'frame-end' }
  | { readonly type: 'need-data' }
  | { readonly type: 'error'; readonly error: ProtocolError };

export interface FrameDecoderOptions {
  /** Which side we are: a server receives masked frames, a client unmasked ones (§5.1). */
  readonly role: Role;
  /** Largest payload of one frame, inclusive; over it → 1009. Defaults to the message limit. */
  readonly maxPayloadBytes?: number;
  /** An extension that defines RSV1 was agreed (permessage-deflate): a set RSV1 is reported, not failed. */
  readonly allowRsv1?: boolean;
}

const NEED_DATA: FrameEvent = Object.freeze({ type: 'need-data' });
const FRAME_END: FrameEvent = Object.freeze({ type: 'frame-end' });
const MAX_HEADER_BYTES = 14;
const TWO_TO_32 = 2 ** 32;
/** A header's bytes, copied out of the chunk list and parsed in the same call: one buffer serves every decoder. */
const HEADER_SCRATCH = new Uint8Array(MAX_HEADER_BYTES);

export class FrameDecoder {
  readonly #queue = new ReceiveBuffer();
  readonly #server: boolean;
  readonly #maxPayloadBytes: number;
  /** The RSV bits that fail the connection: all three, or RSV2 and RSV3 once RSV1 has a meaning. */
  readonly #forbiddenRsv: number;
  #inPayload = false;
  #remaining = 0;
  #mask: Uint8Array | undefined;
  /** Payload bytes of the current frame already delivered (the masking phase). */
  #position = 0;
  #error: FrameEvent | undefined;

  constructor(options: FrameDecoderOptions) {
    if (options.role !== 'server' && options.role !== 'client') {
      throw new UsageError('ERR_INVALID_ROLE', `role must be 'server' or 'client', got ${String(options.role)}`);
    }
    this.#server = options.role === 'server';
    this.#maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_LIMITS.webSocketMaxMessageBytes;
    this.#forbiddenRsv = options.allowRsv1 === true ? 0x30 : 0x70;
  }

  /** Queues received bytes (taking ownership: see the file comment). */
  receive(chunk: Uint8Array): void {
    if (this.#error === undefined) this.#queue.append(chunk);
  }

  /** Bytes received and not yet returned in an event. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  next(): FrameEvent {
    if (this.#error !== undefined) return this.#error;
    if (!this.#inPayload) return this.#readHeader();
    if (this.#remaining === 0) {
      this.#inPayload = false;
      return FRAME_END;
    }
    if (this.#queue.length === 0) return NEED_DATA;
    const data = this.#queue.takeUpTo(this.#remaining);
    this.#remaining -= data.length;
    if (this.#mask !== undefined) {
      unmaskInPlace(data, this.#mask, this.#position);
      this.#position += data.length;
    }
    return { type: 'payload', data };
  }

  #readHeader(): FrameEvent {
    const available = this.#queue.length;
    if (available === 0) return NEED_DATA;
    const bytes = HEADER_SCRATCH;
    this.#queue.peek(bytes, Math.min(available, MAX_HEADER_BYTES));

    const b0 = bytes[0]!;
    // §5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an extension is negotiated that defines
    // meanings for non-zero values. If a nonzero value is received and none of the negotiated
    // extensions defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
    // WebSocket Connection_." Only permessage-deflate (RFC 7692 §6) gives one a meaning: RSV1.
    if ((b0 & this.#forbiddenRsv) !== 0) {
      return this.#fail(Err.ReservedBits, this.#forbiddenRsv === 0x70
        ? 'a reserved bit (RSV1-3) is set but no extension was negotiated'
        : 'RSV2 or RSV3 is set; only RSV1 has a meaning (permessage-deflate)');
    }
    const opcode = b0 & 0x0f;
    // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
    if (!KNOWN_OPCODE[opcode]) return this.#fail(Err.ReservedOpcode, `reserved opcode 0x${opcode.toString(16)}`);
    const fin = (b0 & 0x80) !== 0;
    const control = isControlOpcode(opcode);
    // §5.5: control frames "MUST NOT be fragmented".
    if (control && !fin) return this.#fail(Err.FragmentedControl, 'a control frame has FIN clear');
    const rsv1 = (b0 & 0x40) !== 0;
    // RFC 7692 §6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control frames".
    if (control && rsv1) return this.#fail(Err.MisplacedCompressionBit, 'a control frame has RSV1 set (control frames are never compressed)');
    if (available < 2) return NEED_DATA;

    const b1 = bytes[1]!;
    const masked = (b1 & 0x80) !== 0;
    // §5.1: "The server MUST close the connection upon receiving a frame that is not masked" and "A
    // client MUST close a connection if it detects a masked frame"; §7.4.1 gives 1002 for both.
    if (this.#server && !masked) return this.#fail(Err.UnmaskedFrame, 'a client frame is not masked');
    if (!this.#server && masked) return this.#fail(Err.MaskedFrame, 'a server frame is masked');
    let length = b1 & 0x7f;
    // §5.5: "All control frames MUST have a payload length of 125 bytes or less".
    if (control && length > MAX_CONTROL_PAYLOAD_BYTES) {
      return this.#fail(Err.ControlTooLong, 'a control frame declares more than 125 bytes');
    }

    let headerLength = 2;
    if (length === 126) {
      if (available < 4) return NEED_DATA;
      length = (bytes[2]! << 8) | bytes[3]!;
      headerLength = 4;
      // §5.2: "in all cases, the minimal number of bytes MUST be used to encode the length, for example,
      // the length of a 124-byte-long string can't be encoded as the sequence 126, 0, 124". A peer that
      // does otherwise is broken or probing length handling; we refuse it, as wsproto does.
      if (length < 126) return this.#fail(Err.NonMinimalLength, `length ${length} sent in the 16-bit form`);
    } else if (length === 127) {
      if (available < 10) return NEED_DATA;
      const high = ((bytes[2]! << 24) | (bytes[3]! << 16) | (bytes[4]! << 8) | bytes[5]!) >>> 0;
      const low = ((bytes[6]! << 24) | (bytes[7]! << 16) | (bytes[8]! << 8) | bytes[9]!) >>> 0;
      headerLength = 10;
      // §5.2: in the 64-bit form "the most significant bit MUST be 0".
      if (high >= 0x8000_0000) return this.#fail(Err.LengthTooLarge, 'the 64-bit length has its most significant bit set');
      // Exact below 2^53; anything larger is far over any cap, and inexactness cannot make it smaller.
      length = high * TWO_TO_32 + low;
      if (length <= 0xffff) return this.#fail(Err.NonMinimalLength, `length ${length} sent in the 64-bit form`);
    }
    // The cap, checked the moment the length is known (before the mask and any payload): §7.4.1 1009,
    // "a message that is too big for it to process".
    if (length > this.#maxPayloadBytes) {
      return this.#fail(
        Err.FrameTooBig,
        `frame payload of ${length} bytes exceeds the limit of ${this.#maxPayloadBytes}`,
        1009,
      );
    }

    let mask: Uint8Array | undefined;
    if (masked) {
      if (available < headerLength + 4) return NEED_DATA;
      mask = bytes.slice(headerLength, headerLength + 4);
      headerLength += 4;
    }
    this.#queue.skip(headerLength);
    this.#inPayload = true;
    this.#remaining = length;
    this.#mask = mask;
    this.#position = 0;
    return { type: 'header', header: { fin, rsv1, opcode: opcode as Opcode, mask, payloadLength: length, headerLength } };
  }

  #fail(code: string, message: string, closeCode = 1002): FrameEvent {
    this.#error = Object.freeze({ type: 'error', error: new ProtocolError(code, message, { closeCode }) });
    this.#queue.clear();
    return this.#error;
  }
}

/**
 * Unmasked payloads up to this size are copied behind their header into one buffer: one small write is
 * cheaper than a writev of two. Larger ones are returned as [header, payload] so the I/O layer can
 * writev them without copying the payload.
 */
export const SINGLE_BUFFER_MAX_PAYLOAD_BYTES = 4096;

export interface EncodeFrameOptions {
  /** Defaults to true. */
  readonly fin?: boolean;
  readonly opcode: Opcode;
  readonly payload?: Uint8Array;
  /** 4-byte masking key: required for every client frame (§5.3), absent for server frames. */
  readonly mask?: Uint8Array;
  readonly rsv1?: boolean;
}

/**
 * Encodes one frame. Returns one buffer (header + payload) for small or masked frames, and [header,
 * payload] for large unmasked ones, where `payload` is the caller's buffer, not a copy: it must not be
 * changed until written. A masked payload is copied (masking must not alter the caller's data).
 * Throws UsageError for frames this endpoint must never send.
 */
export function encodeFrame(options: EncodeFrameOptions): Uint8Array[] {
  const { opcode, mask, fin = true, rsv1 = false } = options;
  const payload = options.payload ?? EMPTY;
  const length = payload.length;
  if (!KNOWN_OPCODE[opcode]) throw new UsageError('ERR_INVALID_OPCODE', `cannot send opcode ${String(opcode)}`);
  if (isControlOpcode(opcode) && (!fin || length > MAX_CONTROL_PAYLOAD_BYTES)) {
    throw new UsageError('ERR_INVALID_CONTROL_FRAME', 'control frames must have FIN set and at most 125 bytes of payload');
  }
  if (mask !== undefined && mask.length !== 4) throw new UsageError('ERR_INVALID_MASK', 'a masking key is 4 bytes');

  const lengthBytes = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const headerLength = 2 + lengthBytes + (mask === undefined ? 0 : 4);
  const single = mask !== undefined || length <= SINGLE_BUFFER_MAX_PAYLOAD_BYTES;
  const out: Uint8Array = Buffer.allocUnsafe(single ? headerLength + length : headerLength);

  writeHeader(out, fin, rsv1, opcode, mask === undefined ? 0 : 0x80, length, lengthBytes);
  if (mask !== undefined) out.set(mask, 2 + lengthBytes);
  if (!single) return [out, payload];
  out.set(payload, headerLength);
  if (mask !== undefined && length > 0) unmaskInPlace(out.subarray(headerLength), mask, 0);
  return [out];
}

/**
 * The header alone of an unmasked frame whose `payloadLength` bytes the caller writes after it, as they
 * become available (a server relaying a payload piece by piece; a client must mask, so it cannot).
 */
export function encodeFrameHeader(options: { readonly opcode: Opcode; readonly fin: boolean; readonly payloadLength: number }): Uint8Array {
  const { opcode, fin, payloadLength: length } = options;
  if (!KNOWN_OPCODE[opcode] || isControlOpcode(opcode)) throw new UsageError('ERR_INVALID_OPCODE', `cannot stream opcode ${String(opcode)}`);
  if (!Number.isSafeInteger(length) || length < 0) throw new UsageError('ERR_INVALID_LENGTH', 'a payload length is a non-negative integer');
  const lengthBytes = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const out: Uint8Array = Buffer.allocUnsafe(2 + lengthBytes);
  writeHeader(out, fin, false, opcode, 0, length, lengthBytes);
  return out;
}

function writeHeader(out: Uint8Array, fin: boolean, rsv1: boolean, opcode: number, maskBit: number, length: number, lengthBytes: number): void {
  out[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (lengthBytes === 0) {
    out[1] = maskBit | length;
  } else if (lengthBytes === 2) {
    out[1] = maskBit | 126;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
  } else {
    out[1] = maskBit | 127;
    const high = Math.floor(length / TWO_TO_32);
    const low = length >>> 0;
    out[2] = high >>> 24;
    out[3] = (high >>> 16) & 0xff;
    out[4] = (high >>> 8) & 0xff;
    out[5] = high & 0xff;
    out[6] = low >>> 24;
    out[7] = (low >>> 16) & 0xff;
    out[8] = (low >>> 8) & 0xff;
    out[9] = low & 0xff;
  }
}

const EMPTY = new Uint8Array(0);
