/**
 * The tap: every byte a connection reads and writes, seen without changing who reads or writes it. The
 * accept loop owns sockets before any protocol does, so this is where the bytes are visible whoever
 * takes the socket over (HTTP/1.1, a plugin after its 101, node:tls), and no handler has to cooperate.
 *
 * How: the socket's `push` (every chunk the stream layer reads arrives through it, before any 'data'
 * listener or read() sees it) and `_write` / `_writev` (every chunk written reaches the handle through
 * them, `end(data)` and corked writes included) record, then do what they always did (installTap).
 * Nothing is copied unless it is kept: past `labBytesPerConnection` a chunk costs a call that counts it.
 *
 * What is recorded depends on what the front door decides the connection is. Until it decides, bytes
 * read are held back; cleartext → they are the connection's first bytes; TLS → they were a ClientHello,
 * ciphertext, and are dropped: the decrypted bytes are recorded from the TLS socket instead, so the byte
 * view and the capture show HTTP inside TLS as TCP on the real ports (tcpdump and `--tls-keylog` are
 * the way to see the ciphertext itself).
 */
import { performance } from 'node:perf_hooks';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionRecord, kConnectionRecord } from '../connection-table.js';
import type { ConnectionBytes, Direction } from './connection-bytes.js';
import type { CaptureFile } from './capture-file.js';
import type { TcpConversation } from './pcapng.js';

interface WriteRequest { chunk: Buffer | string; encoding: BufferEncoding }
type Tapped = Duplex & { [kConnectionRecord]?: ConnectionRecord };
type Callback = (error?: Error | null) => void;
interface StreamMethods {
  push(chunk: unknown, encoding?: BufferEncoding): boolean;
  _write(chunk: Buffer | string, encoding: BufferEncoding, callback: Callback): void;
  _writev?(chunks: WriteRequest[], callback: Callback): void;
}

/** Wall-clock milliseconds with the microseconds pcapng timestamps carry (Date.now() has only milliseconds). */
const now = (): number => performance.timeOrigin + performance.now();

/**
 * A written chunk as the store takes it: a latin1 or ASCII string (how HTTP heads are written) stays the
 * string it is, one character per byte already; any other string is encoded as the socket will encode it.
 */
const writtenBytes = (chunk: Buffer | string, encoding: BufferEncoding): Uint8Array | string =>
  typeof chunk !== 'string' ? chunk : encoding === 'latin1' || encoding === 'binary' || encoding === 'ascii' ? chunk : Buffer.from(chunk, encoding);

/**
 * The tap is installed once per process, on net.Socket's prototype (TLSSocket inherits it): its push and
 * writes first ask the socket for its row's tap, and a socket without one (a client's, or the lab's with
 * the byte view off) pays that one property lookup per chunk and nothing else. Changing each tapped
 * socket instead (own properties, or a prototype of its own) measured about 1 KB more per idle
 * connection: V8 then gives every such socket a map of its own shape, where all sockets share one.
 */
let installed = false;

function installTap(): void {
  if (installed) return;
  installed = true;
  const proto = Socket.prototype as unknown as StreamMethods;
  const parent: StreamMethods = { push: proto.push, _write: proto._write, _writev: proto._writev! };
  proto.push = function (this: Tapped, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk != null) {
      const tap = this[kConnectionRecord]?.tap;
      if (tap !== undefined) tap.read(this, typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk as Uint8Array);
    }
    return parent.push.call(this, chunk, encoding);
  };
  proto._write = function (this: Tapped, chunk: Buffer | string, encoding: BufferEncoding, callback: Callback): void {
    const tap = this[kConnectionRecord]?.tap;
    if (tap !== undefined) tap.wrote(this, writtenBytes(chunk, encoding));
    parent._write.call(this, chunk, encoding, callback);
  };
  proto._writev = function (this: Tapped, chunks: WriteRequest[], callback: Callback): void {
    const tap = this[kConnectionRecord]?.tap;
    if (tap !== undefined) for (const { chunk, encoding } of chunks) tap.wrote(this, writtenBytes(chunk, encoding));
    parent._writev!.call(this, chunks, callback);
  };
}

