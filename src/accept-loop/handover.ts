/**
 * The handover contract (docs/plugins.md), in one place:
 *
 * 1. The HTTP connection has already detached: parsing stopped, its listeners and timers are gone, the
 *    socket is paused. What the parser had read past the end of the request comes here as `head`.
 * 2. Write `101 Switching Protocols` with `Connection: Upgrade`, `Upgrade: <token>` and the handler's
 *    headers (RFC 9110 §15.2.2, §7.8), then mark the connection upgraded.
 * 3. Call `takeover` exactly once, right away. When its promise settles or it throws, destroy the socket if
 *    the handler left it open — a plugin cannot leak a socket, and its failure costs only its connection.
 *    A handler that declares `managesSocket` ends the socket through its own listeners (WebSocket does)
 *    and is not waited on; only a throw or a rejection makes the loop destroy its socket.
 *
 * The loop keeps two listeners on the raw socket through all of this: 'close' (to take the row out of the
 * connection table) and 'error' (so an error between detach and the handler's own listener cannot crash
 * the process). Both are bookkeeping, not protocol.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Field, RequestHead } from '../http/request-head.js';
import { encodeResponseHead } from '../http/response.js';
import type { ProtocolEvent, ProtocolHandler, TakeoverContext } from '../registry/plugin.js';
import type { ConnectionRecord } from './connection-table.js';
import { ConnectionState } from './connection-state.js';
import { errorMessage, HttpConnection, isThenable } from './http-connection.js';
import type { ConnectionServices } from './services.js';

export interface HandoverInput {
  readonly socket: Duplex;
  readonly raw: Socket;
  readonly record: ConnectionRecord;
  readonly services: ConnectionServices;
  readonly request: RequestHead;
  readonly head: Uint8Array;
  readonly handler: ProtocolHandler<any>;
  readonly headers: readonly Field[];
  readonly state: unknown;
}

/** Whom a takeover's end is told to: the connection's row, or an HTTP/2 stream's (with its connection's id and 5-tuple). */
export interface TakeoverOwner {
  readonly id: number;
  readonly key: string;
  noteClose(by: 'client' | 'server', reason: string): void;
}

export function handOver(input: HandoverInput): void {
  const { socket, raw, record, services, handler } = input;
  // Throws on a second takeover of the same connection: upgraded → upgraded is not a legal edge.
  record.transition(ConnectionState.Upgraded, handler.token);
  // The detached HTTP connection (its parser and buffers) must not stay reachable from the row's
  // shutdown slot: from now on the handler registers its own goodbye (or listens on `signal`).
  record.onShutdown(undefined);
  const { events } = services;
  if (events.active) events.report({ type: 'upgrade', id: record.id, fiveTuple: record.key, protocol: handler.token, headBytes: input.head.length });
  // The detached HTTP connection paused the socket explicitly, and an explicitly paused stream ignores a
  // new 'data' listener. Back to "not flowing yet" (Node's readableFlowing === null): bytes stay buffered
  // until the handler either attaches a 'data' listener or calls resume(), as the contract promises.
  (socket as { readableFlowing: boolean | null }).readableFlowing = null;
  // Corked: whatever the handler writes while taking over (answers to bytes that came with the request)
  // leaves in one write with the 101, instead of one syscall each.
  socket.cork();
  socket.write(encodeResponseHead({
    status: 101,
    headers: [['Connection', 'Upgrade'], ['Upgrade', handler.token], ...input.headers],
  }));
  const ends: TakeoverEnds = { socket, raw, record, events, token: handler.token };
  runTakeover(handler, takeoverContext(input), ends, socket);
}

/**
 * Call `takeover` once and supervise what it returns (steps 3 above), for any carrier: a socket after a
 * 101 or an HTTP/2 stream after a 200. `corked` is uncorked as soon as `takeover` has returned or thrown.
 */
export function runTakeover(handler: ProtocolHandler<any>, context: TakeoverContext<any>, ends: TakeoverEnds, corked?: Duplex): void {
  let outcome: void | PromiseLike<void>;
  try {
    outcome = handler.takeover(context);
  } catch (error) {
    corked?.uncork();
    takeoverFailed(ends, error);
    return;
  }
  corked?.uncork();
  watchTakeover(ends, outcome, handler.managesSocket === true);
}

/**
 * What the loop needs once `takeover` has returned, apart from `input`: the closures below live as long
 * as the handler's promise (often the connection), and must not keep the request and head bytes alive.
 */
export interface TakeoverEnds {
  readonly socket: Duplex;
  /** What to destroy with `socket`: the TCP socket under a TLS/1.0 session; `socket` itself otherwise. */
  readonly raw: Duplex;
  readonly record: TakeoverOwner;
  readonly events: ConnectionServices['events'];
  readonly token: string;
}

function watchTakeover(ends: TakeoverEnds, outcome: void | PromiseLike<void>, managesSocket: boolean): void {
  if (managesSocket) {
    // The handler ends `socket` itself; the raw socket under it (after TLS/1.0) goes with it. An async
    // takeover is not waited on, but its rejection still costs only this connection.
    if (ends.raw !== ends.socket) ends.socket.once('close', () => ends.raw.destroy());
    if (isThenable(outcome)) outcome.then(undefined, (error: unknown) => takeoverFailed(ends, error));
  } else if (isThenable(outcome)) {
    // The handler says when it is done: whatever it left open then is closed here.
    outcome.then(() => finished(ends), (error: unknown) => takeoverFailed(ends, error));
  } else {
    finished(ends);
  }
}

function takeoverFailed(ends: TakeoverEnds, error: unknown): void {
  const { record, token } = ends;
  record.noteClose('server', `${token} handler failed: ${errorMessage(error)}`);
  ends.events.report({ type: 'error', id: record.id, fiveTuple: record.key, code: 'ERR_PLUGIN_TAKEOVER', message: `${token} handler failed: ${errorMessage(error)}` });
  finished(ends);
}

/** A plugin cannot leak a socket: once its takeover has finished, whatever it left open is destroyed. */
function finished({ socket, raw, record, token }: TakeoverEnds): void {
  if (!socket.destroyed) {
    record.noteClose('server', `${token} handler finished`);
    socket.destroy();
  }
  if (raw !== socket && !raw.destroyed) raw.destroy();
}

/**
 * The context is garbage once the handler has taken what it needs: nothing that lives as long as the
 * connection refers to it (the closures below refer to the row, not to the request or the head bytes).
 */
function takeoverContext(input: HandoverInput): TakeoverContext {
  const { socket, record, services, raw } = input;
  return {
    request: input.request,
    socket,
    head: input.head,
    fiveTuple: record.fiveTuple,
    limits: services.limits,
    protocol: input.handler.token,
    state: input.state,
    signal: services.shutdownSignal,
    hooks: record,
    emit: (event: ProtocolEvent) => record.emit(event),
    isTracing: () => record.isTracing(),
    noteServerClose: (reason) => record.noteServerClose(reason),
    continueHttp(stream, options = {}) {
      record.transition(ConnectionState.Http);
      const connection = new HttpConnection(stream, raw, record, services);
      record.onShutdown(HttpConnection.shutdown, connection);
      const closed = connection.closed();
      connection.start(options.initial, options.pending);
      return closed;
    },
  };
}
