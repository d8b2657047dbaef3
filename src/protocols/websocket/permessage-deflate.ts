/**
 * permessage-deflate (RFC 7692 §7.2) for one connection, both directions, once the parameters are agreed
 * (deflate-negotiation.ts). Sans-IO: plain synchronous calls from bytes to bytes.
 *
 * How this works, and why: each message is compressed or inflated by one synchronous one-shot call to
 * node:zlib (`deflateRawSync` / `inflateRawSync` with `finishFlush: Z_SYNC_FLUSH`, so the output ends in
 * an empty stored block and never in a final one, §7.2.1). Context takeover (§7.1.1) is kept without
 * keeping a zlib stream: the LZ77 window a peer's decompressor holds is exactly the last 2^bits bytes it
 * produced, so we keep those bytes (a `History`) and hand them to the next call as its `dictionary`
 * (deflateSetDictionary / inflateSetDictionary do precisely "start with this window"). Consequences:
 * - between messages a connection holds no zlib state at all, only its histories (at most 2^bits bytes
 *   each way, and none for a direction without context takeover or that never compressed): an idle
 *   compressed connection costs a few KiB, not the ~300 KiB of a live deflate stream;
 * - zlib runs on the main thread, one message at a time, so at most one zlib context exists in the whole
 *   process at any moment and nothing waits in libuv's thread pool: the fragmentation `ws` bounds with
 *   `concurrencyLimit` cannot happen (measured in docs/websocket.md);
 * - inflation is capped while it runs: `maxOutputLength` makes zlib stop with ERR_BUFFER_TOO_LARGE as soon
 *   as its output passes the message limit (checked every output chunk), so a bomb costs at most the limit.
 * The price is re-initialising zlib per message (about 10 µs per compression and 6 µs per inflation of a
 * message of 1 KiB or less, measured; lost in the work from 16 KiB up) and, with context takeover, setting
 * the dictionary (hashing up to 2^bits bytes on the compressing side): small windows keep both cheap. And
 * a synchronous call holds the event loop for as long as it runs, so messages over `maxBytes` are sent
 * uncompressed (1 MiB of JSON compresses in about 6 ms; 16 MiB would take 90 ms of every connection's time).
 */
import { Buffer } from 'node:buffer';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { ProtocolError } from '../../errors.js';
import { CloseCode } from './close-codes.js';
import type { DeflateParams } from './deflate-negotiation.js';
import { WebSocketErrorCode as Err } from './error-codes.js';
import type { Role } from './frame-codec.js';

/** How this end compresses, beyond what was negotiated. */
export interface DeflateTuning {
  /** zlib level 0-9 (1: fastest; see docs/websocket.md for why it is the default). */
  readonly level: number;
  /** zlib memLevel 1-9: only the one transient context pays for it. */
  readonly memLevel: number;
  /** Messages shorter than this are sent uncompressed (RSV1 clear), as §6 allows per message. */
  readonly thresholdBytes: number;
  /** Messages longer than this are sent uncompressed too: no zlib call may hold the event loop for long. */
  readonly maxBytes: number;
}

export const DEFAULT_DEFLATE_TUNING: DeflateTuning = Object.freeze({ level: 1, memLevel: 8, thresholdBytes: 64, maxBytes: 1024 * 1024 });

/** The agreed parameters plus our tuning: what a WebSocketProtocol needs to speak the extension. */
export interface DeflateSetup extends DeflateTuning {
  readonly params: DeflateParams;
}

const SMALL_OUTPUT_BYTES = 8 * 1024;

/** Messages from this size on are probed before being compressed whole (see `compress`). */
const PROBE_FROM_BYTES = 16 * 1024;
const PROBE_BYTES = 1024;
/** A probe that deflates to more than this fraction of itself marks the message as not worth it. */
const INCOMPRESSIBLE_RATIO = 0.95;

/** §7.2.1: the 4 octets a sync flush ends with, removed by the sender and restored by the receiver (§7.2.2). */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The last `capacity` bytes that went through one direction's (de)compressor: its LZ77 window. */
class History {
  readonly #bytes: Buffer;
  #length = 0;

  constructor(capacity: number) {
    // Slow: its own memory, not a slice of Node's shared 8 KiB pool, which it would pin for its lifetime.
    this.#bytes = Buffer.allocUnsafeSlow(capacity);
  }

  get bytes(): Buffer | undefined {
    return this.#length === 0 ? undefined : this.#bytes.subarray(this.#bytes.length - this.#length);
  }

  /** Appends `data`, keeping the newest bytes at the end of one contiguous buffer (a dictionary must be). */
  append(data: Uint8Array): void {
    const capacity = this.#bytes.length;
    if (data.length >= capacity) {
      this.#bytes.set(data.subarray(data.length - capacity));
      this.#length = capacity;
      return;
    }
    const kept = Math.min(this.#length, capacity - data.length);
    this.#bytes.copyWithin(capacity - data.length - kept, capacity - kept, capacity);
    this.#bytes.set(data, capacity - data.length);
    this.#length = kept + data.length;
  }
}

/**
 * zlib's raw deflate cannot use an 8-bit window (it silently uses 9, so its output may reach 512 bytes
 * back): the negotiation never agrees to compress with 8 bits. Inflating with a wider window than the
 * peer compressed with is always safe, so an agreed 8 is inflated with 9.
 */
function inflateBits(bits: number): number {
  return Math.max(bits, 9);
}

export class PerMessageDeflate {
  readonly #sendBits: number;
  readonly #receiveBits: number;
  /** 0 when that direction resets its context after every message (no history kept). */
  readonly #sendCapacity: number;
  readonly #receiveCapacity: number;
  /** Made with the first compressed message that direction carries. */
  #sendHistory: History | undefined;
  #receiveHistory: History | undefined;
  readonly #level: number;
  readonly #memLevel: number;
  readonly thresholdBytes: number;
  readonly #maxBytes: number;