export interface TapSinks {
  /** The byte view's store (undefined when `labBytesPerConnection` is 0). */
  readonly bytes: ConnectionBytes | undefined;
  /** `serve --pcap`: the file and this connection's synthesized TCP. */
  readonly capture: { readonly file: CaptureFile; readonly conversation: TcpConversation } | undefined;
}

/** One connection's tap: where its bytes go, and which stream (TCP, or TLS inside it) is the one to watch. */
export class ConnectionTap {
  readonly bytes: ConnectionBytes | undefined;
  #capture: TapSinks['capture'];
  /** Set once TLS is chosen: from then on only its (decrypted) bytes count. */
  #secure: Duplex | undefined;
  #decided = false;
  #closed = false;
  /** Bytes read before the front door decided what the connection is: [chunk, at] pairs. */
  #held: Array<Uint8Array | number> | undefined;

  private constructor(sinks: TapSinks) {
    this.bytes = sinks.bytes;
    this.#capture = sinks.capture;
  }

  /**
   * Tap `socket`, a connection just accepted whose row (`record`, hung on the socket under
   * kConnectionRecord) will hold the tap; the capture's SYN, SYN-ACK, ACK are written now.
   */
  static attach(socket: Duplex, sinks: TapSinks, at = now()): ConnectionTap | undefined {
    if (sinks.bytes === undefined && sinks.capture === undefined) return undefined;
    const tap = new ConnectionTap(sinks);
    if (sinks.capture !== undefined) sinks.capture.file.append(sinks.capture.conversation.open(at), at);
    installTap();
    return tap;
  }

  /** The front door chose cleartext (HTTP/1.1, HTTP/2 prior knowledge, or a 400): what it read was the connection's. */
  cleartext(): void {
    if (this.#decided) return;
    this.#decided = true;
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) for (let i = 0; i < held.length; i += 2) this.#record('in', held[i] as Uint8Array, held[i + 1] as number);
  }

  /** The front door chose TLS: what it read was ciphertext; from now on `secure`'s decrypted bytes count. */
  tls(secure: Duplex): void {
    this.#decided = true;
    this.#held = undefined;
    this.#secure = secure;
  }

  /** The socket closed: the capture's FIN (or RST, for a connection that ended in an error) from `by`. */
  closed(by: 'client' | 'server', reset: boolean, at = now()): void {
    this.cleartext();
    this.#closed = true;
    const capture = this.#capture;
    if (capture !== undefined) capture.file.append(capture.conversation.close(by, at, reset), at);
    this.#capture = undefined;
  }

  /** Whether bytes of `stream` are the connection's: the TCP socket's until TLS is chosen, then only TLS's. */
  #watches(stream: Duplex): boolean {
    return !this.#closed && (this.#secure === undefined || stream === this.#secure);
  }

  read(stream: Duplex, chunk: Uint8Array): void {
    if (!this.#watches(stream)) return;
    if (!this.#decided) {
      (this.#held ??= []).push(chunk, now());
      return;
    }
    this.#record('in', chunk, now());
  }

  /** `chunk` as a string: latin1, one character per byte (see writtenBytes). */
  wrote(stream: Duplex, chunk: Uint8Array | string): void {
    if (!this.#watches(stream)) return;
    // Written before a decision (a 400, a 408) means cleartext: the client's bytes come first.
    this.cleartext();
    this.#record('out', chunk, now());
  }

  #record(direction: Direction, written: Uint8Array | string, at: number): void {
    if (written.length === 0) return;
    // Past the limit add() only counts: a function call per chunk, no copy.
    this.bytes?.add(direction, written, at);
    const capture = this.#capture;
    if (capture === undefined || capture.file.cut) return;
    const chunk = typeof written === 'string' ? Buffer.from(written, 'latin1') : written;
    // Headers add under 100 bytes per segment: a chunk's length is close enough to ask with.
    if (capture.file.admits(chunk.length + 256, () => capture.conversation.skip(direction, chunk.length))) {
      capture.file.append(capture.conversation.data(direction, chunk, at), at);
    }
  }
}
