import type { Duplex } from 'node:stream';
import type { FiveTuple } from '../accept-loop/five-tuple.js';
import type { Field, RequestHead } from '../http/request-head.js';
import type { Limits } from '../limits.js';

/**
 * The contract between the accept loop and an Upgrade protocol. It is deliberately small:
 *
 * 1. `handshake(ctx)` — the request is complete (its body, if any, was read: RFC 9110 §7.8) and the
 *    client offered this handler's token. Return `accept` (with extra 101 headers and any state to carry
 *    over), `decline` (the loop tries the client's next offered token, then serves plain HTTP), or
 *    `reject` (the loop answers with that status and closes). Omit it to always accept. Throwing or
 *    rejecting makes the loop answer 500 and close: a buggy plugin costs its own request, nothing more.
 * 2. The loop writes `101 Switching Protocols` with `Connection: Upgrade` and `Upgrade: <token>`, stops
 *    parsing HTTP, removes its listeners and timers, and calls `takeover(ctx)`. From then on the handler
 *    owns `ctx.socket` (paused: resume it or attach a 'data' listener). `ctx.head` holds every byte the
 *    client sent after the request — already part of the new protocol, often its first message.
 * 3. When the promise returned by `takeover` settles (or it throws), the loop destroys the socket if it is
 *    still open, so a handler cannot leak sockets. `ctx.signal` aborts when the server shuts down: say
 *    goodbye in the protocol's own terms (WebSocket sends 1001) and end.
 *
 * A handler whose own listeners always end the socket (WebSocket closes, fails or drops it) may say so
 * with `managesSocket: true`: the loop then destroys the socket only if `takeover` throws, and keeps no
 * promise for it. With its goodbye registered through `ctx.hooks.onShutdown` instead of a listener on
 * `signal`, such a connection costs the loop nothing but its table row (docs/performance.md).
 *
 * The same handler answers over HTTP/2, unchanged (RFC 8441). The server announces
 * SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (§3); a stream that opens with `:method CONNECT` and
 * `:protocol <token>` (§4) goes through the same registry as `Upgrade: <token>`, with `ctx.request` built
 * from its pseudo-headers (`:path` is the path). `handshake` decides as above, and the answer is the
 * stream's `:status`: accept → 200 (HTTP/2 has no 101, RFC 9113 §8.6) with your headers minus the
 * connection-specific ones (§8.2.2: `Connection`, `Upgrade`, …), reject → your status; there are no
 * other offers to try, so `decline` (and a token nobody registered) → 501; a throw → 500, no decision
 * within `handshakeTimeoutMs` → 503. Each refusal or failure ends that stream, never the connection.
 * Then `takeover` gets the stream as `ctx.socket`. Why bother: on HTTP/1.1 an upgrade takes the whole TCP connection, and a
 * second protocol needs a second connection (another client port, another row); over HTTP/2 one
 * connection, one 5-tuple, carries many streams at once, each its own request or protocol (RFC 9113
 * §5), so a WebSocket, a `lab-chat/1` session and plain requests share it. See `TakeoverContext` for
 * what a handler may and may not assume of a stream, and docs/plugins.md ("One plugin, served both ways").
 */
export interface ProtocolHandler<State = unknown> {
  /** Upgrade token, `name` or `name/version` (RFC 9110 §7.8), e.g. `websocket`, `TLS/1.0`, `lab-chat/1`. */
  readonly token: string;
  /** One line for `/protocols` and the dashboard. */
  readonly description?: string;
  handshake?(ctx: HandshakeContext): HandshakeDecision<State> | Promise<HandshakeDecision<State>>;
  takeover(ctx: TakeoverContext<State>): void | Promise<void>;
  /**
   * True when `takeover`'s own listeners always end the socket: what `takeover` returns is then not
   * waited on (nothing is destroyed when it returns), only a throw makes the loop destroy the socket.
   */
  readonly managesSocket?: boolean;
  /** Called once when the handler is unregistered or the server closes: release shared resources. */
  close?(): void | Promise<void>;
}

export interface HandshakeContext {
  readonly request: RequestHead;
  /** The client's offer that matched this handler, exactly as sent (e.g. `WebSocket` or `lab-chat/1`). */
  readonly offered: string;
  readonly fiveTuple: FiveTuple;
  readonly limits: Limits;
  /**
   * True when the request came over TLS: the port's own (the client's first byte was 0x16) or an earlier
   * in-band `TLS/1.0` upgrade. A handler serves both alike; only a protocol that adds TLS needs to ask.
   */
  readonly secure: boolean;
}

export type HandshakeDecision<State = unknown> =
  | { readonly action: 'accept'; readonly headers?: readonly Field[]; readonly state?: State }
  | { readonly action: 'decline' }
  | { readonly action: 'reject'; readonly status: number; readonly headers?: readonly Field[]; readonly body?: string };

