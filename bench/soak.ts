/**
 * `npm run soak -- [--seconds N] [--connections N] [--seed S] [--pace MS]`
 *
 * About `--connections` concurrent clients (default 1,000) against one lab, for `--seconds` (default 30):
 * keep-alive HTTP, WebSocket echo, a WebSocket chat room and raw `echo`, in the proportions of MIX, every
 * payload sequence-numbered and checksummed (soak-records.ts). The lab runs in a child process
 * (soak-server.ts) so its memory is measured apart from the clients'; it reports its error events and
 * connection table over IPC. At the end the run checks:
 *
 *   - no message lost, reordered or corrupted, and no client saw anything unexpected;
 *   - no `error` event in the server's log and no connection refused;
 *   - the connection table is empty (GET /connections lists only the connection asking);
 *   - the server's heap after a full GC is back within HEAP_SLACK of its baseline.
 *
 * It prints the figures (docs/reliability.md quotes them) and exits 0 only if every check passed.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { ServerRequest, ServerStats } from './soak-server.js';
import { chatRoom, echoUser, httpUser, newTally, Random, type SoakContext, type Tally, webSocketUser } from './soak-workloads.js';

/** Shares of the connections per workload; echo takes what is left. */
const MIX = { http: 0.25, ws: 0.25, chat: 0.2 } as const;
/** The server's heap after the run may exceed its baseline by at most this much. */
const HEAP_SLACK = 16 * 1024 * 1024;
const MiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const USAGE = 'usage: npm run soak -- [--seconds N] [--connections N] [--seed S] [--pace MS]\n';

