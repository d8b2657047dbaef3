/**
 * The soak's server process: the lab exactly as `switchyard serve` starts it (startLab with default
 * limits), plus one route the soak needs — `POST /soak/echo` answers with the request body, so a plain
 * HTTP request can carry a checksummed payload too. It runs in its own process so its memory is measured
 * apart from the 1,000 clients, and it reports over the IPC channel instead of `--trace` (a line per frame
 * would cost more than the traffic itself): every `error` event in full, the other events as counts.
 *
 * Messages from the parent: `stats` (answered with memory, table size and event counts), `gc` (collect,
 * then answer like `stats`), `close` (graceful close, then exit).
 */
import { startLab } from '../src/lab.js';
import type { LabEvent } from '../src/accept-loop/lab-events.js';

export interface ServerStats {
  readonly type: 'stats';
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly table: number;
  readonly accepted: number;
  readonly refused: number;
  readonly errors: ReadonlyArray<{ code: string; message: string }>;
  readonly errorCount: number;
  /** `closedBy: reason` → count, for the report. */
  readonly closeReasons: Readonly<Record<string, number>>;
}

export type ServerRequest = { readonly type: 'stats' | 'gc' | 'close' };

async function main(): Promise<void> {
  const server = await startLab({ host: '127.0.0.1', port: 0 });
  server.router.add('POST', '/soak/echo', ({ body }) => ({ status: 200, headers: [['Content-Type', 'application/octet-stream']], body }));

  let accepted = 0;
  let refused = 0;
  let errorCount = 0;
  const errors: Array<{ code: string; message: string }> = [];
  const closeReasons: Record<string, number> = {};
  // Only these event types are counted; skipping the rest keeps the per-frame cost of observing small.
  server.events.subscribe((event: LabEvent) => {
    switch (event.type) {
      case 'accept': accepted++; break;
      case 'refuse': refused++; break;
      case 'error':
        errorCount++;
        if (errors.length < 20) errors.push({ code: event.code, message: event.message });
        break;
      case 'close': {
        const key = `${event.closedBy}: ${event.reason}`;
        closeReasons[key] = (closeReasons[key] ?? 0) + 1;
        break;
      }
      default: break;
    }
  });

  const stats = (): ServerStats => {
    const memory = process.memoryUsage();
    return {
      type: 'stats', rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external, arrayBuffers: memory.arrayBuffers,
      table: server.table.size, accepted, refused, errors, errorCount, closeReasons,
    };
  };

  process.on('message', (message: ServerRequest) => {
    if (message.type === 'stats') process.send!(stats());
    else if (message.type === 'gc') {
      // Two passes: the first may only queue finalizers that free more.
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      setImmediate(() => { gc?.(); process.send!(stats()); });
    } else if (message.type === 'close') {
      void server.close().then(() => process.exit(0));
    }
  });
  // The parent going away must not leave a server behind.
  process.on('disconnect', () => { void server.close().then(() => process.exit(0)); });
  process.send!({ type: 'listening', port: server.port });
}

main().catch((error: unknown) => {
  process.stderr.write(`soak server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
