import type { ChatRoom } from './chat/room.js';
import { createLabChatProtocol, type LabChatOptions } from './lab-chat/plugin.js';
import { createTcpTunnelProtocol, type TcpTunnelOptions } from './tcp-tunnel/plugin.js';
import type { TunnelTarget } from './tcp-tunnel/targets.js';
import { createTlsUpgradeProtocol, type TlsUpgradeOptions } from './tls-upgrade/plugin.js';
import type { ProtocolHandler } from '../registry/plugin.js';

/** Options for the experimental protocols (`tcp` tunnel, `TLS/1.0`, `lab-chat/1`); docs/protocols.md. */
export interface ExperimentalOptions {
  /** `tcp` tunnels, name → backend. `Upgrade: tcp` is offered only when at least one is configured. */
  tunnels?: Readonly<Record<string, TunnelTarget>>;
  /** Timeouts of the `tcp` tunnel. */
  tunnel?: Omit<TcpTunnelOptions, 'tunnels'>;
  /** Certificate and key (PEM) for `TLS/1.0` (RFC 2817). The token is offered only when both are given. */
  tls?: TlsUpgradeOptions;
  /** `lab-chat/1` settings, or `false` to leave the protocol out. */
  labChat?: LabChatOptions | false;
}

/** The experimental protocols the lab registers next to `websocket` and `echo`. */
export function experimentalProtocols(options: ExperimentalOptions, room: ChatRoom): ProtocolHandler<any>[] {
  const protocols: ProtocolHandler<any>[] = [];
  if (options.labChat !== false) protocols.push(createLabChatProtocol(room, options.labChat ?? {}));
  if (options.tunnels && Object.keys(options.tunnels).length > 0) {
    protocols.push(createTcpTunnelProtocol({ ...options.tunnel, tunnels: options.tunnels }));
  }
  if (options.tls) protocols.push(createTlsUpgradeProtocol(options.tls));
  return protocols;
}