  constructor(setup: DeflateSetup, role: Role) {
    const { params } = setup;
    const server = role === 'server';
    // §7.1.1: server_no_context_takeover binds the server's compressor, client_no_context_takeover the
    // client's; the receiving side mirrors whatever its peer's compressor does.
    const sendReset = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    const receiveReset = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.#sendBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    this.#receiveBits = inflateBits(server ? params.clientMaxWindowBits : params.serverMaxWindowBits);
    this.#sendCapacity = sendReset ? 0 : 1 << this.#sendBits;
    this.#receiveCapacity = receiveReset ? 0 : 1 << this.#receiveBits;
    this.#level = setup.level;
    this.#memLevel = setup.memLevel;
    this.thresholdBytes = setup.thresholdBytes;
    this.#maxBytes = setup.maxBytes;
  }

  /** Whether a message of this many bytes goes out compressed. */
  shouldCompress(length: number): boolean {
    return length >= this.thresholdBytes && length <= this.#maxBytes;
  }

  /**
   * One whole message's payload, compressed, without the 00 00 ff ff tail (§7.2.1); or undefined when it
   * is better sent as it is (RSV1 clear, which §6 allows for any message). A large message is judged by
   * its first PROBE_BYTES first, so random or already-compressed
   * data (images, archives) costs one small zlib call instead of a long one that blocks the event loop
   * (16 MiB of random bytes: about 200 ms on the bench machine) for nothing. Only what went out
   * compressed enters the window: the peer's inflater never sees the others.
   */
  compress(message: Uint8Array): Uint8Array | undefined {
    if (message.length >= PROBE_FROM_BYTES && this.#deflate(message.subarray(0, PROBE_BYTES), undefined).length >= PROBE_BYTES * INCOMPRESSIBLE_RATIO) {
      return undefined;
    }
    const out = this.#deflate(message, this.#sendHistory?.bytes);
    // A sync flush always ends with the empty stored block; §7.2.1: "Remove 4 octets (that are 0x00 0x00
    // 0xff 0xff) from the tail end".
    const compressed = out.subarray(0, out.length - TAIL.length);
    if (this.#sendCapacity > 0) (this.#sendHistory ??= new History(this.#sendCapacity)).append(message);
    return compressed;
  }

  #deflate(data: Uint8Array, dictionary: Uint8Array | undefined): Buffer {
    return deflateRawSync(data, {
      level: this.#level,
      memLevel: this.#memLevel,
      windowBits: this.#sendBits,
      finishFlush: constants.Z_SYNC_FLUSH,
      ...(dictionary === undefined ? {} : { dictionary }),
    });
  }

  /**
   * One whole message's compressed payload (its frames' payloads joined), inflated; at most `maxBytes`
   * of output, else a 1009 error, decided while inflating. Corrupt data is a 1007 (§8.1's code for data
   * "not consistent with the type of the message"; RFC 7692 names no code, and ws and websockets use 1007).
   */
  decompress(compressed: Uint8Array, maxBytes: number): Uint8Array | ProtocolError {
    const dictionary = this.#receiveHistory?.bytes;
    // §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of the message."
    const input = compressed.length === 0 ? TAIL : Buffer.concat([compressed, TAIL]);
    let out: Buffer;
    try {
      out = inflateRawSync(input, {
        windowBits: this.#receiveBits,
        finishFlush: constants.Z_SYNC_FLUSH,
        // The cap: zlib checks it every output chunk and throws once passed, so at most the limit (plus one
        // chunk) is ever allocated. maxOutputLength must be ≥ 1.
        maxOutputLength: Math.max(maxBytes, 1),
        ...(dictionary === undefined ? {} : { dictionary }),
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') {
        return new ProtocolError(Err.MessageTooBig, `a compressed message inflates past the limit of ${maxBytes} bytes`, { closeCode: CloseCode.MessageTooBig });
      }
      return new ProtocolError(Err.InvalidCompressedData, `invalid compressed data: ${(error as Error).message}`, { closeCode: CloseCode.InvalidPayload });
    }
    if (out.length > maxBytes) {
      return new ProtocolError(Err.MessageTooBig, `a compressed message inflates past the limit of ${maxBytes} bytes`, { closeCode: CloseCode.MessageTooBig });
    }
    if (this.#receiveCapacity > 0) (this.#receiveHistory ??= new History(this.#receiveCapacity)).append(out);
    // A small output is a slice of zlib's 16 KiB output chunk: copied, so a message the application
    // keeps does not pin the whole chunk.
    return out.length < SMALL_OUTPUT_BYTES && out.buffer.byteLength > 2 * out.length ? Buffer.from(out) : out;
  }

  /** Bytes this connection keeps between messages (its windows), for the lab's memory figures. */
  get retainedBytes(): number {
    return (this.#sendHistory === undefined ? 0 : this.#sendCapacity) + (this.#receiveHistory === undefined ? 0 : this.#receiveCapacity);
  }
}
