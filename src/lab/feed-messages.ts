/**
 * What the lab tells a dashboard: the JSON messages of the `/_lab/events` WebSocket (server → page only)
 * and the identity a connection learns about itself. One text frame carries one message:
 *
 *   hello     first message: this feed connection's own 5-tuple, and the listening address
 *   snapshot  the connection table and the registered protocols; after hello, every second, after a gap
 *   events    loop events (LabEvent) in the order they happened, batched per turn of the event loop
 *   gap       `dropped` events were skipped because this dashboard read too slowly; a snapshot follows
 */
import type { ConnectionRecord, ConnectionSnapshot } from '../accept-loop/connection-table.js';
import type { LabEvent } from '../accept-loop/lab-events.js';
import type { RegistryEntry } from '../registry/registry.js';
import type { BrokerStatus } from '../registry/broker/room-broker.js';

/** A connection's own 5-tuple, as the server saw it: what a client cannot learn from inside a browser. */
export interface SelfIdentity {
  readonly id: number;
  readonly fiveTuple: string;
  /** `tcp`, or `tls` when this connection's first byte began a TLS handshake on the front door. */
  readonly transport: 'tcp' | 'tls';
  readonly local: { readonly address: string; readonly port: number };
  readonly remote: { readonly address: string; readonly port: number };
  /** `1.1`, or `2` when the connection carries an HTTP/2 session. */
  readonly http: '1.1' | '2';
  /** The HTTP/2 stream (RFC 8441) this identity is, when it is one stream of a shared connection. */
  readonly stream?: number;
  /** In a `--workers` cluster: the pid of the worker process that accepted this connection. */
  readonly worker?: number;
}

export type ConnectionRow = ConnectionSnapshot & { readonly self?: true };

export type FeedMessage =
  | { readonly type: 'hello'; readonly time: number; readonly self: SelfIdentity; readonly server: { readonly address: string; readonly port: number } }
  | { readonly type: 'snapshot'; readonly time: number; readonly total: number; readonly connections: readonly ConnectionRow[]; readonly protocols: readonly RegistryEntry[]; readonly broker?: BrokerStatus }
  | { readonly type: 'events'; readonly time: number; readonly events: readonly LabEvent[] }
  | { readonly type: 'gap'; readonly time: number; readonly dropped: number };

export function identityOf(record: ConnectionRecord, stream?: number): SelfIdentity {
  const { fiveTuple } = record;
  return {
    id: record.id,
    fiveTuple: record.key,
    transport: record.transport,
    local: { address: fiveTuple.localAddress, port: fiveTuple.localPort },
    remote: { address: fiveTuple.remoteAddress, port: fiveTuple.remotePort },
    http: record.http2 === undefined ? '1.1' : '2',
    ...(stream === undefined ? {} : { stream }),
    ...(record.worker === undefined ? {} : { worker: record.worker }),
  };
}
