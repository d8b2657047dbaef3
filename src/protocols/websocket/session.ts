/**
 * The only WebSocket file that touches a socket. `WebSocket` wraps a connected stream (server side after
 * the 101, or client side after verifying it) around the sans-IO `WebSocketProtocol`: bytes in →
 * protocol events → user events; user calls → frames → one `write` (or a corked pair for big payloads).
 *
 * Shape as users know it from browsers and `ws`: `send`, `close`, `ping`, `readyState`,
 * `bufferedAmount`, events `message` (text as string, binary as Uint8Array, kept apart by `isBinary`),
 * `close` (code, reason, wasClean), `error`, `ping`, `pong`, and `drain` for backpressure: `send` returns
 * false once the socket's buffer is over its high-water mark.
 *
 * Closing (RFC 6455 §7): whoever closes first sends a Close frame and waits for the peer's; on receiving
 * a Close we answer with one. The server then closes TCP first (§7.1.1), the client waits for that. If
 * the peer never answers, `webSocketCloseTimeoutMs` later the TCP connection is dropped (wasClean false).
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { ProtocolError } from '../../errors.js';
import type { ProtocolEvent } from '../../registry/plugin.js';
import { WebSocketProtocol } from './protocol.js';

export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

export interface WebSocketOptions {
  readonly role: 'server' | 'client';
  readonly maxMessageBytes: number;
  readonly closeTimeoutMs: number;
  /** Send a ping this often; a peer that has not answered with a pong by the next one is dropped. 0 = off. */
  readonly pingIntervalMs?: number;
  /** The subprotocol agreed in the handshake, '' when none. */
  readonly protocol?: string;
  /** Trace hook: one call per frame in and out. */
  readonly emit?: (event: ProtocolEvent) => void;
}

export interface WebSocketEvents {
  message: [data: string | Uint8Array, isBinary: boolean];
  ping: [data: Uint8Array];
  pong: [data: Uint8Array];
  close: [code: number, reason: string, wasClean: boolean];
  error: [error: ProtocolError | Error];
  drain: [];
}

export class WebSocket extends EventEmitter<WebSocketEvents> {
  static readonly CONNECTING = ReadyState.CONNECTING;
  static readonly OPEN = ReadyState.OPEN;
  static readonly CLOSING = ReadyState.CLOSING;
  static readonly CLOSED = ReadyState.CLOSED;

  readonly protocol: string;
  readonly #socket: Duplex;
  readonly #codec: WebSocketProtocol;
  readonly #options: WebSocketOptions;
  #readyState: ReadyState = ReadyState.OPEN;
  #closeTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #awaitingPong = false;
  #closeSent = false;
  #closeReceived: { code: number; reason: string } | undefined;
  #closeEmitted = false;

