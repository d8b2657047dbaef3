/**
 * The only WebSocket file that touches a socket. `WebSocket` wraps a connected stream (server side after
 * the 101, or client side after verifying it) around the sans-IO `WebSocketProtocol`: bytes in →
 * protocol events → user events; user calls → frames → one `write` (or a corked pair for big payloads).
 *
 * Shape as users know it from browsers and `ws`: `send`, `close`, `ping`, `terminate`, `readyState`,
 * `bufferedAmount`, events `message` (text as string, binary as Uint8Array, kept apart by `isBinary`),
 * `close` (code, reason, wasClean), `error`, `ping`, `pong`, and `drain` for backpressure: `send` returns
 * false once the socket's buffer is over its high-water mark, and `drain` says when it has emptied.
 *
 * Closing (RFC 6455 §7), in the order things happen:
 * - `close()` sends a Close frame (§7.1.2) and waits `closeTimeoutMs` for the peer's; no answer → the TCP
 *   connection is dropped and `close` reports 1006, wasClean false.
 * - A received Close is answered with a Close echoing its code (§5.5.1); whatever arrives after it is
 *   ignored. Once both Close frames have passed, the server closes TCP first (§7.1.1: "the underlying TCP
 *   connection, in most normal cases, SHOULD be closed first by the server") and gives the client
 *   `closeTimeoutMs` to close its half; a client waits that long for the server to do so, then drops it.
 * - A peer that breaks the protocol is failed (§7.1.7): a Close with the error's code (1002, 1007, 1009)
 *   and a short reason, then our half of TCP is closed at once; input is still read and discarded, so the
 *   kernel never answers the peer's last frames with a reset that could destroy our Close on its way.
 * - A peer that vanishes (FIN or reset without a Close frame) ends as 1006, wasClean false (§7.1.5).
 *
 * `close` is emitted once, when the TCP connection is gone, with the code of the Close frame received
 * (1005 if it had none), the code we failed the connection with, or 1006. `error` is emitted for
 * protocol violations and socket errors, only when someone listens: a misbehaving peer must never be
 * able to crash the process through an unhandled 'error' event; the close code tells the story anyway.
 */
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { type ProtocolError, UsageError } from '../../errors.js';
import { closeWhenFlushed } from '../../socket-close.js';
import { noteReadSize } from '../../read-buffer-pages.js';
import type { ConnectionHooks } from '../../registry/plugin.js';
import { CloseCode } from './close-codes.js';
import { frameEvent, lazyEvent } from './frame-trace.js';
import { describeDeflate } from './deflate-negotiation.js';
import type { DeflateSetup } from './permessage-deflate.js';
import { WebSocketProtocol } from './protocol.js';

export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

export interface WebSocketOptions {
  readonly role: 'server' | 'client';
  readonly maxMessageBytes: number;
  /** How long each step of the closing handshake may take before the TCP connection is dropped. */
  readonly closeTimeoutMs: number;
  /** Send a ping this often; a peer that has not answered with a pong by the next one is dropped. 0 = off. */
  readonly pingIntervalMs?: number;
  /** The subprotocol agreed in the handshake, '' when none. */
  readonly protocol?: string;
  /**
   * The connection's hooks (`ctx.hooks` on a server): `emit` gets one `frame` event per frame in and out
   * plus `message`, `close`, `error`, `keepalive`, built only while `isTracing()`; `noteServerClose` hears
   * why this side ends the connection (our Close, a protocol error, a drop), for the connection table.
   */
  readonly hooks?: WebSocketHooks;
  /** permessage-deflate as agreed in the handshake (RFC 7692); absent: no extension. */
  readonly deflate?: DeflateSetup;
  /** False: the bytes that came with the handshake wait for `processEarlyBytes()`. Default: the next turn. */
  readonly deferHead?: boolean;
}

export type WebSocketHooks = Pick<ConnectionHooks, 'emit' | 'isTracing' | 'noteServerClose'>;

