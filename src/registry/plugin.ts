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

export interface TakeoverContext<State = unknown> {
  readonly request: RequestHead;
  /** The raw connected socket (or a TLS socket over it after a `TLS/1.0` upgrade), paused. */
  readonly socket: Duplex;
  /** Bytes received after the end of the request: the new protocol's first bytes. Possibly empty, never absent. */
  readonly head: Uint8Array;
  readonly fiveTuple: FiveTuple;
  readonly limits: Limits;
  /** The token written in the 101's `Upgrade` field. */
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
