/**
 * `/connections` and `/_lab/workers` when the lab may be one of several processes on the port. In a
 * `--workers` cluster any worker can be asked, and each answers for all: it asks the primary, which
 * gathers every worker's rows over IPC (cluster-primary.ts). Alone, the same routes answer for this one
 * process, so a client need not know which it talks to. `/_lab/broker` says whether the room reaches
 * the other instances (cluster or Redis) and how many messages could not be sent on.
 */
import type { ClusterWorker } from '../accept-loop/cluster-worker.js';
import type { WorkerTable } from '../accept-loop/cluster-messages.js';
import type { ConnectionSnapshot } from '../accept-loop/connection-table.js';
import type { ChatRoom } from '../protocols/chat/room.js';
import type { HttpResponse } from '../server/router.js';
import type { SwitchyardServer } from '../server/server.js';

export function installWorkerRoutes(server: SwitchyardServer, room: ChatRoom, cluster: ClusterWorker | undefined): void {
  const own = (): WorkerTable => ({ pid: process.pid, connections: server.table.snapshot(), frontDoor: server.table.frontDoor });
  cluster?.provideTable(own);
  const tables = async (): Promise<readonly WorkerTable[]> => (cluster === undefined ? [own()] : cluster.requestTables());

  if (cluster !== undefined) {
    server.router.get('/connections', async ({ connection }) => {
      const all = await tables();
      return json({
        connections: all.flatMap((table) => table.connections.map((row) => (table.pid === process.pid && row.id === connection.id ? { ...row, self: true } : row))),
        frontDoor: sumFrontDoor(all),
        workers: all.map((table) => ({ pid: table.pid, connections: table.connections.length })),
      });
    });
  }
  server.router.get('/_lab/workers', async () => {
    const all = await tables();
    return json(all.map((table) => ({ pid: table.pid, connections: table.connections.length })));
  });
  // null when the room stays in this process.
  server.router.get('/_lab/broker', () => json(room.brokerStatus() ?? null));
}

/**
 * The other workers' rows for the dashboard's snapshots, as last gathered: asked of the primary again when
 * the copy is over a second old and a snapshot wants it, so a cluster with no dashboard open sends nothing.
 */
export function otherWorkersRows(cluster: ClusterWorker): () => readonly ConnectionSnapshot[] {
  let rows: readonly ConnectionSnapshot[] = [];
  let fetchedAt = 0;
  let asking = false;
  return () => {
    if (!asking && Date.now() - fetchedAt > 1_000) {
      asking = true;
      void cluster.requestTables().then((tables) => {
        rows = tables.filter((table) => table.pid !== process.pid).flatMap((table) => table.connections);
        fetchedAt = Date.now();
      }).finally(() => { asking = false; });
    }
    return rows;
  };
}

function sumFrontDoor(tables: readonly WorkerTable[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const table of tables) for (const [key, value] of Object.entries(table.frontDoor)) sum[key] = (sum[key] ?? 0) + value;
  return sum;
}

function json(value: unknown): HttpResponse {
  return { status: 200, headers: [['Content-Type', 'application/json'], ['Cache-Control', 'no-store']], body: JSON.stringify(value, null, 2) + '\n' };
}