  constructor(socket: Duplex, options: WebSocketOptions, head: Uint8Array = new Uint8Array(0)) {
    super();
    this.#socket = socket;
    this.#options = options;
    this.protocol = options.protocol ?? '';
    this.#codec = new WebSocketProtocol({ role: options.role, maxMessageBytes: options.maxMessageBytes });
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('end', () => this.#receiveEnd());
    socket.on('close', () => this.#socketClosed());
    socket.on('error', (error: Error) => this.#socketError(error));
    socket.on('drain', () => this.emit('drain'));
    if (options.pingIntervalMs && options.pingIntervalMs > 0) this.#startKeepalive(options.pingIntervalMs);
    // Bytes that arrived with the handshake are the first frames: process them before any later chunk.
    // setImmediate, not a microtask: a client's `await connect()` continuation attaches its listeners in a
    // microtask, and must do so before these first messages are emitted.
    if (head.length > 0) setImmediate(() => { this.#receive(head); socket.resume(); });
    else socket.resume();
  }

  get readyState(): ReadyState { return this.#readyState; }
  /** Bytes accepted by `send` but not yet handed to the kernel. */
  get bufferedAmount(): number { return this.#socket.writableLength; }
  /** Remote address and port for logs. */
  get socket(): Duplex { return this.#socket; }

  /** Send a text (string) or binary (Uint8Array) message. Returns false when the caller should wait for 'drain'. */
  send(data: string | Uint8Array): boolean {
    if (this.#readyState !== ReadyState.OPEN) return false;
    const binary = typeof data !== 'string';
    const frames = binary ? this.#codec.sendBinary(data) : this.#codec.sendText(data);
    this.#trace(binary ? 'binary' : 'text', binary ? data.length : Buffer.byteLength(data), 'out');
    return this.#write(frames);
  }

  ping(data: Uint8Array = new Uint8Array(0)): void {
    if (this.#readyState !== ReadyState.OPEN) return;
    this.#trace('ping', data.length, 'out');
    this.#write(this.#codec.ping(data));
  }

  /** Start the closing handshake (RFC 6455 §7.1.2). Code 1000 by default; reason ≤ 123 bytes of UTF-8. */
  close(code = 1000, reason = ''): void {
    if (this.#readyState === ReadyState.CLOSED || this.#closeSent) return;
    const frames = this.#codec.close(code, reason); // throws UsageError for a code we may not send
    this.#closeSent = true;
    this.#readyState = ReadyState.CLOSING;
    this.#trace('close', 2 + Buffer.byteLength(reason), 'out', `code=${code}`);
    this.#write(frames);
    if (this.#closeReceived) {
      this.#finishClosingHandshake();
    } else {
      this.#closeTimer = setTimeout(() => this.#terminate(1006, 'close handshake timed out'), this.#options.closeTimeoutMs);
      this.#closeTimer.unref();
    }
  }

  /** Drop the TCP connection without a closing handshake. */
  terminate(): void { this.#terminate(1006, 'terminated'); }

  #write(frames: readonly Uint8Array[]): boolean {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return false;
    if (frames.length === 1) return socket.write(frames[0]!);
    socket.cork();
    let ok = true;
    for (const frame of frames) ok = socket.write(frame);
    socket.uncork();
    return ok;
  }

  #receive(chunk: Uint8Array): void {
    if (this.#readyState === ReadyState.CLOSED) return;
    this.#codec.receive(chunk);
    this.#drain();
  }

  #receiveEnd(): void {
    this.#codec.receiveEnd();
    this.#drain();
    // The peer's FIN without a Close frame: abnormal closure (1006) once the socket is gone.
    if (!this.#socket.destroyed) this.#socket.end();
  }

  #drain(): void {
    for (;;) {
      const event = this.#codec.next();
      switch (event.type) {
        case 'need-data':
          return;
        case 'text':
          this.#trace('text', Buffer.byteLength(event.text), 'in');
          if (this.#readyState === ReadyState.OPEN) this.emit('message', event.text, false);
          break;
        case 'binary':
          this.#trace('binary', event.data.length, 'in');
          if (this.#readyState === ReadyState.OPEN) this.emit('message', event.data, true);
          break;
        case 'ping':
          this.#trace('ping', event.data.length, 'in');
          // RFC 6455 §5.5.2: answer with a Pong carrying the same application data, as soon as practical.
          if (!this.#closeSent) this.#write(this.#codec.pong(event.data));
          this.emit('ping', event.data);
          break;
        case 'pong':
          this.#trace('pong', event.data.length, 'in');
          this.#awaitingPong = false;
          this.emit('pong', event.data);
          break;
        case 'close':
          this.#trace('close', 0, 'in', `code=${event.code}${event.reason ? ` reason=${JSON.stringify(event.reason)}` : ''}`);
          this.#closeReceived = { code: event.code, reason: event.reason };
          if (!this.#closeSent) {
            // §5.5.1: echo the status code (and, as ws does, the reason); 1005 means "none was sent", so
            // our reply carries no code either.
            this.#readyState = ReadyState.CLOSING;
            this.#closeSent = true;
            this.#write(event.code === 1005 ? this.#codec.close() : this.#codec.close(event.code, event.reason));
          }
          this.#finishClosingHandshake();
          return;
        case 'error':
          this.#failConnection(event.error);
          return;
      }
    }
  }

  /** §7.1.1: the server closes TCP first; a client waits a moment for that before closing itself. */
  #finishClosingHandshake(): void {
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    if (this.#options.role === 'server') {
      this.#socket.end();
      this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#options.closeTimeoutMs);
    } else {
      this.#closeTimer = setTimeout(() => this.#socket.end(), this.#options.closeTimeoutMs);
    }
    this.#closeTimer.unref();
  }

  /** §7.1.7 "Fail the WebSocket Connection": send a Close with the error's code, then drop TCP. */
  #failConnection(error: ProtocolError): void {
    this.#trace('error', 0, 'in', `${error.code} → close ${error.closeCode}`);
    this.emit('error', error);
    // 1006 means the stream is gone: there is nobody to send a Close frame to (§7.1.5).
    if (!this.#closeSent && error.closeCode !== 1006 && this.#socket.writable) {
      this.#closeSent = true;
      this.#readyState = ReadyState.CLOSING;
      this.#write(this.#codec.close(error.closeCode, ''));
    }
    this.#closeReceived ??= { code: error.closeCode, reason: error.message };
    this.#socket.end();
    this.#closeTimer ??= setTimeout(() => this.#socket.destroy(), this.#options.closeTimeoutMs);
    this.#closeTimer.unref();
    this.#reportClose(error.closeCode, '', false);
  }

  #socketError(error: Error): void {
    if (!this.#closeEmitted && this.listenerCount('error') > 0) this.emit('error', error);
  }

  #socketClosed(): void {
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    const received = this.#closeReceived;
    const clean = this.#closeSent && received !== undefined;
    this.#reportClose(received?.code ?? 1006, received?.reason ?? '', clean);
  }

  #terminate(code: number, reason: string): void {
    this.#socket.destroy();
    this.#reportClose(code, reason, false);
  }

  #reportClose(code: number, reason: string, wasClean: boolean): void {
    this.#readyState = ReadyState.CLOSED;
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    if (this.#pingTimer) clearInterval(this.#pingTimer);
    this.emit('close', code, reason, wasClean);
  }

  #startKeepalive(intervalMs: number): void {
    this.#pingTimer = setInterval(() => {
      if (this.#awaitingPong) {
        this.#trace('keepalive', 0, 'out', 'no pong in time: dropping the peer');
        this.#terminate(1006, 'keepalive: no pong in time');
        return;
      }
      this.#awaitingPong = true;
      this.ping();
    }, intervalMs);
    this.#pingTimer.unref();
  }

  #trace(kind: string, length: number, direction: 'in' | 'out', extra = ''): void {
    const emit = this.#options.emit;
    if (emit) emit({ kind, detail: `len=${length}${extra ? ' ' + extra : ''}`, direction });
  }
}
