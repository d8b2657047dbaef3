import { ChatRoom } from './protocols/chat/room.js';
import { echoProtocol } from './protocols/echo/echo.js';
import { chatEndpoint, echoEndpoint } from './protocols/websocket/endpoints.js';
import { createWebSocketProtocol, type WebSocketEndpoint } from './protocols/websocket/plugin.js';
import type { ProtocolHandler } from './registry/plugin.js';
import { resolveLimits } from './limits.js';
import { type ServerOptions, SwitchyardServer } from './server/server.js';

export interface LabOptions extends ServerOptions {
  /** Extra handlers (plugins) registered after the built-in ones. */
  plugins?: readonly ProtocolHandler<any>[];
  /** Extra WebSocket endpoints besides `/echo` and `/chat`. */
  webSocketEndpoints?: Readonly<Record<string, WebSocketEndpoint>>;
}

/**
 * The lab as `switchyard serve` runs it: the server plus the built-in protocols — `echo`, and
 * `websocket` with `/echo` and the `/chat` room. A plain GET on a WebSocket path gets 426.
 */
export async function startLab(options: LabOptions = {}): Promise<SwitchyardServer> {
  const { plugins = [], webSocketEndpoints = {}, ...serverOptions } = options;
  const limits = resolveLimits(options.limits);
  const room = new ChatRoom(limits.outboundQueueBytes);
  const websocket = createWebSocketProtocol({
    endpoints: { '/echo': echoEndpoint(), '/chat': chatEndpoint(room), ...webSocketEndpoints },
  });
  const protocols: ProtocolHandler<any>[] = [websocket, echoProtocol, ...(options.protocols ?? []), ...plugins];
  const server = await SwitchyardServer.start({ ...serverOptions, protocols });
  for (const path of websocket.paths) server.router.requireUpgrade(path, ['websocket']);
  return server;
}