/**
 * What `takeover` gets. A handler may assume only what `Duplex` promises of `socket`: read it (it starts
 * paused), write it (`write()` returning false means wait for 'drain'), `end()` it (a half-close: the
 * peer may still send), `destroy()` it, and 'end' / 'close' / 'error'. That is all the carriers share,
 * and there are three:
 *
 * - HTTP/1.1 after a 101: a `net.Socket`, the whole TCP connection. `end()` sends a FIN, and once the
 *   handler is done the connection is closed: nothing else can use it (one connection, one protocol).
 * - The same inside TLS (the port's own, or after a `TLS/1.0` upgrade): a `tls.TLSSocket`; the bytes you
 *   read and write are clear text, TLS is below you.
 * - HTTP/2 after an extended CONNECT's 200 (RFC 8441 §4): a node:http2 `ServerHttp2Stream`, one stream
 *   of a connection that may carry others at the same time. So, over HTTP/2:
 *   - it is not a socket: there is no `setNoDelay`, `setKeepAlive`, `remoteAddress`/`remotePort` or
 *     `encrypted` on it (the TCP socket under it belongs to the session and all its streams). The
 *     connection's 5-tuple is `fiveTuple`, the same for every stream of that connection; a handler that
 *     names its clients by it (`lab-chat/1` does) gives two streams of one connection one name.
 *   - `head` is empty: HTTP/2 framing delivers a stream's bytes only as DATA frames after its HEADERS,
 *     so nothing can arrive glued to the request the way early bytes follow an HTTP/1.1 request.
 *   - `request.version` is `'2'`, `request.method` is `CONNECT`; `request.path` and `request.host` come
 *     from `:path` and `:authority`.
 *   - `end()` sends END_STREAM and `destroy()` resets (RST_STREAM) that stream only; when the handler is
 *     done the loop destroys that stream only: the connection and its other streams go on (RFC 9113
 *     §5.1). Writes are paced by the stream's flow-control window (§5.2, `limits.http2InitialWindowBytes`)
 *     as well as by TCP, and the same 'drain' tells you when to write again.
 *   - `hooks`, `emit`, `noteServerClose` and `onShutdown` are the stream's: trace lines carry the stream
 *     id, the close reason is the stream's row, each stream gets its own goodbye at shutdown.
 *   - `continueHttp` rejects: a stream cannot carry HTTP/1.1 again, so a protocol that needs the whole
 *     connection (`TLS/1.0`, RFC 2817) cannot run on a stream.
 */
export interface TakeoverContext<State = unknown> {
  readonly request: RequestHead;
  /**
   * The connection, paused: the raw connected socket (or a TLS socket over it), or over HTTP/2 the
   * stream. Only the `Duplex` surface is common to them (see above).
   */
  readonly socket: Duplex;
  /**
   * Bytes received after the end of the request: the new protocol's first bytes. Possibly empty, never
   * absent. Always empty over HTTP/2, where no byte can come with the request.
   */
  readonly head: Uint8Array;
  /** The TCP connection's 5-tuple; over HTTP/2, the connection that carries this stream (and others). */
  readonly fiveTuple: FiveTuple;
  readonly limits: Limits;
  /** The token written in the 101's `Upgrade` field (over HTTP/2: the handler's token the `:protocol` matched). */
  readonly protocol: string;
  /** Whatever `handshake` returned as `state`. */
  readonly state: State | undefined;
  /** Aborted when the server shuts down gracefully. */
  readonly signal: AbortSignal;
  /**
   * `emit`, `isTracing` and `noteServerClose` below, plus shutdown registration, as methods of one object
   * that lives as long as the connection anyway: keep this (not the closures) in per-connection state.
   */
  readonly hooks: ConnectionHooks;
  /** Report a protocol-level event (frames, messages) to the trace and the dashboard. */
  readonly emit: (event: ProtocolEvent) => void;
  /** Whether anyone is reading `emit`'s events right now: skip building them when not (hot paths). */
  readonly isTracing: () => boolean;
  /**
   * Say why this server is ending the connection (a keepalive drop, a protocol error, shutdown), so the
   * connection table and the trace show "closed by server: <reason>" instead of blaming the peer. The
   * first explanation given for a connection wins.
   */
  readonly noteServerClose: (reason: string) => void;
  /**
   * For protocols that carry HTTP again (RFC 2817's `TLS/1.0`): serve HTTP/1.1 on `stream` with the
   * server's routes and registry, so it can upgrade once more. `pending` is a request to answer first
   * (RFC 2817 §3.3: the original request is answered over the new protocol). Resolves when that HTTP
   * session ends.
   */
  readonly continueHttp: (stream: Duplex, options?: { pending?: RequestHead; initial?: Uint8Array }) => Promise<void>;
}

/** What a protocol handler tells the loop about its connection, as methods (no closures to keep). */
export interface ConnectionHooks {
  emit(event: ProtocolEvent): void;
  isTracing(): boolean;
  noteServerClose(reason: string): void;
  /**
   * The extensions the protocol agreed on, as one line (WebSocket: `permessage-deflate; ...` with the
   * agreed parameters), shown on the connection's row (or the stream's, over HTTP/2).
   */
  noteExtensions(description: string): void;
  /**
   * On graceful shutdown call `handler(target)` once (WebSocket: Close 1001); `undefined` unregisters.
   * One slot per connection: the alternative, a listener on `signal`, costs objects per connection.
   */
  onShutdown<T>(handler: ((target: T) => void) | undefined, target?: T): void;
}

/** Protocol-level happenings for the trace, e.g. `{ kind: 'frame', detail: 'text fin=1 len=5', direction: 'in' }`. */
export interface ProtocolEvent {
  readonly kind: string;
  readonly detail: string;
  readonly direction?: 'in' | 'out';
}

export const accept = <State>(headers: readonly Field[] = [], state?: State): HandshakeDecision<State> =>
  state === undefined ? { action: 'accept', headers } : { action: 'accept', headers, state };
export const decline = (): HandshakeDecision<never> => ({ action: 'decline' });
export const reject = (status: number, headers: readonly Field[] = [], body?: string): HandshakeDecision<never> =>
  body === undefined ? { action: 'reject', status, headers } : { action: 'reject', status, headers, body };
