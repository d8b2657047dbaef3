/**
 * `websocket` as an Upgrade plugin, registered like any experimental protocol. Endpoints are per path;
 * the handshake (handshake.ts, pure) decides accept or refuse, then `takeover` wraps the socket in a
 * `WebSocket` and hands it to the endpoint. Server shutdown closes each connection with 1001 "going away".
 */
import type { TakeoverContext, ProtocolHandler } from '../../registry/plugin.js';
import { accept, reject } from '../../registry/plugin.js';
import { type HandshakeOptions, validateClientHandshake } from './handshake.js';
import { WebSocket } from './session.js';

export interface WebSocketEndpoint {
  /** Subprotocols offered, most preferred first. */
  readonly protocols?: readonly string[];
  /** Refuse clients that agree on none of `protocols` (400) instead of accepting without a subprotocol. */
  readonly requireProtocol?: boolean;
  /** Keepalive pings every this many ms (0 or absent: off); a peer that misses a pong is dropped. */
  readonly pingIntervalMs?: number;
  readonly onConnection: (socket: WebSocket, ctx: TakeoverContext<WebSocketState>) => void;
}

export interface WebSocketPluginOptions {
  /** Path → endpoint, e.g. `{ '/echo': echoEndpoint() }`. Unknown paths are refused with 404. */
  readonly endpoints: Readonly<Record<string, WebSocketEndpoint>>;
  readonly allowedOrigins?: HandshakeOptions['allowedOrigins'];
}

export interface WebSocketState {
  readonly endpoint: WebSocketEndpoint;
  readonly protocol: string;
}

export function createWebSocketProtocol(options: WebSocketPluginOptions): ProtocolHandler<WebSocketState> & { readonly paths: readonly string[] } {
  return {
    token: 'websocket',
    description: `RFC 6455 WebSocket on ${Object.keys(options.endpoints).join(', ') || 'no paths'}`,
    paths: Object.keys(options.endpoints),
    // A session always ends its socket (a close, a failure, a drop): no promise per connection needed.
    managesSocket: true,
    handshake(ctx) {
      const endpoint = Object.hasOwn(options.endpoints, ctx.request.path) ? options.endpoints[ctx.request.path] : undefined;
      if (!endpoint) return reject(404, [], `404 Not Found\nno WebSocket endpoint at ${ctx.request.path}\n`);
      const result = validateClientHandshake(ctx.request, {
        protocols: endpoint.protocols ?? [],
        requireProtocol: endpoint.requireProtocol ?? false,
        ...(options.allowedOrigins === undefined ? {} : { allowedOrigins: options.allowedOrigins }),
      });
      if (!result.ok) return reject(result.error.status, result.error.headers, `${result.error.status} ${result.error.message}\n`);
      return accept<WebSocketState>(result.responseHeaders, { endpoint, protocol: result.protocol ?? '' });
    },
    takeover(ctx) {
      const state = ctx.state!;
      const socket = new WebSocket(ctx.socket, {
        role: 'server',
        maxMessageBytes: ctx.limits.webSocketMaxMessageBytes,
        closeTimeoutMs: ctx.limits.webSocketCloseTimeoutMs,
        pingIntervalMs: state.endpoint.pingIntervalMs ?? 0,
        protocol: state.protocol,
        hooks: ctx.hooks,
        deferHead: false,
      }, ctx.head);
      // If onConnection throws, takeover throws: the loop logs the failure and destroys the socket.
      state.endpoint.onConnection(socket, ctx);
      // Frames that came with the request are answered now, inside the loop's cork: with the 101 in one write.
      socket.processEarlyBytes();
      // Shutdown reaches the session through the connection's row, not a listener per connection.
      if (ctx.signal.aborted) goingAway(socket);
      else ctx.hooks.onShutdown(goingAway, socket);
    },
  };
}

/** Server shutdown: RFC 6455 §7.4.1 code 1001, "an endpoint is going away, such as a server going down". */
function goingAway(socket: WebSocket): void {
  socket.close(1001, 'server shutting down');
}
