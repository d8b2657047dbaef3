/**
 * The tap: every byte a connection reads and writes, seen without changing who reads or writes it. The
 * accept loop owns sockets before any protocol does, so this is where the bytes are visible whoever
 * takes the socket over (HTTP/1.1, a plugin after its 101, node:tls), and no handler has to cooperate.
 *
 * How: the socket's own `push` (every chunk the stream layer reads arrives through it, before any 'data'
 * listener or read() sees it) and `_write` / `_writev` (every chunk written reaches the handle through
 * them, `end(data)` and corked writes included) are shadowed on that one socket instance by shared
 * functions that record and then call the prototype's. Nothing is copied unless it is kept: past
 * `labBytesPerConnection` a chunk costs one function call that counts it.
 *
 * What is recorded depends on what the front door decides the connection is. Until it decides, bytes
 * read are held back; cleartext → they are the connection's first bytes; TLS → they were a ClientHello,
 * ciphertext, and are dropped: the decrypted bytes are recorded from the TLS socket instead, so the byte
 * view and the capture show HTTP inside TLS as TCP on the real ports (tcpdump and `--tls-keylog` are
 * the way to see the ciphertext itself).
 */
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { ConnectionBytes } from './connection-bytes.js';
import type { CaptureFile } from './capture-file.js';
import type { TcpConversation } from './pcapng.js';

type Direction = 'in' | 'out';

interface WriteRequest { chunk: Buffer | string; encoding: BufferEncoding }
type Tapped = Duplex & { [kTap]?: ConnectionTap };
type Proto = {
  push(chunk: unknown, encoding?: BufferEncoding): boolean;
  _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void;
  _writev?(chunks: WriteRequest[], callback: (error?: Error | null) => void): void;
};

const kTap = Symbol('switchyard.tap');

/** Wall-clock milliseconds with the microseconds pcapng timestamps carry (Date.now() has only milliseconds). */
const now = (): number => performance.timeOrigin + performance.now();

function tappedPush(this: Tapped, chunk: unknown, encoding?: BufferEncoding): boolean {
  const tap = this[kTap];
  if (tap !== undefined && chunk != null) tap.read(this, typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk as Uint8Array);
  return (Object.getPrototypeOf(this) as Proto).push.call(this, chunk, encoding);
}

function tappedWrite(this: Tapped, chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
  const tap = this[kTap];
  if (tap !== undefined) tap.wrote(this, typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
  (Object.getPrototypeOf(this) as Proto)._write.call(this, chunk, encoding, callback);
}

function tappedWritev(this: Tapped, chunks: WriteRequest[], callback: (error?: Error | null) => void): void {
  const tap = this[kTap];
  if (tap !== undefined) {
    for (const { chunk, encoding } of chunks) tap.wrote(this, typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
  }
  (Object.getPrototypeOf(this) as Proto)._writev!.call(this, chunks, callback);
}

function shadow(stream: Tapped, tap: ConnectionTap): void {
  stream[kTap] = tap;
  const own = stream as unknown as Record<string, unknown>;
  own.push = tappedPush;
  own._write = tappedWrite;
  if (typeof (stream as unknown as Proto)._writev === 'function') own._writev = tappedWritev;
}

function unshadow(stream: Tapped): void {
  const own = stream as unknown as Record<string, unknown>;
  if (own.push === tappedPush) delete own.push;
  if (own._write === tappedWrite) delete own._write;
  if (own._writev === tappedWritev) delete own._writev;
  delete stream[kTap];
}

export interface TapSinks {
  /** The byte view's store (undefined when `labBytesPerConnection` is 0). */
  readonly bytes: ConnectionBytes | undefined;
  /** `serve --pcap`: the file and this connection's synthesized TCP. */
  readonly capture: { readonly file: CaptureFile; readonly conversation: TcpConversation } | undefined;
}

/** One connection's tap: where its bytes go, and which stream (TCP, or TLS inside it) is the one to watch. */
export class ConnectionTap {
  readonly #bytes: ConnectionBytes | undefined;
  readonly #capture: TapSinks['capture'];
  /** The stream whose bytes are the connection's: the TCP socket, or the TLS socket once TLS is chosen. */
  #watched: Tapped | undefined;
  readonly #tapped: Tapped[] = [];
  #decided = false;
  /** Bytes read before the front door decided what the connection is: [chunk, at] pairs. */
  #held: Array<Uint8Array | number> = [];

  private constructor(sinks: TapSinks) {
    this.#bytes = sinks.bytes;
    this.#capture = sinks.capture;
  }

  /** Tap `socket`, a connection just accepted; the capture's SYN, SYN-ACK, ACK are written now. */
  static attach(socket: Duplex, sinks: TapSinks, at = now()): ConnectionTap | undefined {
    if (sinks.bytes === undefined && sinks.capture === undefined) return undefined;
    const tap = new ConnectionTap(sinks);
    if (sinks.capture !== undefined) sinks.capture.file.append(sinks.capture.conversation.open(at), at);
    tap.#watched = socket as Tapped;
    tap.#tapped.push(socket as Tapped);
    shadow(socket as Tapped, tap);
    return tap;
  }

  get bytes(): ConnectionBytes | undefined { return this.#bytes; }

  /** The front door chose cleartext (HTTP/1.1, HTTP/2 prior knowledge, or a 400): what it read was the connection's. */
  cleartext(): void {
    if (this.#decided) return;
    this.#decided = true;
    const held = this.#held;
    this.#held = [];
    for (let i = 0; i < held.length; i += 2) this.#record('in', held[i] as Uint8Array, held[i + 1] as number);
  }

  /** The front door chose TLS: what it read was ciphertext; from now on `secure`'s decrypted bytes count. */
  tls(secure: Duplex): void {
    this.#decided = true;
    this.#held = [];
    this.#watched = secure as Tapped;
    this.#tapped.push(secure as Tapped);
    shadow(secure as Tapped, this);
  }

  /** The socket closed: the capture's FIN (or RST, for a connection that ended in an error) from `by`. */
  closed(by: 'client' | 'server', reset: boolean, at = now()): void {
    this.cleartext();
    const capture = this.#capture;
    if (capture !== undefined) capture.file.append(capture.conversation.close(by, at, reset), at);
    for (const stream of this.#tapped) unshadow(stream);
    this.#tapped.length = 0;
    this.#watched = undefined;
  }

  read(stream: Duplex, chunk: Uint8Array): void {
    if (stream !== this.#watched) return;
    if (!this.#decided) {
      this.#held.push(chunk, now());
      return;
    }
    this.#record('in', chunk, now());
  }

  wrote(stream: Duplex, chunk: Uint8Array): void {
    if (stream !== this.#watched) return;
    // Written before a decision (a 400, a 408) means cleartext: the client's bytes come first.
    this.cleartext();
    this.#record('out', chunk, now());
  }

  #record(direction: Direction, chunk: Uint8Array, at: number): void {
    if (chunk.length === 0) return;
    const bytes = this.#bytes;
    // Past the limit add() only counts: a function call per chunk, no copy.
    if (bytes !== undefined) (direction === 'in' ? bytes.in : bytes.out).add(chunk, at, bytes.limit);
    const capture = this.#capture;
    if (capture === undefined || capture.file.cut) return;
    // Headers add under 100 bytes per segment: a chunk's length is close enough to ask with.
    if (capture.file.admits(chunk.length + 256, () => capture.conversation.skip(direction, chunk.length))) {
      capture.file.append(capture.conversation.data(direction, chunk, at), at);
    }
  }
}
