export { SwitchyardServer, startServer, type ServerOptions } from './server/server.js';
export { startLab, type LabOptions } from './lab.js';
export { Router, type HttpRequest, type HttpResponse, type RouteHandler } from './server/router.js';
export { Registry, type RegistryEntry } from './registry/registry.js';
export {
  accept, decline, reject,
  type ProtocolHandler, type HandshakeContext, type HandshakeDecision, type TakeoverContext, type ProtocolEvent,
} from './registry/plugin.js';
export { parseUpgradeOffers, type UpgradeOffer } from './registry/upgrade-offers.js';
export { ProtocolError, UsageError } from './errors.js';
export { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.js';
export type { RequestHead, Field } from './http/request-head.js';
export { RequestParser } from './http/request-parser.js';
export { type FiveTuple, formatFiveTuple } from './accept-loop/five-tuple.js';
export type { ConnectionSnapshot } from './accept-loop/connection-table.js';
export type { LabEvent } from './accept-loop/lab-events.js';
export { formatTraceLine } from './server/trace.js';
export { echoProtocol } from './protocols/echo/echo.js';
export { loadPlugin, loadPlugins, pluginName, readPluginConfig, PluginErrorCode, type LoadedPlugin } from './plugins/load-plugin.js';
export { mergePluginOptions, type PluginOptions } from './plugins/plugin-options.js';
export { isolate } from './plugins/isolate.js';
export type { ExperimentalOptions } from './protocols/experimental.js';
export { createTcpTunnelProtocol, type TcpTunnelOptions } from './protocols/tcp-tunnel/plugin.js';
export type { TunnelTarget } from './protocols/tcp-tunnel/targets.js';
export { createTlsUpgradeProtocol, type TlsUpgradeOptions } from './protocols/tls-upgrade/plugin.js';
export type { LabChatOptions } from './protocols/lab-chat/plugin.js';
