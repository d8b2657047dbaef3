import type { ConnectionTable } from '../accept-loop/connection-table.js';
import type { Registry } from '../registry/registry.js';
import type { HttpResponse, Router } from './router.js';

const json = (value: unknown): HttpResponse => ({
  status: 200,
  headers: [['Content-Type', 'application/json'], ['Cache-Control', 'no-store']],
  body: JSON.stringify(value, null, 2) + '\n',
});

/** The lab's plain-HTTP face: liveness, what can be upgraded to, and who is connected right now. */
export function installBuiltinRoutes(router: Router, registry: Registry, table: ConnectionTable): void {
  router.get('/healthz', () => ({ status: 200, body: 'ok\n' }));
  router.get('/protocols', () => json({ protocols: registry.list() }));
  // `self` marks the row of the connection asking, so a client can find its own 5-tuple.
  router.get('/connections', ({ connection }) => json({
    connections: table.snapshot().map((row) => (row.id === connection.id ? { ...row, self: true } : row)),
    // How first bytes decided on a port that serves TLS and cleartext, and the TLS attempts that failed.
    frontDoor: table.frontDoor,
  }));
}
