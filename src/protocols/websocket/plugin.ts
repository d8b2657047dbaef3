/**
 * `websocket` as an Upgrade plugin, registered like any experimental protocol. Endpoints are per path;
 * the handshake (handshake.ts, pure) decides accept or refuse, then `takeover` wraps the socket in a
 * `WebSocket` and hands it to the endpoint. Server shutdown closes each connection with 1001 "going away".
 */
import type { TakeoverContext, ProtocolHandler } from '../../registry/plugin.js';
import { accept, reject } from '../../registry/plugin.js';
import { DEFAULT_LIMITS, type Limits } from '../../limits.js';
import { UsageError } from '../../errors.js';
import { describeDeflate, type DeflateParams, type DeflatePolicy } from './deflate-negotiation.js';
import { type HandshakeOptions, validateClientHandshake } from './handshake.js';
import type { DeflateSetup, DeflateTuning } from './permessage-deflate.js';
import { WebSocket } from './session.js';

/**
 * An endpoint's permessage-deflate policy (RFC 7692). Every field defaults to the server's limits
 * (`webSocketDeflate*`, so `--limit` sets them for all endpoints); `false` declines the extension here.
 */
export interface DeflateOptions {
  /** The largest window (9-15 bits) the server compresses with; a client may ask for less (§7.1.2.1). */
  readonly windowBits?: number;
  /** The window asked of a client that offers `client_max_window_bits` (§7.1.2.2): our inflate memory. */
  readonly clientWindowBits?: number;
  /** Reset the server's compressor after every message (§7.1.1.1): no history kept for sending. */
  readonly serverNoContextTakeover?: boolean;
  /** Ask the client to reset its compressor after every message (§7.1.1.2): no history kept for receiving. */
  readonly clientNoContextTakeover?: boolean;
  readonly level?: number;
  readonly memLevel?: number;
  /** Messages shorter than this go out uncompressed. */
  readonly thresholdBytes?: number;
  /** Messages longer than this go out uncompressed (zlib runs on the event loop). */
  readonly maxMessageBytes?: number;
}

export interface WebSocketEndpoint {
  /** Subprotocols offered, most preferred first. */
  readonly protocols?: readonly string[];
  /** Refuse clients that agree on none of `protocols` (400) instead of accepting without a subprotocol. */
  readonly requireProtocol?: boolean;
  /** Keepalive pings every this many ms (0 or absent: off); a peer that misses a pong is dropped. */
  readonly pingIntervalMs?: number;
  /** permessage-deflate here: on (within the limits' defaults) unless `false`; fields override the limits. */
  readonly deflate?: false | DeflateOptions;
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
  /** permessage-deflate as agreed, with this end's tuning; undefined without the extension. */
  readonly deflate: DeflateSetup | undefined;
}

/** The endpoint's policy over the limits' defaults, checked (a bad value is the operator's mistake). */
export function deflatePolicy(limits: Limits, options: DeflateOptions = {}): (DeflatePolicy & DeflateTuning) | undefined {
  const windowBits = options.windowBits ?? limits.webSocketDeflateWindowBits;
  if (windowBits === 0) return undefined;
  const policy = {
    serverMaxWindowBits: windowBits,
    clientMaxWindowBits: options.clientWindowBits ?? limits.webSocketDeflateClientWindowBits,
    serverNoContextTakeover: options.serverNoContextTakeover ?? false,
    clientNoContextTakeover: options.clientNoContextTakeover ?? false,
    level: options.level ?? limits.webSocketDeflateLevel,
    memLevel: options.memLevel ?? limits.webSocketDeflateMemLevel,
    thresholdBytes: options.thresholdBytes ?? limits.webSocketDeflateThresholdBytes,
    maxBytes: options.maxMessageBytes ?? limits.webSocketDeflateMaxMessageBytes,
  };
  const check = (name: string, value: number, low: number, high: number): void => {
    if (!Number.isInteger(value) || value < low || value > high) throw new UsageError('ERR_INVALID_DEFLATE_OPTION', `permessage-deflate ${name} must be ${low}..${high}, got ${value}`);
  };
  // 9, not 8: zlib's raw deflate cannot compress with an 8-bit window (deflate-negotiation.ts).
  check('window bits', policy.serverMaxWindowBits, 9, 15);
  check('client window bits', policy.clientMaxWindowBits, 8, 15);
  check('level', policy.level, 0, 9);
  check('memLevel', policy.memLevel, 1, 9);
  check('threshold', policy.thresholdBytes, 0, Number.MAX_SAFE_INTEGER);
  check('max message bytes', policy.maxBytes, 0, Number.MAX_SAFE_INTEGER);
  return policy;
}

function setupFor(params: DeflateParams | undefined, tuning: DeflateTuning | undefined): DeflateSetup | undefined {
  if (params === undefined || tuning === undefined) return undefined;
  return { params, level: tuning.level, memLevel: tuning.memLevel, thresholdBytes: tuning.thresholdBytes, maxBytes: tuning.maxBytes };
}

export function createWebSocketProtocol(options: WebSocketPluginOptions): ProtocolHandler<WebSocketState> & { readonly paths: readonly string[] } {
  // An endpoint's own deflate options are checked now, so a mistake fails at start, not at the first client.
  for (const endpoint of Object.values(options.endpoints)) {
    if (endpoint.deflate !== undefined && endpoint.deflate !== false) deflatePolicy(DEFAULT_LIMITS, endpoint.deflate);
  }
  return {
    token: 'websocket',
    description: `RFC 6455 WebSocket on ${Object.keys(options.endpoints).join(', ') || 'no paths'}`,
    paths: Object.keys(options.endpoints),
    // A session always ends its socket (a close, a failure, a drop): no promise per connection needed.
    managesSocket: true,
    handshake(ctx) {
      const endpoint = Object.hasOwn(options.endpoints, ctx.request.path) ? options.endpoints[ctx.request.path] : undefined;
      if (!endpoint) return reject(404, [], `404 Not Found\nno WebSocket endpoint at ${ctx.request.path}\n`);
      const deflate = endpoint.deflate === false ? undefined : deflatePolicy(ctx.limits, endpoint.deflate);
      const result = validateClientHandshake(ctx.request, {
        protocols: endpoint.protocols ?? [],
        requireProtocol: endpoint.requireProtocol ?? false,
        ...(options.allowedOrigins === undefined ? {} : { allowedOrigins: options.allowedOrigins }),
        ...(deflate === undefined ? {} : { deflate }),
      });
      if (!result.ok) return reject(result.error.status, result.error.headers, `${result.error.status} ${result.error.message}\n`);
      return accept<WebSocketState>(result.responseHeaders, { endpoint, protocol: result.protocol ?? '', deflate: setupFor(result.deflate, deflate) });
    },
    takeover(ctx) {
      const state = ctx.state!;
      const socket = new WebSocket(ctx.socket, {
        role: 'server',
        maxMessageBytes: ctx.limits.webSocketMaxMessageBytes,
        closeTimeoutMs: ctx.limits.webSocketCloseTimeoutMs,
        pingIntervalMs: state.endpoint.pingIntervalMs ?? 0,
        protocol: state.protocol,
        ...(state.deflate === undefined ? {} : { deflate: state.deflate }),
        hooks: ctx.hooks,
        deferHead: false,
      }, ctx.head);
      if (state.deflate !== undefined) ctx.hooks.noteExtensions(describeDeflate(state.deflate.params));
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
