/**
 * The handover contract (docs/plugins.md), in one place:
 *
 * 1. The HTTP connection has already detached: parsing stopped, its listeners and timers are gone, the
 *    socket is paused. What the parser had read past the end of the request comes here as `head`.
 * 2. Write `101 Switching Protocols` with `Connection: Upgrade`, `Upgrade: <token>` and the handler's
 *    headers (RFC 9110 §15.2.2, §7.8), then mark the connection upgraded.
 * 3. Call `takeover` exactly once. When its promise settles or it throws, destroy the socket if the
 *    handler left it open — a plugin cannot leak a socket, and its failure costs only its connection.
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
import { errorMessage, HttpConnection } from './http-connection.js';
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

export function handOver(input: HandoverInput): Promise<void> {
  const { socket, record, services, handler } = input;
  const raw = input.raw;
  // Throws on a second takeover of the same connection: upgraded → upgraded is not a legal edge.
  record.transition(ConnectionState.Upgraded, handler.token);
  // The detached HTTP connection (its parser and buffers) must not stay reachable from the server's
  // shutdown list: from now on the handler hears of shutdown through `signal`.
  services.onShutdown(record, undefined);
  socket.write(encodeResponseHead({
    status: 101,
    headers: [['Connection', 'Upgrade'], ['Upgrade', handler.token], ...input.headers],
  }));
  const { events } = services;
  events.report({ type: 'upgrade', id: record.id, fiveTuple: record.key, protocol: handler.token, headBytes: input.head.length });
  // Built in a function of its own: the closures below live as long as the connection, and must not keep
  // the context (with the request and the head bytes) alive after the handler has let go of them.
  const ctx = takeoverContext(input);
  // ctx goes through the promise rather than into a closure: the catch/finally closures below share this
  // scope and live as long as the connection, and must not keep ctx alive with them.
  return Promise.resolve(ctx)
    .then((context) => handler.takeover(context))
    .catch((error: unknown) => {
      record.noteClose('server', `${handler.token} handler failed: ${errorMessage(error)}`);
      events.report({ type: 'error', id: record.id, fiveTuple: record.key, code: 'ERR_PLUGIN_TAKEOVER', message: `${handler.token} handler failed: ${errorMessage(error)}` });
    })
    .finally(() => {
      if (!socket.destroyed) {
        record.noteClose('server', `${handler.token} handler finished`);
        socket.destroy();
      }
      if (raw !== socket && !raw.destroyed) raw.destroy();
    });
}

function takeoverContext(input: HandoverInput): TakeoverContext {
  const { socket, record, services, handler, raw } = input;
  const { events } = services;
  const emit = (event: ProtocolEvent): void => {
    if (events.active) events.report({ type: 'protocol', id: record.id, fiveTuple: record.key, protocol: handler.token, ...event });
  };
  const ctx: TakeoverContext = {
    request: input.request,
    socket,
    head: input.head,
    fiveTuple: record.fiveTuple,
    limits: services.limits,
    protocol: handler.token,
    state: input.state,
    signal: services.shutdownSignal,
    emit,
    isTracing: () => events.active,
    noteServerClose: (reason) => record.noteClose('server', reason),
    continueHttp(stream, options = {}) {
      record.transition(ConnectionState.Http);
      const connection = new HttpConnection(stream, raw, record, services);
      services.onShutdown(record, () => connection.shutdown());
      const closed = connection.closed();
      connection.start(options.initial, options.pending);
      return closed;
    },
  };
  return ctx;
}