export interface WebSocketEvents {
  message: [data: string | Uint8Array, isBinary: boolean];
  ping: [data: Uint8Array];
  pong: [data: Uint8Array];
  close: [code: number, reason: string, wasClean: boolean];
  error: [error: ProtocolError | Error];
  drain: [];
}

/**
 * A consumer of binary messages piece by piece (`ws.binaryStream`), for relays that pass the bytes on as
 * they come instead of holding a whole message: the pieces are views of the socket's reads, never joined
 * (a message larger than one read would otherwise be copied once more). A shared object, called with the
 * WebSocket, so that streaming costs no closure per connection.
 */
export interface BinaryStream {
  /**
   * A binary frame begins, with `data` its first piece (empty only for an empty frame); the rest of its
   * `length` bytes follow as pieces. `first`/`fin` as in RFC 6455 §5.4. A message that arrived whole in
   * one read comes as a `message` event instead: there is no join to save.
   */
  frame(ws: WebSocket, length: number, first: boolean, fin: boolean, data: Uint8Array): void;
  /** The next piece of that frame's payload, already unmasked. Owned by the callee from here. */
  piece(ws: WebSocket, data: Uint8Array): void;
}

/** §5.5: a Close payload is at most 125 bytes, 2 of them the code. */
const MAX_REASON_BYTES = 123;

export class WebSocket extends EventEmitter<WebSocketEvents> {
  static readonly CONNECTING = ReadyState.CONNECTING;
  static readonly OPEN = ReadyState.OPEN;
  static readonly CLOSING = ReadyState.CLOSING;
  static readonly CLOSED = ReadyState.CLOSED;

  readonly protocol: string;
  /**
   * The extensions agreed in the handshake, or ''. In full (`describeDeflate`): both window bits are
   * listed even where the 101 left them out (absent means 15, RFC 7692 §7.1.2), so it may be longer than
   * the header a browser's `extensions` reports.
   */
  readonly extensions: string;
  readonly #socket: Duplex;
  /** Made on first use (see #wire): a connection that never exchanges a frame never pays for a codec. */
  #codec: WebSocketProtocol | undefined;
  readonly #role: 'server' | 'client';
  readonly #maxMessageBytes: number;
  readonly #deflate: DeflateSetup | undefined;
  readonly #closeTimeoutMs: number;
  readonly #hooks: WebSocketHooks | undefined;
  #readyState: ReadyState = ReadyState.OPEN;
  #closeTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #awaitingPong = false;
  /** The peer's Close frame, once received. */
  #closeReceived: { code: number; reason: string } | undefined;
  /** Set when we failed the connection (§7.1.7): the code and reason we sent. */
  #failure: { code: number; reason: string } | undefined;
  /** Set when we dropped TCP without finishing the closing handshake. */
  #dropped = false;
  /** The codec reported an error; errors are sticky, so it has nothing more to say. */
  #codecFailed = false;
  #closeEmitted = false;
  /** Both Close frames have passed on a server: TCP closes once the reply is flushed (#closeOnceFlushed). */
  #closeWhenFlushed = false;
  #binaryStream: BinaryStream | undefined;
  /** Payload bytes still owed to the socket for a frame begun with sendFrameStart. */
  #outRemaining = 0;
  /** That frame was refused (the connection is closing): its pieces are counted and dropped. */
  #outDiscarding = false;
  /** Frames written while a streamed frame was open: they follow it, since frames cannot interleave (§5.4). */
  #held: Array<readonly Uint8Array[]> | undefined;
  /** Chunks that arrived with or right after the handshake, until they are processed in order. */
  #early: Uint8Array[] | undefined;