function option(raw: string | undefined, name: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

/** Talks to the server child: one request, one `stats` answer. */
class ServerProcess {
  readonly child: ChildProcess;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(child: ChildProcess) {
    this.child = child;
  }

  ask(type: ServerRequest['type']): Promise<ServerStats> {
    const next = this.#queue.then(async () => {
      this.child.send({ type });
      const [message] = (await once(this.child, 'message')) as [ServerStats];
      return message;
    });
    this.#queue = next.catch(() => {});
    return next;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** GET /connections on a fresh connection: the rows other than the one asking. */
async function otherConnections(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/connections`, { headers: { connection: 'close' } });
  const body = (await response.json()) as { connections: Array<{ self?: boolean }> };
  return body.connections.filter((row) => row.self !== true).length;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' }, connections: { type: 'string' }, seed: { type: 'string' }, pace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) { process.stdout.write(USAGE); return; }
  const seconds = option(values.seconds, 'seconds', 30, 1);
  const connections = option(values.connections, 'connections', 1000, 10);
  const seed = option(values.seed, 'seed', Date.now() % 2 ** 31, 0);
  const paceMs = option(values.pace, 'pace', 200, 1);

  // Each connection costs a descriptor on both sides; the clients and the server are separate processes.
  const fdLimit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
  if (Number.isFinite(fdLimit) && fdLimit < connections + 200) {
    process.stderr.write(`ulimit -n is ${fdLimit}: too low for ${connections} connections; raise it (ulimit -n ${connections * 2}) or pass fewer --connections\n`);
    process.exit(2);
  }

  const chatMembers = Math.max(2, Math.round(connections * MIX.chat));
  const senders = Math.max(1, Math.round(chatMembers / 10));
  const httpUsers = Math.round(connections * MIX.http);
  const wsUsers = Math.round(connections * MIX.ws);
  const echoUsers = connections - chatMembers - httpUsers - wsUsers;

  const child = fork(new URL('./soak-server.js', import.meta.url), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ready] = (await once(child, 'message')) as [{ type: 'listening'; port: number }];
  const server = new ServerProcess(child);
  const port = ready.port;
  const baseline = await server.ask('gc');

  process.stdout.write(
    `soak: ${seconds} s, ${connections} connections (http ${httpUsers}, ws ${wsUsers}, echo ${echoUsers}, chat ${chatMembers} with ${senders} senders), ` +
    `pace ${paceMs} ms, seed ${seed}\n  node ${process.version}, ${availableParallelism()} CPUs, ulimit -n ${fdLimit}, server on port ${port} (pid ${child.pid})\n`,
  );

  const random = new Random(seed);
  const started = Date.now();
  const stopAt = started + seconds * 1000;
  const ctx: SoakContext = { port, paceMs, stopping: () => Date.now() >= stopAt };
  const tallies: Record<'http' | 'ws' | 'echo' | 'chat', Tally> = { http: newTally(), ws: newTally(), echo: newTally(), chat: newTally() };

  let peak = baseline;
  let peakTable = 0;
  let nextReport = 10;
  const sampler = setInterval(() => {
    void server.ask('stats').then((stats) => {
      if (stats.rss > peak.rss) peak = { ...peak, rss: stats.rss };
      if (stats.heapUsed > peak.heapUsed) peak = { ...peak, heapUsed: stats.heapUsed };
      peakTable = Math.max(peakTable, stats.table);
      const elapsed = Math.round((Date.now() - started) / 1000);
      if (elapsed >= nextReport) {
        nextReport += 10;
        const ops = Object.values(tallies).reduce((sum, t) => sum + t.received, 0);
        process.stdout.write(`  t=${elapsed}s live ${stats.table} messages ${ops} server rss ${MiB(stats.rss)} heap ${MiB(stats.heapUsed)}\n`);
      }
    });
  }, 1000);

  // Users start over the first three seconds, not all in the same tick.
  const staggered = (run: (user: Random) => Promise<void>): Promise<void> => {
    const user = new Random(random.int(2 ** 32));
    return new Promise<void>((resolve) => setTimeout(resolve, user.int(3000))).then(() => run(user));
  };
  const runs: Promise<void>[] = [
    chatRoom(ctx, new Random(random.int(2 ** 32)), tallies.chat, chatMembers, senders),
    ...Array.from({ length: httpUsers }, () => staggered((r) => httpUser(ctx, r, tallies.http))),
    ...Array.from({ length: wsUsers }, () => staggered((r) => webSocketUser(ctx, r, tallies.ws))),
    ...Array.from({ length: echoUsers }, () => staggered((r) => echoUser(ctx, r, tallies.echo))),
  ];
  await Promise.all(runs);
  clearInterval(sampler);
  const trafficSeconds = (Date.now() - started) / 1000;

  // Every client closed its connection; the server's table must drain to nothing.
  let atEnd = await server.ask('stats');
  for (let i = 0; i < 150 && atEnd.table > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    atEnd = await server.ask('stats');
  }
  const others = await otherConnections(port);
  const final = await server.ask('gc');
  child.send({ type: 'close' } satisfies ServerRequest);
  await once(child, 'exit');

  // ── report ──
  const rows = Object.entries(tallies).map(([name, t]) =>
    `  ${name.padEnd(5)} ${String(t.connections).padStart(7)} ${String(t.sent).padStart(10)} ${String(t.received).padStart(10)} ` +
    `${String(t.lost).padStart(6)} ${String(t.reordered).padStart(9)} ${String(t.corrupted).padStart(9)} ${String(t.failures).padStart(8)}`);
  const latencies = [...tallies.http.latencies, ...tallies.ws.latencies, ...tallies.echo.latencies].sort((a, b) => a - b);
  const total = (key: 'sent' | 'received' | 'lost' | 'reordered' | 'corrupted' | 'failures' | 'connections'): number =>
    Object.values(tallies).reduce((sum, t) => sum + t[key], 0);
  process.stdout.write([
    `traffic for ${trafficSeconds.toFixed(1)} s:`,
    '  kind  opened  messages→  ←received   lost reordered corrupted failures',
    ...rows,
    `  total ${String(total('connections')).padStart(7)} ${String(total('sent')).padStart(10)} ${String(total('received')).padStart(10)} ` +
    `${String(total('lost')).padStart(6)} ${String(total('reordered')).padStart(9)} ${String(total('corrupted')).padStart(9)} ${String(total('failures')).padStart(8)}`,
    `  ${Math.round(total('received') / trafficSeconds)} messages/s; round trip (http, ws, echo): p50 ${percentile(latencies, 50).toFixed(2)} ms, ` +
    `p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${percentile(latencies, 100).toFixed(1)} ms`,
    `server: peak ${peakTable} live connections, ${final.accepted} accepted, ${final.refused} refused, ${final.errorCount} error events`,
    `  memory: baseline rss ${MiB(baseline.rss)} heap ${MiB(baseline.heapUsed)}; peak rss ${MiB(peak.rss)} heap ${MiB(peak.heapUsed)}; ` +
    `after the run + GC rss ${MiB(final.rss)} heap ${MiB(final.heapUsed)}`,
    `  table at the end: ${atEnd.table} rows; GET /connections lists ${others} other connection(s)`,
    `  closes: ${Object.entries(final.closeReasons).sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${reason} ×${n}`).join('; ')}`,
    '',
  ].join('\n'));

  const problems: string[] = [];
  for (const [name, t] of Object.entries(tallies)) {
    if (t.lost + t.reordered + t.corrupted + t.failures > 0) problems.push(`${name}: ${t.failureLog.slice(0, 5).join(' | ')}`);
    if (t.received === 0) problems.push(`${name}: no traffic at all`);
  }
  if (final.errorCount > 0) problems.push(`server error events: ${final.errors.slice(0, 5).map((e) => `${e.code}: ${e.message}`).join(' | ')}`);
  if (final.refused > 0) problems.push(`${final.refused} connections refused`);
  if (atEnd.table > 0 || others > 0) problems.push(`connection table not empty: ${atEnd.table} rows, ${others} others in /connections`);
  if (final.heapUsed > baseline.heapUsed + HEAP_SLACK) problems.push(`server heap ${MiB(final.heapUsed)} not back near its baseline ${MiB(baseline.heapUsed)}`);
  if (problems.length > 0) {
    process.stdout.write(`soak: FAILED\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write('soak: passed — nothing lost, reordered or corrupted; no server error; table empty; heap back at baseline\n');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed to run: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
