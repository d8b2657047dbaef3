import { installBytesRoute } from './lab/bytes-route.js';
import { installLab, labEndpoints } from './lab/install.js';
import { resolveLimits } from './limits.js';
import { ChatRoom } from './protocols/chat/room.js';
import { echoProtocol } from './protocols/echo/echo.js';
import { type ExperimentalOptions, experimentalProtocols } from './protocols/experimental.js';
import { chatEndpoint, echoEndpoint } from './protocols/websocket/endpoints.js';
import { createWebSocketProtocol, type WebSocketEndpoint } from './protocols/websocket/plugin.js';
import type { ProtocolHandler } from './registry/plugin.js';
import type { RoomBroker } from './registry/broker/room-broker.js';
import type { ClusterWorker } from './accept-loop/cluster-worker.js';
import { installWorkerRoutes, otherWorkersRows } from './lab/workers-routes.js';
import { type ServerOptions, SwitchyardServer } from './server/server.js';

export interface LabOptions extends ServerOptions {
  /** Extra handlers (plugins) registered after the built-in ones. */
  plugins?: readonly ProtocolHandler<any>[];
  /** Extra WebSocket endpoints besides `/echo` and `/chat`. */
  webSocketEndpoints?: Readonly<Record<string, WebSocketEndpoint>>;
  /** Configuration of the experimental protocols. */
  experimental?: ExperimentalOptions;
  /** Carries the chat room beyond this process (cluster workers, Redis). Closed with the server. */
  broker?: RoomBroker;
  /** This lab is one worker of a `--workers` cluster: the table and `/_lab/workers` span every worker. */
  cluster?: ClusterWorker;
}

/**
 * The lab as `switchyard serve` runs it: the server plus the built-in protocols — `websocket` with
 * `/echo`, the `/chat` room and the lab's own endpoints, `echo`, the experimental protocols — and the
 * lab's pages. A plain GET on a WebSocket path gets 426.
 */
export async function startLab(options: LabOptions = {}): Promise<SwitchyardServer> {
  const { plugins = [], webSocketEndpoints = {}, experimental: given = {}, broker, cluster, ...serverOptions } = options;
  // One certificate serves both ways into TLS: the port's own (first byte 0x16) and RFC 2817's TLS/1.0.
  const experimental: ExperimentalOptions = given.tls === undefined && options.tls !== undefined
    ? { ...given, tls: { cert: options.tls.cert, key: options.tls.key } }
    : given;
  const limits = resolveLimits(options.limits);
  const room = new ChatRoom(limits.outboundQueueBytes, broker === undefined ? {} : { broker });
  let server: SwitchyardServer | undefined;
  const websocket = createWebSocketProtocol({
    endpoints: {
      '/echo': echoEndpoint(),
      '/chat': chatEndpoint(room),
      ...labEndpoints(() => server!, room, cluster === undefined ? undefined : otherWorkersRows(cluster)),
      ...webSocketEndpoints,
    },
  });
  const protocols: ProtocolHandler<any>[] = [
    websocket, echoProtocol, ...experimentalProtocols(experimental, room), ...(options.protocols ?? []), ...plugins,
  ];
  server = await SwitchyardServer.start({
    ...serverOptions, protocols,
    ...(cluster === undefined ? {} : { worker: { pid: cluster.pid, firstConnectionId: cluster.firstConnectionId } }),
  });
  if (broker !== undefined) server.onClose(async () => { room.close(); await broker.close(); });
  for (const path of websocket.paths) server.router.requireUpgrade(path, ['websocket']);
  // A browser or curl that GETs a tunnel's path learns what it takes instead of a bare 404.
  for (const name of Object.keys(experimental.tunnels ?? {})) server.router.requireUpgrade(`/tunnel/${name}`, ['tcp']);
  installLab(server, room);
  installBytesRoute(server);
  installWorkerRoutes(server, room, cluster);
  return server;
}
