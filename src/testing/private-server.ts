/**
 * A server of one's own for a plugin's tests: the real accept loop on 127.0.0.1 and a port the kernel
 * picks, with only the given handlers registered (and `/healthz`, to ask whether the server still
 * answers). Nothing is shared with any other server, so tests can run side by side.
 */
import type { Socket } from 'node:net';
import type { LabEvent } from '../accept-loop/lab-events.js';
import type { Limits } from '../limits.js';
import { isolate } from '../plugins/isolate.js';
import type { ProtocolHandler } from '../registry/plugin.js';
import { SwitchyardServer } from '../server/server.js';

export interface PrivateServerOptions {
  readonly limits?: Partial<Limits>;
  /**
   * Wrap each handler with `isolate` (default true), as `serve --plugin` does: a throw in a listener the
   * plugin put on its socket then closes that connection instead of the test process.
   */
  readonly isolate?: boolean;
}

export interface PrivateServer {
  readonly server: SwitchyardServer;
  readonly port: number;
  /** Every event the server reported so far (accepts, upgrades, errors, closes, shutdown phases). */
  readonly events: readonly LabEvent[];
  /** Rows in the connection table: connections the server still holds. */
  liveConnections(): number;
  /** The server's own socket for the connection whose client end is on `clientPort`, while it is open. */
  serverSocketOf(clientPort: number): Socket | undefined;
  /** Graceful shutdown: what `serve` does on SIGTERM. Safe to call twice. */
  close(): Promise<void>;
}

export async function startPrivateServer(handlers: ProtocolHandler<any> | readonly ProtocolHandler<any>[], options: PrivateServerOptions = {}): Promise<PrivateServer> {
  const list = Array.isArray(handlers) ? handlers : [handlers as ProtocolHandler<any>];
  const wrap = options.isolate !== false;
  const server = await SwitchyardServer.start({
    host: '127.0.0.1', port: 0,
    protocols: list.map((handler) => (wrap ? isolate(handler) : handler)),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  const events: LabEvent[] = [];
  server.events.subscribe((event) => events.push(event));
  return {
    server,
    port: server.port,
    events,
    liveConnections: () => server.table.size,
    serverSocketOf(clientPort) {
      for (const record of server.table.records()) {
        if (record.fiveTuple.remotePort === clientPort) return record.socket;
      }
      return undefined;
    },
    close: () => server.close(),
  };
}