  // The socket's listeners are shared by every WebSocket (the WebSocket rides on its socket): five
  // closures per connection would be most of what an idle connection costs.
  static readonly #onData = function (this: SocketWithSession, chunk: Buffer): void { this[kSession].#receive(chunk); };
  static readonly #onEnd = function (this: SocketWithSession): void { this[kSession].#receiveEnd(); };
  static readonly #onSocketClose = function (this: SocketWithSession): void { this[kSession].#socketClosed(); };
  static readonly #onError = function (this: SocketWithSession, error: Error): void { this[kSession].#emitError(error); };
  static readonly #onDrain = function (this: SocketWithSession): void { this[kSession].emit('drain'); };

  constructor(socket: Duplex, options: WebSocketOptions, head: Uint8Array = new Uint8Array(0)) {
    super();
    // EventEmitter keeps listeners in a `{ __proto__: null }` literal, which V8 stores in dictionary mode:
    // ~350 bytes per emitter, the largest single cost of an idle connection. An object from a constructor
    // whose prototype is an empty null-prototype object behaves the same (no inherited keys such as
    // `constructor` can be mistaken for listeners) and stays a compact fast-mode object.
    (this as unknown as { _events: object })._events = new ListenerSlots();
    this.#socket = socket;
    this.#closeTimeoutMs = options.closeTimeoutMs;
    const hooks = options.hooks;
    this.#hooks = hooks;
    this.protocol = options.protocol ?? '';
    this.extensions = options.deflate === undefined ? '' : describeDeflate(options.deflate.params);
    // The codec is made later, so what it would refuse is refused here, where the caller can see it.
    if (options.role !== 'server' && options.role !== 'client') {
      throw new UsageError('ERR_INVALID_ROLE', `role must be 'server' or 'client', got ${String(options.role)}`);
    }
    if (!Number.isSafeInteger(options.maxMessageBytes) || options.maxMessageBytes < 0) {
      throw new UsageError('ERR_INVALID_LIMIT', 'maxMessageBytes must be a non-negative integer');
    }
    this.#role = options.role;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#deflate = options.deflate;
    (socket as SocketWithSession)[kSession] = this;
    socket.on('data', WebSocket.#onData);
    socket.on('end', WebSocket.#onEnd);
    socket.on('close', WebSocket.#onSocketClose);
    socket.on('error', WebSocket.#onError);
    socket.on('drain', WebSocket.#onDrain);
    if (options.pingIntervalMs !== undefined && options.pingIntervalMs > 0) this.#startKeepalive(options.pingIntervalMs);
    // Bytes that arrived with the handshake are the first frames: they are processed before any later
    // chunk, which waits behind them. setImmediate, not a microtask: a client's `await connect()`
    // continuation attaches its listeners in a microtask, and must do so before these first messages are
    // emitted. The socket is resumed now, not later, so a `ws.socket.pause()` made meanwhile holds.
    if (head.length > 0) {
      this.#early = [head];
      if (options.deferHead !== false) setImmediate(() => this.processEarlyBytes());
    }
    socket.resume();
  }

  /**
   * Process the bytes that came with the handshake now. With `deferHead: false` the owner calls this
   * once its listeners are attached (the server plugin does, right after `onConnection`, so answers to a
   * client's first frames leave in the same write as the 101); otherwise it happens on the next turn.
   */
  processEarlyBytes(): void {
    const early = this.#early;
    if (early === undefined) return;
    this.#early = undefined;
    for (const chunk of early) this.#receive(chunk);
  }

  get readyState(): ReadyState { return this.#readyState; }
  /** Bytes accepted by `send` (and our control frames) but not yet handed to the kernel. */
  get bufferedAmount(): number { return this.#socket.writableLength; }
  /** The underlying stream, e.g. to pause reading while a consumer is slow. */
  get socket(): Duplex { return this.#socket; }

  /**
   * Send a text (string) or binary (Uint8Array) message. Returns false when the message was queued past
   * the socket's high-water mark (wait for `drain` before sending more), or was not sent at all because
   * the connection is closing or closed (a `close` event follows or has happened).
   */
  send(data: string | Uint8Array): boolean {
    if (this.#readyState !== ReadyState.OPEN) return false;
    const binary = typeof data !== 'string';
    const tracing = this.#observeFrames();
    const frames = binary ? this.#wire.sendBinary(data) : this.#wire.sendText(data);
    if (tracing) {
      const codec = this.#wire;
      const line = describeMessage(binary ? 'binary' : 'text', binary ? data.length : Buffer.byteLength(data), codec);
      this.#hooks!.emit(lazyEvent('message', 'out', () => line));
    }
    return this.#write(frames);
  }

  /**
   * Receive uncompressed binary messages through `stream` piece by piece instead of as `message` events.
   * Set it in `onConnection`, before messages flow: a message already being streamed when it is changed
   * delivers its remaining pieces to the new value (none, if undefined). Text and compressed messages
   * still come as `message`; the size limit is still checked at each frame header, before any piece.
   */
  set binaryStream(stream: BinaryStream | undefined) {
    this.#binaryStream = stream;
    if (this.#codec !== undefined) this.#codec.streamBinary = stream !== undefined;
  }

  get binaryStream(): BinaryStream | undefined { return this.#binaryStream; }

  /**
   * Begin sending one binary frame of `length` bytes (server only), whose payload follows through
   * `sendFramePiece`; the first frame of a message is Binary, later ones Continuation, `fin` ends it. Until
   * all `length` bytes are written, pongs and Close frames wait behind it, so write them before returning
   * from the callback that received them. Returns false as `send` does.
   */
  sendFrameStart(length: number, fin: boolean): boolean {
    if (this.#outRemaining > 0) throw new UsageError('ERR_FRAME_IN_PROGRESS', 'the previous streamed frame is not complete');
    if (this.#readyState !== ReadyState.OPEN) {
      this.#outRemaining = length;
      this.#outDiscarding = length > 0;
      return false;
    }
    this.#observeFrames();
    const ok = this.#write([this.#wire.sendFrameHeader(length, fin)]);
    this.#outRemaining = length;
    return ok;
  }

  /** The next bytes of the frame begun with `sendFrameStart` (no copy: `data` must not change until written). */
  sendFramePiece(data: Uint8Array): boolean {
    if (data.length > this.#outRemaining) throw new UsageError('ERR_FRAME_OVERRUN', 'more bytes than the streamed frame declared');
    this.#outRemaining -= data.length;
    if (this.#outDiscarding) {
      this.#outDiscarding = this.#outRemaining > 0;
      return false;
    }
    const socket = this.#socket;
    const ok = !socket.destroyed && socket.writable && socket.write(data);
    if (this.#outRemaining === 0 && this.#held !== undefined) {
      const held = this.#held;
      this.#held = undefined;
      for (const frames of held) this.#write(frames);
    }
    return ok;
  }

  /** Send a ping (payload ≤ 125 bytes, §5.5). The peer's pong arrives as a `pong` event. */
  ping(data: Uint8Array = new Uint8Array(0)): void {
    if (this.#readyState !== ReadyState.OPEN) return;
    this.#observeFrames();
    this.#write(this.#wire.ping(data));
  }

  /**
   * Start the closing handshake (RFC 6455 §7.1.2). Code 1000 by default; reason ≤ 123 bytes of UTF-8.
   * Throws UsageError for a code that may not be sent (1005, 1006, 1015, below 1000, ...). Does nothing
   * once closing has begun.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.#readyState !== ReadyState.OPEN) return;
    this.#observeFrames();
    const frames = this.#wire.close(code, reason); // throws before anything changes
    this.#readyState = ReadyState.CLOSING;
    this.#hooks?.noteServerClose(`sent Close ${describeClose(code, reason)}`);
    this.#trace('close', 'out', () => describeClose(code, reason));
    this.#write(frames);
    // §7.1.2 leaves the wait open-ended; a peer that never answers must not hold the connection forever.
    this.#armCloseTimer(() => this.#drop('close handshake timed out'));
  }

  /** Drop the TCP connection at once, without a closing handshake (`close` reports 1006). */
  terminate(): void { this.#drop('terminated'); }

  #write(frames: readonly Uint8Array[]): boolean {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return false;
    if (this.#outRemaining > 0 && !this.#outDiscarding) {
      (this.#held ??= []).push(frames);
      return true;
    }
    if (frames.length === 1) return socket.write(frames[0]!);
    socket.cork();
    let ok = true;
    for (const frame of frames) ok = socket.write(frame);
    socket.uncork();
    return ok;
  }

  #receive(chunk: Uint8Array): void {
    noteReadSize(chunk.length);
    if (this.#early !== undefined) { this.#early.push(chunk); return; }
    if (this.#readyState === ReadyState.CLOSED) return;
    this.#observeFrames();
    this.#wire.receive(chunk);
    // Everything this chunk makes us send (echoes, pongs, replies sent from 'message' handlers) leaves in
    // one writev instead of one write per frame: a chunk of 16 small frames costs one syscall, not 16.
    const socket = this.#socket;
    socket.cork();
    try {
      this.#process();
    } finally {
      socket.uncork();
    }
    this.#closeOnceFlushed();
  }

  #receiveEnd(): void {
    if (this.#early !== undefined) { setImmediate(() => this.#receiveEnd()); return; }
    this.#wire.receiveEnd();
    this.#process();
    this.#closeOnceFlushed();
    // The peer closed its half (after its Close frame, or vanishing without one): close ours.
    this.#endSocket();
  }

  #process(): void {
    if (this.#codecFailed) return;
    for (;;) {
      const event = this.#wire.next();
      switch (event.type) {
        case 'need-data':
          return;
        case 'text':
          // After our close() the peer may still have messages in flight (§7.1.2: it keeps sending until it
          // reads our Close); they are delivered, as ws does, so `echo hi | connect` still sees its echo.
          // After terminate() or a keepalive drop nothing more is delivered.
          if (this.#dropped || this.#readyState === ReadyState.CLOSED) break;
          if (this.#tracing) {
            const line = describeMessage('text', Buffer.byteLength(event.text), this.#wire);
            this.#trace('message', 'in', () => line);
          }
          this.emit('message', event.text, false);
          break;
        case 'binary':
          if (this.#dropped || this.#readyState === ReadyState.CLOSED) break;
          if (this.#tracing) {
            const line = describeMessage('binary', event.data.length, this.#wire);
            this.#trace('message', 'in', () => line);
          }
          this.emit('message', event.data, true);
          break;
        case 'binary-frame':
          if (this.#dropped || this.#readyState === ReadyState.CLOSED) break;
          if (this.#tracing) {
            const line = `binary frame ${event.length} B${event.fin ? '' : ', more to come'} (streamed)`;
            this.#trace('message', 'in', () => line);
          }
          this.#binaryStream?.frame(this, event.length, event.first, event.fin, event.data);
          break;
        case 'binary-piece':
          if (this.#dropped || this.#readyState === ReadyState.CLOSED) break;
          this.#binaryStream?.piece(this, event.data);
          break;
        case 'ping':
          // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response, unless
          // it already received a Close frame" (and after our own Close we may send nothing, §5.5.1).
          if (!this.#wire.closeSent) this.#write(this.#wire.pong(event.data));
          this.emit('ping', event.data);
          break;
        case 'pong':
          // §5.5.3: a pong answers a ping, or is unsolicited (a heartbeat); either way it proves the peer is there.
          this.#awaitingPong = false;
          this.emit('pong', event.data);
          break;
        case 'close':
          this.#onClose(event.code, event.reason);
          return;
        case 'error':
          this.#codecFailed = true;
          this.#fail(event.error);
          return;
      }
    }
  }

  #onClose(code: number, reason: string): void {
    this.#closeReceived = { code, reason };
    this.#trace('close', 'in', () => describeClose(code, reason));
    if (!this.#wire.closeSent) {
      // §5.5.1: "the endpoint MUST send a Close frame in response ... typically echos the status code it
      // received"; like ws we echo the reason too, so the initiator's `close` event shows its own words.
      // 1005 means the peer sent no code, so our answer carries none either.
      this.#readyState = ReadyState.CLOSING;
      this.#trace('close', 'out', () => code === CloseCode.NoStatusReceived ? 'no code' : describeClose(code, reason));
      this.#write(code === CloseCode.NoStatusReceived ? this.#wire.close() : this.#wire.close(code, reason));
    }
    // Both Close frames have now passed. §7.1.1: the server closes TCP first; the client gives it time.
    // The peer may send nothing after its Close (§5.5.1), so the server need not wait to read the peer's
    // FIN: once our last bytes are flushed the socket is destroyed (one read and one wake-up fewer). The
    // reply may still sit in the cork of the chunk being processed: #closeOnceFlushed runs after it.
    this.#discardInput();
    if (this.#role === 'server') {
      this.#closeWhenFlushed = true;
      return;
    }
    this.#armCloseTimer(() => this.#socket.destroy());
  }

  /** The server's end of a completed closing handshake, once the Close reply has left the cork. */
  #closeOnceFlushed(): void {
    if (!this.#closeWhenFlushed) return;
    this.#closeWhenFlushed = false;
    const socket = this.#socket;
    closeWhenFlushed(socket);
    // A peer that does not read could keep the reply (and 'finish') waiting forever.
    if (!socket.destroyed) this.#armCloseTimer(() => socket.destroy());
  }

  /** §7.1.7 "Fail the WebSocket Connection": a Close with the error's code, then close our half of TCP. */
  #fail(error: ProtocolError): void {
    if (error.closeCode === CloseCode.AbnormalClosure) {
      // The stream ended without a Close frame: there is nobody to send one to (§7.1.5). Not an 'error':
      // the peer vanishing is an ordinary way for a connection to end, reported as 1006 by `close`.
      return;
    }
    this.#trace('error', 'in', () => `${error.code}: ${error.message} → close ${error.closeCode}`);
    this.#hooks?.noteServerClose(`${error.code} → Close ${error.closeCode}`);
    if (!this.#wire.closeSent) {
      const reason = truncateUtf8(error.message, MAX_REASON_BYTES);
      this.#failure = { code: error.closeCode, reason };
      this.#write(this.#wire.close(error.closeCode, reason));
    } else {
      // We had already sent our Close; what we report is still the violation, not the peer's silence.
      this.#failure = { code: error.closeCode, reason: '' };
    }
    this.#readyState = ReadyState.CLOSING;
    this.#endSocket();
    this.#armCloseTimer(() => this.#socket.destroy());
    this.#discardInput();
    this.#emitError(error);
  }

  /** Close our half of TCP (FIN), once: a second end() costs an ERR_STREAM_ALREADY_FINISHED object. */
  #endSocket(): void {
    const socket = this.#socket;
    if (!socket.destroyed && !socket.writableEnded) socket.end();
  }

  /** Keep reading (the codec ignores it all now), so unread input cannot turn our FIN into a reset. */
  #discardInput(): void {
    if (!this.#socket.destroyed) this.#socket.resume();
  }

  #drop(why: string): void {
    if (this.#socket.destroyed) return;
    this.#hooks?.noteServerClose(why);
    this.#dropped = true;
    // CLOSING until the socket's 'close' (a tick away): no more messages out of what was already read.
    this.#readyState = ReadyState.CLOSING;
    this.#trace('drop', undefined, () => why);
    this.#socket.destroy();
  }

  #armCloseTimer(onTimeout: () => void): void {
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = setTimeout(onTimeout, this.#closeTimeoutMs);
    this.#closeTimer.unref();
  }

  #emitError(error: Error): void {
    if (!this.#closeEmitted && this.listenerCount('error') > 0) this.emit('error', error);
  }

  #socketClosed(): void {
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    this.#readyState = ReadyState.CLOSED;
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    const received = this.#closeReceived;
    const failure = this.#failure;
    if (failure !== undefined) {
      this.emit('close', failure.code, failure.reason, false);
    } else if (received !== undefined) {
      // §7.1.6 / WHATWG "wasClean": the closing handshake completed and TCP closed afterwards.
      this.emit('close', received.code, received.reason, this.#codec !== undefined && this.#codec.closeSent && !this.#dropped);
    } else {
      // §7.1.5: no Close frame received → 1006.
      this.emit('close', CloseCode.AbnormalClosure, '', false);
    }
  }

  #startKeepalive(intervalMs: number): void {
    this.#pingTimer = setInterval(() => {
      // While closing, the close timer is in charge.
      if (this.#readyState !== ReadyState.OPEN) return;
      if (this.#awaitingPong) {
        this.#trace('keepalive', 'out', () => `no pong within ${intervalMs} ms: dropping the peer`);
        this.#drop('keepalive: no pong in time');
        return;
      }
      this.#awaitingPong = true;
      this.ping();
    }, intervalMs);
    this.#pingTimer.unref();
  }

  /** The sans-IO codec, made on first use with no frame observer (see #observeFrames). */
  get #wire(): WebSocketProtocol {
    if (this.#codec !== undefined) return this.#codec;
    this.#codec = new WebSocketProtocol(this.#deflate === undefined
      ? { role: this.#role, maxMessageBytes: this.#maxMessageBytes }
      : { role: this.#role, maxMessageBytes: this.#maxMessageBytes, deflate: this.#deflate });
    if (this.#binaryStream !== undefined) this.#codec.streamBinary = true;
    return this.#codec;
  }

  /**
   * Frame events cost a closure and an object per frame, so the codec observes frames only while someone
   * reads the trace: checked whenever bytes come in or a message, ping or close goes out. Returns whether
   * the trace is being read, so the caller need not ask again.
   */
  #observeFrames(): boolean {
    const hooks = this.#hooks;
    if (hooks === undefined) return false;
    const tracing = hooks.isTracing();
    const codec = this.#wire;
    if (tracing !== (codec.onFrame !== undefined)) {
      codec.onFrame = tracing ? (header, direction) => hooks.emit(frameEvent(header, direction)) : undefined;
    }
    return tracing;
  }

  get #tracing(): boolean {
    return this.#hooks !== undefined && this.#hooks.isTracing();
  }

  #trace(kind: string, direction: 'in' | 'out' | undefined, describe: () => string): void {
    if (this.#tracing) this.#hooks!.emit(lazyEvent(kind, direction, describe));
  }
}

const kSession = Symbol('switchyard.webSocket');

/** See the constructor: a fast-mode home for EventEmitter's listeners, with nothing inherited. */
const ListenerSlots = function ListenerSlots() {} as unknown as new () => object;
ListenerSlots.prototype = Object.create(null);
type SocketWithSession = Duplex & { [kSession]: WebSocket };

/**
 * `text 5 B`, or with permessage-deflate the size on the wire too: `text 1024 B (deflated to 87 B)`,
 * `text 10 B (uncompressed)` for one under the threshold.
 */
function describeMessage(kind: string, length: number, codec: WebSocketProtocol): string {
  if (!codec.compressing) return `${kind} ${length} B`;
  return `${kind} ${length} B (${codec.lastMessageCompressed ? `deflated to ${codec.lastMessageWireBytes} B` : 'uncompressed'})`;
}

function describeClose(code: number, reason: string): string {
  return `code=${code}${reason === '' ? '' : ` reason=${JSON.stringify(reason)}`}`;
}

/** The longest prefix of `text` that is at most `max` bytes of UTF-8 and ends on a whole character. */
function truncateUtf8(text: string, max: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let end = max;
  // bytes[end] is the first byte left out; if it continues a character, leave that whole character out.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
