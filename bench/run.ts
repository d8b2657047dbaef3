/**
 * `npm run bench`: every scenario runs its targets interleaved (A B A B …, `--repeats` times, median
 * quoted), each target a separate server process driven by a separate load-client process, and prints
 * figures with ratios plus how busy server and client were (a client near 100 % means the figure is
 * client-bound). Results also go to bench/results/<time>.json and bench/results/latest.json.
 *
 *   npm run bench -- [--seconds 3] [--repeats 3] [--only http-keepalive,ws-echo,workers] [--idle 10000] [--settle 20] [--no-wrk]
 *                    [--h2-sessions 5] [--h2-streams 10] [--echo-messages 30000,2000]
 *                    [--idle-deflate 5000] [--pressure-connections 500] [--pressure-seconds 5]
 *
 * Scenarios, in the default run's order: http-keepalive, http-close (vs node:http), ws-echo (32 B … 1 MiB
 * vs a raw node:net echo), handshake (connect, upgrade, one echo, close: vs node-http-upgrade, a minimal
 * node:http server doing the same upgrade with a correct 101, and vs node:http's Connection: close), idle
 * (RSS per idle WebSocket vs net-upgrade, the minimal-101 floor, and a bare socket), wss-echo (1 KiB / 64
 * KiB: switchyard with `tls` vs tls-echo, a raw node:tls echo, the same client over node:tls),
 * h2-requests, h2-ws-echo, ws-deflate-echo, idle-ws-deflate (below), workers (keep-alive and WebSocket echo
 * 1 KiB / 64 KiB against `node dist/cli.js serve` as one process and with `--workers 2`, server CPU summed
 * over the primary and its workers; needs `npm run build`), then the diagnostics h2-window,
 * deflate-tuning, deflate-pressure and pcap (serve vs serve --pcap). The HTTP/2 ones: h2-requests
 * (switchyard vs node:http2, the same node:http2 client), h2-ws-echo (WebSocket over h2 streams vs over
 * HTTP/1.1, the same echo loop) and h2-window (the same h2 echo with wider flow-control windows).
 * HTTP/1.1 scenarios use wrk when it is installed (`apt-get install wrk`), else bench/load.ts; h2-requests
 * adds a second pair of rows driven by h2load when it is installed (`apt-get install nghttp2-client`).
 *
 * permessage-deflate (RFC 7692), all driven by one deflate-speaking client (bench/ws-deflate-loop.ts):
 * ws-deflate-echo (1 KiB / 64 KiB, JSON-like / random: switchyard vs itself with the extension declined vs
 * `ws` with perMessageDeflate), deflate-tuning (window bits, level, memLevel, threshold), idle-ws-deflate
 * (RSS per idle connection after one compressed message each way; `--idle-deflate 5000`) and
 * deflate-pressure (RSS before / during / after `--pressure-connections 500` connections echoing 16 KiB
 * for `--pressure-seconds 5`). The ws rows need `npm run bench:peers` (ws in bench/peers, not a dependency
 * of switchyard); without it they are skipped with a note. bench/deflate-micro.ts measures the codec alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { busy, sampleProcess, sampleProcesses } from './process-stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '3' },
    only: { type: 'string' },
    idle: { type: 'string', default: '10000' },
    settle: { type: 'string', default: '20' },
    connections: { type: 'string', default: '50' },
    'no-wrk': { type: 'boolean', default: false },
    'h2-sessions': { type: 'string', default: '5' },
    'h2-streams': { type: 'string', default: '10' },
    'echo-messages': { type: 'string', default: '30000,2000' },
    'idle-deflate': { type: 'string', default: '5000' },
    'pressure-connections': { type: 'string', default: '500' },
    'pressure-seconds': { type: 'string', default: '5' },
  },
});
const SECONDS = Number(values.seconds);
const REPEATS = Number(values.repeats);
const CONNECTIONS = Number(values.connections);
const IDLE = Number(values.idle);
const SETTLE_SECONDS = Number(values.settle);
/**
 * Every scenario, in the order the default run (no --only) takes them: the issue's headline comparisons
 * first (HTTP/1.1, WebSocket echo, handshakes, idle memory, wss://, HTTP/2, permessage-deflate, workers),
 * then the diagnostics (h2 flow-control windows, deflate knobs and memory pressure, the pcap's cost).
 */
const SCENARIOS = ['http-keepalive', 'http-close', 'ws-echo', 'handshake', 'idle', 'wss-echo', 'h2-requests', 'h2-ws-echo', 'ws-deflate-echo', 'idle-ws-deflate', 'workers', 'h2-window', 'deflate-tuning', 'deflate-pressure', 'pcap'];
const only = values.only ? new Set(values.only.split(',')) : undefined;
for (const name of only ?? []) {
  if (!SCENARIOS.includes(name)) { console.error(`unknown scenario ${name}; one of: ${SCENARIOS.join(', ')}`); process.exit(2); }
}
// HTTP/2 requests: 5 sessions × 10 streams keeps 50 requests in flight, as many as the HTTP/1.1 scenarios'
// 50 connections; on 2 cores one client process is already near a core at that depth, so more sessions
// or streams would measure the client's queueing, not the server.
const H2_SESSIONS = Number(values['h2-sessions']);
const H2_STREAMS = Number(values['h2-streams']);
// WebSocket over h2 vs HTTP/1.1: messages per connection or stream at 1 KiB and at 64 KiB, the same count
// on every side of a ratio (each run then lasts ~1-6 s on 2 cores).
const [ECHO_MESSAGES_1K, ECHO_MESSAGES_64K] = values['echo-messages'].split(',').map(Number) as [number, number];
/** permessage-deflate: idle connections per target, and the concurrent-connections memory check. */
const IDLE_DEFLATE = Number(values['idle-deflate']);
const PRESSURE_CONNECTIONS = Number(values['pressure-connections']);
const PRESSURE_SECONDS = Number(values['pressure-seconds']);
/** `ws`, the optional reference for the deflate scenarios: `npm run bench:peers` installs it in bench/peers. */
const WS_INSTALLED = existsSync(join(here, '..', '..', 'bench', 'peers', 'node_modules', 'ws', 'package.json'));
/** ws's perMessageDeflate as it ships (`true`: level 6 via zlib's default, 15-bit windows, threshold 1024, concurrencyLimit 10) … */
const WS_DEFLATE_DEFAULTS = { perMessageDeflate: true };
/** … and set to switchyard's defaults, so the two implementations are compared at the same compression work. */
const WS_DEFLATE_MATCHED = { perMessageDeflate: { threshold: 64, serverMaxWindowBits: 12, clientMaxWindowBits: 12, zlibDeflateOptions: { level: 1, memLevel: 8 } } };
/** The wide-window diagnostic: switchyard's per-stream receive window, and the client's per stream and per session. */
const WIDE_SERVER_WINDOW = 1 << 20;
const WIDE_CLIENT_WINDOW = 16 << 20;

/**
 * A server under load. `pids`, when set, are every process whose CPU and RSS count as the server's (a
 * `--workers` cluster: the primary first, then its workers; otherwise just the child). `stop`, when set,
 * is how to end it and wait until it has exited.
 */
interface Target { name: string; child: ChildProcess; port: number; pids?: number[]; stop?: () => Promise<void>; stderr?: () => string }
/** RSS growth per idle connection, in bytes: right after opening them, and once V8 has settled. */
interface IdleGrowth { atOnce: number; settled: number }

async function startTarget(kind: string, nodeFlags: string[] = [], limits?: object, name = kind, env?: Record<string, string>): Promise<Target> {
  const child = spawn(process.execPath, [...nodeFlags, join(here, 'target-server.js'), kind, ...(limits ? [JSON.stringify(limits)] : [])], { stdio: ['ignore', 'pipe', 'inherit'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  let out = '';
  for await (const chunk of child.stdout!) {
    out += chunk;
    const match = /port (\d+)/.exec(out);
    if (match) return { name, child, port: Number(match[1]) };
  }
  throw new Error(`${kind} did not start`);
}

interface Measured {
  result: Record<string, number>; serverBusy: number; clientBusy: number; serverRss: number; serverRssPeak: number;
  /** With several server processes: each one's busy fraction, in the order of `Target.pids`. */
  serverParts?: number[];
}

/** `switchyard serve` itself (the built CLI, dist/cli.js), for the `workers` scenario. */
const CLI = join(here, '..', '..', 'dist', 'cli.js');
/** The limits target-server.ts raises for switchyard, as serve flags: the bench measures speed, not the defaults' protection. */
const CLI_LIMITS = ['--backlog', '4096', '--limit', 'maxConnections=50000', '--limit', 'keepAliveTimeoutMs=60000', '--limit', 'headersTimeoutMs=60000'];

/**
 * `node dist/cli.js serve --port 0 [args]` as a target: the port from its banner (`switchyard listening on
 * http://127.0.0.1:PORT/`), and with `--workers` the pids from its `workers: N (pids …)` line, so the
 * primary's and every worker's CPU are summed. Stopped with SIGTERM to the primary (which passes it on to
 * its workers) and waited for; SIGKILL if it is still there after 15 s.
 */
async function startCliTarget(name: string, args: string[]): Promise<Target> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...CLI_LIMITS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const clustered = args.includes('--workers');
  let out = '';
  let err = '';
  // Both pipes stay drained for the child's whole life (its shutdown lines go to stderr).
  child.stderr!.on('data', (d) => { err = (err + d).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = await new Promise<{ port: number; pids?: number[] }>((resolve, reject) => {
    // Cleared once the banner is in: left running, it would kill the target 20 s into the measurements.
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${name} did not print its banner within 20 s: ${out}${err}`)); }, 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const port = /switchyard listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      const pids = /^workers: \d+ \(pids ([\d, ]+)\)/m.exec(out);
      if (port && (!clustered || pids)) {
        clearTimeout(timer);
        resolve({ port: Number(port[1]), ...(pids ? { pids: pids[1]!.split(',').map((p) => Number(p.trim())) } : {}) });
      }
    });
    void exited.then(() => { clearTimeout(timer); reject(new Error(`${name} exited before listening: ${out}${err}`)); });
  });
  const pid = child.pid!;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(pid, 'SIGTERM');
    const force = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 15_000);
    await exited;
    clearTimeout(force);
  };
  return { name, child, port: started.port, pids: [pid, ...(started.pids ?? [])], stop, stderr: () => err };
}

/** wrk (C, far cheaper per request than any Node client) drives the HTTP scenarios when installed. */
const WRK = !values['no-wrk'] && spawnSync('wrk', ['--version']).error === undefined ? 'wrk' : undefined;

function wrkArgs(scenario: string, port: number): string[] | undefined {
  if (WRK === undefined || (scenario !== 'http-keepalive' && scenario !== 'http-close')) return undefined;
  const close = scenario === 'http-close' ? ['-H', 'Connection: close'] : [];
  return ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', ...close, `http://127.0.0.1:${port}/healthz`];
}

/** wrk's report → the load client's JSON shape. */
function parseWrk(out: string): Record<string, number> {
  const number = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0);
  const ms = (label: string): number => {
    const match = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!match) return 0;
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const requests = number(/(\d+) requests in/);
  const errors = number(/Non-2xx or 3xx responses: (\d+)/) + (/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).reduce((n, x) => n + Number(x), 0) ?? 0);
  return { operations: requests, seconds: number(/requests in ([\d.]+)s/), errors, p50: ms('50'), p99: ms('99') };
}

/** h2load (nghttp2's C load generator, `apt-get install nghttp2-client`) for the `h2load-requests` scenario. */
const H2LOAD = spawnSync('h2load', ['--version']).error === undefined ? 'h2load' : undefined;

function h2loadArgs(port: number): string[] {
  return ['-t1', `-c${H2_SESSIONS}`, `-m${H2_STREAMS}`, '-D', String(SECONDS), `http://127.0.0.1:${port}/healthz`];
}

/** h2load's report → the load client's JSON shape (h2load prints a mean, not percentiles). */
function parseH2load(out: string): Record<string, number> {
  const done = Number(/(\d+) done/.exec(out)?.[1] ?? 0);
  const ok = Number(/(\d+) 2xx/.exec(out)?.[1] ?? 0);
  return { operations: ok, seconds: Number(/finished in ([\d.]+)s/.exec(out)?.[1] ?? SECONDS), errors: done - ok };
}

async function measure(target: Target, scenario: string, options: object, allowWrk = true): Promise<Measured> {
  const wrk = allowWrk ? wrkArgs(scenario, target.port) : undefined;
  const h2load = scenario === 'h2load-requests';
  const client = h2load
    ? spawn(H2LOAD!, h2loadArgs(target.port), { stdio: ['pipe', 'pipe', 'inherit'] })
    : wrk
    ? spawn(WRK!, wrk, { stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(process.execPath, [join(here, 'load.js'), scenario, JSON.stringify({ port: target.port, ...options })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const serverPids = target.pids ?? [target.child.pid!];
  const serverBefore = sampleProcesses(serverPids);
  const clientBefore = sampleProcess(client.pid!);
  let out = '';
  client.stdout!.on('data', (d) => { out += d; });
  let clientAfter = clientBefore;
  let serverAfter = serverBefore;
  let serverRssPeak = serverBefore.rssBytes;
  const sampler = setInterval(() => {
    try {
      clientAfter = sampleProcess(client.pid!);
      serverAfter = sampleProcesses(serverPids);
      serverRssPeak = Math.max(serverRssPeak, serverAfter.rssBytes);
    } catch { /* the client just exited */ }
  }, 100);
  const [code] = await once(client, 'exit');
  clearInterval(sampler);
  if (code !== 0) throw new Error(`${scenario} against ${target.name} failed`);
  const result = h2load ? parseH2load(out) : wrk ? parseWrk(out) : JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
  return {
    result, serverBusy: busy(serverBefore, serverAfter), clientBusy: busy(clientBefore, clientAfter), serverRss: serverAfter.rssBytes, serverRssPeak,
    ...(serverPids.length > 1 ? { serverParts: serverBefore.parts.map((p, i) => busy(p, serverAfter.parts[i]!)) } : {}),
  };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

interface Row {
  scenario: string; target: string; metric: string; value: number; unit: string; p50?: number; p99?: number; serverBusy: number; clientBusy: number; errors: number;
  /** Medians of every numeric field of the load client's result, and of the server's peak RSS. */
  medians?: Record<string, number>; serverRssPeak?: number;
  /** With several server processes (Target.pids): the median busy fraction of each. */
  serverParts?: number[];
  /** Printed after the row (the deflate rows: bytes on the wire, memory). */
  note?: string;
}

const rows: Row[] = [];
const ratios: Array<{ what: string; ratio: number; target?: string; unit?: string }> = [];

async function interleaved(scenario: string, targets: Target[], options: object, metric: (m: Measured) => number, unit: string, label = scenario, scenarioFor: (target: Target) => string = () => scenario, allowWrk = true): Promise<Map<string, Row>> {
  return interleavedVariants(label, targets.map((target) => ({
    name: target.name, target, options, allowWrk,
    scenario: target.name.startsWith('net-echo') && scenario === 'ws-echo' ? 'tcp-echo' : scenarioFor(target),
  })), metric, unit);
}

/** One side of a ratio: a target, the load client's scenario and its options (the row is named `name`). */
interface Variant { name: string; target: Target; scenario: string; options: object; allowWrk?: boolean }

/** Run the variants A B C A B C … `REPEATS` times and add one row per variant with the medians. */
async function interleavedVariants(label: string, variants: Variant[], metric: (m: Measured) => number, unit: string): Promise<Map<string, Row>> {
  const runs = new Map<string, Measured[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < REPEATS; r++) {
    for (const v of variants) runs.get(v.name)!.push(await measure(v.target, v.scenario, v.options, v.allowWrk ?? false));
  }
  const out = new Map<string, Row>();
  for (const v of variants) {
    const ms = runs.get(v.name)!;
    const row: Row = {
      scenario: label, target: v.name, metric: unit, value: median(ms.map(metric)), unit,
      serverBusy: median(ms.map((m) => m.serverBusy)), clientBusy: median(ms.map((m) => m.clientBusy)),
      errors: ms.reduce((n, m) => n + (m.result.errors ?? 0), 0),
      medians: Object.fromEntries(Object.keys(ms[0]!.result).map((k) => [k, median(ms.map((m) => m.result[k]!))])),
      serverRssPeak: median(ms.map((m) => m.serverRssPeak)),
      ...(ms[0]!.serverParts ? { serverParts: ms[0]!.serverParts.map((_, i) => median(ms.map((m) => m.serverParts![i]!))) } : {}),
      ...(ms[0]!.result.p50 !== undefined ? { p50: median(ms.map((m) => m.result.p50!)), p99: median(ms.map((m) => m.result.p99!)) } : {}),
    };
    rows.push(row);
    out.set(v.name, row);
  }
  return out;
}

function printTable(): void {
  const header = ['scenario', 'target', 'value', 'p50 ms', 'p99 ms', 'server cpu', 'client cpu', 'errors', ''];
  const lines = rows.map((r) => [
    r.scenario, r.target, `${r.value.toFixed(r.value < 100 ? 2 : 0)} ${r.unit}`,
    r.p50 === undefined ? '' : r.p50.toFixed(2), r.p99 === undefined ? '' : r.p99.toFixed(2),
    `${Math.round(r.serverBusy * 100)}%`, `${Math.round(r.clientBusy * 100)}%`, String(r.errors), r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(fmt(line));
  console.log('\nratios (switchyard / reference, same run):');
  for (const r of ratios) console.log(`  ${r.what.padEnd(64)} ${r.unit === undefined ? `${r.ratio.toFixed(2)}×` : `${r.ratio.toFixed(1)} ${r.unit}`}${r.target ? `   (target ${r.target})` : ''}`);
}

const wants = (name: string): boolean => !only || only.has(name);

/** RSS once the target has collected garbage (SIGUSR2; it must run with --expose-gc). */
async function settledRss(target: Target): Promise<number> {
  target.child.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 1000));
  return sampleProcess(target.child.pid!).rssBytes;
}

const MB = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** A deflate echo row's note: payload bytes on the wire per payload byte, each way, and the server's peak RSS. */
function wireNote(row: Row): string {
  const m = row.medians!;
  const ratio = (wire: number): string => (m.deflate ? (wire / m.bytes!).toFixed(3) : '1 (declined)');
  return `wire s→c ${ratio(m.wireIn!)}, c→s ${ratio(m.wireOut!)}; windows ${m.serverBits}/${m.clientBits}; peak RSS ${MB(row.serverRssPeak!)}`;
}

/** The deflate echo plans: 1 KiB and 64 KiB, JSON-like text and random bytes. */
const DEFLATE_PLANS: Array<{ size: number; window: number; payload: 'json' | 'random'; label: string }> = [
  { size: 1024, window: 16, payload: 'json', label: '1 KiB JSON' },
  { size: 1024, window: 16, payload: 'random', label: '1 KiB random' },
  { size: 65536, window: 4, payload: 'json', label: '64 KiB JSON' },
  { size: 65536, window: 4, payload: 'random', label: '64 KiB random' },
];
const opsPerSecond = (m: Measured): number => m.result.operations! / (m.result.seconds ?? SECONDS);

async function main(): Promise<void> {
  console.log(`switchyard bench — ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${SECONDS}s × ${REPEATS} interleaved runs, ${CONNECTIONS} connections\n`);
  const switchyard = await startTarget('switchyard');
  const nodeHttp = await startTarget('node-http');
  const netEcho = await startTarget('net-echo');
  const extra: Target[] = [];
  try {
    console.log(WRK ? 'HTTP scenarios driven by wrk (-t1); WebSocket scenarios by bench/load.ts\n' : 'wrk not installed: every scenario driven by bench/load.ts\n');
    // The HTTP scenarios also run net-http-floor, no parser at all (one canned answer per chunk read): the
    // most any Node server reaches under this client. Its ratio to node:http bounds what a target
    // "N× node:http" can mean on this machine: a target above it is beyond reach.
    const httpFloor = wants('http-keepalive') || wants('http-close') ? await startTarget('net-http-floor') : undefined;
    if (httpFloor) extra.push(httpFloor);
    if (wants('http-keepalive')) {
      const r = await interleaved('http-keepalive', [switchyard, nodeHttp, httpFloor!], { seconds: SECONDS, connections: CONNECTIONS }, opsPerSecond, 'req/s');
      ratios.push({ what: 'keep-alive GET /healthz vs node:http', ratio: r.get('switchyard')!.value / r.get('node-http')!.value, target: '≥ 1.5' });
      ratios.push({ what: 'keep-alive: the no-parser node:net floor vs node:http (the most any ratio above can be)', ratio: r.get('net-http-floor')!.value / r.get('node-http')!.value, target: '—' });
    }
    if (wants('http-close')) {
      const r = await interleaved('http-close', [switchyard, nodeHttp, httpFloor!], { seconds: SECONDS, connections: CONNECTIONS }, opsPerSecond, 'req/s');
      ratios.push({ what: 'Connection: close vs node:http', ratio: r.get('switchyard')!.value / r.get('node-http')!.value, target: '≥ 1.3' });
      ratios.push({ what: 'Connection: close: the no-parser node:net floor vs node:http', ratio: r.get('net-http-floor')!.value / r.get('node-http')!.value, target: '—' });
    }
    if (wants('ws-echo')) {
      // net-echo as Node runs it, and net-echo-kept: the same with glibc's trimming raised as switchyard
      // raises it (src/read-buffer-pages.ts), so neither side of a ratio has page faults
      // the other lacks.
      const netEchoKept = await startTarget('net-echo-kept');
      extra.push(netEchoKept);
      const plans: Array<[number, number, string, string]> = [[32, 16, '32 B', '≥ 0.06'], [1024, 16, '1 KiB', '≥ 0.15'], [65536, 4, '64 KiB', '≥ 0.97'], [1048576, 2, '1 MiB', '≥ 0.90']];
      for (const [size, window, label, target] of plans) {
        const r = await interleaved('ws-echo', [switchyard, netEcho, netEchoKept], { seconds: SECONDS, connections: CONNECTIONS, size, window }, (m) => m.result.bytes! / m.result.seconds! / 1e6, 'MB/s', `echo ${label}`);
        ratios.push({ what: `WebSocket echo ${label} vs raw TCP echo (MB/s)`, ratio: r.get('switchyard')!.value / r.get('net-echo')!.value, target });
        ratios.push({ what: `WebSocket echo ${label} vs raw TCP echo with read-buffer pages kept like switchyard's (MB/s)`, ratio: r.get('switchyard')!.value / r.get('net-echo-kept')!.value, target: '—' });
      }
    }
    if (wants('handshake')) {
      // connect → upgrade → one 16 B echo → close handshake → TCP closed, the same bench/load.ts client
      // (wrk cannot speak WebSocket) against switchyard and against node-http-upgrade, a minimal node:http
      // server doing the same upgrade with a correct 101 (its 'upgrade' event, Sec-WebSocket-Accept, one
      // frame echoed, the close answered): the floor any server on node:http pays. Kept from before, in the
      // same interleaved runs: node:http's Connection: close request cycle (a connection's life, no upgrade).
      // net-handshake-floor, node:net and a regular expression answering the same cycle with nothing
      // checked, is the most any Node server reaches under this client.
      const nodeUpgrade = await startTarget('node-http-upgrade');
      const handshakeFloor = await startTarget('net-handshake-floor');
      extra.push(nodeUpgrade, handshakeFloor);
      const options = { seconds: SECONDS, connections: CONNECTIONS };
      const r = await interleavedVariants('handshake cycles', [
        { name: 'switchyard', target: switchyard, scenario: 'handshake', options },
        { name: 'node-http-upgrade', target: nodeUpgrade, scenario: 'handshake', options },
        { name: 'net-handshake-floor', target: handshakeFloor, scenario: 'handshake', options },
        { name: 'node-http Connection: close', target: nodeHttp, scenario: 'http-close', options },
      ], opsPerSecond, 'cycles/s');
      const sy = r.get('switchyard')!.value;
      ratios.push({ what: 'handshake cycles vs minimal node:http upgrade (101, one echo, close)', ratio: sy / r.get('node-http-upgrade')!.value, target: '≥ 1.25' });
      ratios.push({ what: 'handshake: the unchecked node:net floor vs minimal node:http upgrade (the most the ratio above can be)', ratio: r.get('net-handshake-floor')!.value / r.get('node-http-upgrade')!.value, target: '—' });
      ratios.push({ what: "handshake cycles vs node:http's Connection: close", ratio: sy / r.get('node-http Connection: close')!.value, target: '≥ 0.75' });
    }
    if (wants('idle') && IDLE > 0) {
      // Fresh processes, garbage collected before each sample: the figure is what a connection keeps
      // alive, not what earlier scenarios or the handshakes left for the collector.
      const settledRss = async (target: Target): Promise<number> => {
        target.child.kill('SIGUSR2');
        await new Promise((r) => setTimeout(r, 1000));
        return sampleProcess(target.child.pid!).rssBytes;
      };
      const perConnection = async (kind: string, scenario: string): Promise<IdleGrowth> => {
        const target = await startTarget(kind, ['--expose-gc']);
        try {
          return await idleGrowth(target, scenario);
        } finally {
          target.child.kill();
        }
      };
      const idleGrowth = async (target: Target, scenario: string): Promise<IdleGrowth> => {
        const before = await settledRss(target);
        const client = spawn(process.execPath, [join(here, 'load.js'), scenario, JSON.stringify({ port: target.port, count: IDLE, connections: 0, seconds: 0 })], { stdio: ['pipe', 'pipe', 'inherit'] });
        let out = '';
        await new Promise<void>((resolve) => client.stdout!.on('data', (d) => { out += d; if (out.includes('opened')) resolve(); }));
        const atOnce = await settledRss(target);
        // V8 grows its young generation during a burst of allocation (thousands of handshakes) and hands
        // the pages back only once the process has been quiet for a while (its memory reducer runs some
        // seconds after the last full collection). Sampled at once, that fixed ~15-30 MB is divided among
        // the connections; settled, what remains is what the connections themselves keep.
        await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));
        const settled = await settledRss(target);
        client.stdin!.write('stop\n');
        await once(client, 'exit');
        return { atOnce: (atOnce - before) / IDLE, settled: (settled - before) / IDLE };
      };
      const ws = await perConnection('switchyard', 'idle-ws');
      const floor = await perConnection('net-upgrade', 'idle-ws');
      const tcp = await perConnection('net-echo', 'idle-tcp');
      const views: Array<[string, (m: IdleGrowth) => number]> = [['at once', (m) => m.atOnce], [`settled ${SETTLE_SECONDS} s`, (m) => m.settled]];
      for (const [when, pick] of views) {
        rows.push({ scenario: `idle ${IDLE} (${when})`, target: 'switchyard', metric: 'B/conn', value: pick(ws), unit: 'B RSS/conn', serverBusy: 0, clientBusy: 0, errors: 0 });
        rows.push({ scenario: `idle ${IDLE} (${when})`, target: 'net-upgrade', metric: 'B/conn', value: pick(floor), unit: 'B RSS/conn', serverBusy: 0, clientBusy: 0, errors: 0 });
        rows.push({ scenario: `idle ${IDLE} (${when})`, target: 'net-echo', metric: 'B/conn', value: pick(tcp), unit: 'B RSS/conn', serverBusy: 0, clientBusy: 0, errors: 0 });
        const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} KB`;
        ratios.push({ what: `idle WebSocket ${when} vs minimal 101 (${kb(pick(ws))} vs ${kb(pick(floor))}; bare ${kb(pick(tcp))})`, ratio: pick(ws) / pick(floor), target: '≤ 1.1' });
      }
    }
    if (wants('wss-echo')) {
      // wss://: switchyard started with `tls` (the fixture certificate; target-server.ts switchyard-tls)
      // against tls-echo, a node:tls server writing back what it decrypted (the ceiling for bytes through
      // TLS in Node), the same echo client over node:tls (no ALPN: HTTP/1.1, then the 101), as ws-echo does
      // against net-echo.
      const switchyardTls = await startTarget('switchyard-tls');
      const tlsEcho = await startTarget('tls-echo');
      extra.push(switchyardTls, tlsEcho);
      const plans: Array<[number, number, string]> = [[1024, 16, '1 KiB'], [65536, 4, '64 KiB']];
      for (const [size, window, label] of plans) {
        const options = { seconds: SECONDS, connections: CONNECTIONS, size, window, tls: true };
        const r = await interleavedVariants(`wss echo ${label}`, [
          { name: 'switchyard wss', target: switchyardTls, scenario: 'ws-echo', options },
          { name: 'tls-echo', target: tlsEcho, scenario: 'tcp-echo', options },
        ], (m) => m.result.bytes! / m.result.seconds! / 1e6, 'MB/s');
        ratios.push({ what: `wss:// echo ${label} vs raw node:tls echo (MB/s)`, ratio: r.get('switchyard wss')!.value / r.get('tls-echo')!.value });
      }
    }
    if (wants('h2-requests')) {
      // The same node:http2 client process on both sides; cleartext with prior knowledge.
      const nodeHttp2 = await startTarget('node-http2');
      extra.push(nodeHttp2);
      const options = { seconds: SECONDS, sessions: H2_SESSIONS, streams: H2_STREAMS };
      const r = await interleavedVariants(`h2 GET /healthz ${H2_SESSIONS}×${H2_STREAMS}`, [
        { name: 'switchyard', target: switchyard, scenario: 'h2-requests', options },
        { name: 'node-http2', target: nodeHttp2, scenario: 'h2-requests', options },
      ], opsPerSecond, 'req/s');
      ratios.push({ what: `HTTP/2 GET /healthz (${H2_SESSIONS} sessions × ${H2_STREAMS} streams) vs node:http2`, ratio: r.get('switchyard')!.value / r.get('node-http2')!.value, target: '≥ 1.0' });
      if (H2LOAD) {
        // The node:http2 client is itself near a core at this depth; h2load, in C, is far cheaper per request.
        const c = await interleavedVariants(`h2load GET /healthz -c${H2_SESSIONS} -m${H2_STREAMS}`, [
          { name: 'switchyard', target: switchyard, scenario: 'h2load-requests', options },
          { name: 'node-http2', target: nodeHttp2, scenario: 'h2load-requests', options },
        ], opsPerSecond, 'req/s');
        ratios.push({ what: `HTTP/2 GET /healthz, h2load -c${H2_SESSIONS} -m${H2_STREAMS}, vs node:http2`, ratio: c.get('switchyard')!.value / c.get('node-http2')!.value, target: '≥ 1.0' });
      }
    }
    if (wants('h2-ws-echo')) {
      // Ten conversations each way: ten TCP connections (HTTP/1.1 + 101), ten streams on one session
      // (multiplexed: one socket, one connection-level window), ten sessions of one stream (h2's framing
      // and per-stream machinery without the sharing). The same echo loop, window and message count.
      const plans: Array<[number, number, number, string]> = [[1024, 16, ECHO_MESSAGES_1K, '1 KiB'], [65536, 4, ECHO_MESSAGES_64K, '64 KiB']];
      for (const [size, window, messages, label] of plans) {
        const base = { size, window, messages, seconds: SECONDS };
        const r = await interleavedVariants(`ws echo ${label} ×${messages}`, [
          { name: 'http/1.1 10 conns', target: switchyard, scenario: 'ws-echo', options: { ...base, connections: 10 } },
          { name: 'h2 1 session × 10', target: switchyard, scenario: 'h2-ws-echo', options: { ...base, sessions: 1, streams: 10 } },
          { name: 'h2 10 sessions × 1', target: switchyard, scenario: 'h2-ws-echo', options: { ...base, sessions: 10, streams: 1 } },
        ], (m) => m.result.operations! / m.result.seconds!, 'msg/s');
        const h1 = r.get('http/1.1 10 conns')!.value;
        const mb = (name: string): string => `${(r.get(name)!.value * size / 1e6).toFixed(0)} MB/s`;
        ratios.push({ what: `WS echo ${label}, h2 1 session × 10 streams vs HTTP/1.1 ×10 (${mb('h2 1 session × 10')} vs ${mb('http/1.1 10 conns')})`, ratio: r.get('h2 1 session × 10')!.value / h1 });
        ratios.push({ what: `WS echo ${label}, h2 10 sessions × 1 stream vs HTTP/1.1 ×10 (${mb('h2 10 sessions × 1')})`, ratio: r.get('h2 10 sessions × 1')!.value / h1 });
      }
    }
    if (wants('ws-deflate-echo')) {
      // The same deflate-speaking client (bench/ws-deflate-loop.ts) against: switchyard as it ships
      // (deflate on), switchyard declining it (webSocketDeflateWindowBits=0: plain frames, same payloads),
      // and ws with perMessageDeflate, as it ships and set to switchyard's choices.
      const plain = await startTarget('switchyard', [], { webSocketDeflateWindowBits: 0 }, 'switchyard no deflate');
      extra.push(plain);
      const sides: Target[] = [switchyard, plain];
      if (WS_INSTALLED) {
        const wsDefaults = await startTarget('ws', [], WS_DEFLATE_DEFAULTS, 'ws deflate (defaults)');
        const wsMatched = await startTarget('ws', [], WS_DEFLATE_MATCHED, 'ws deflate (L1, 12 bits, 64 B)');
        extra.push(wsDefaults, wsMatched);
        sides.push(wsDefaults, wsMatched);
      } else {
        console.log('ws not installed (npm run bench:peers): ws-deflate-echo runs without the ws rows\n');
      }
      for (const plan of DEFLATE_PLANS) {
        const options = { seconds: SECONDS, connections: CONNECTIONS, size: plan.size, window: plan.window, payload: plan.payload };
        const r = await interleavedVariants(`deflate echo ${plan.label}`, sides.map((target) => ({ name: target.name, target, scenario: 'ws-deflate-echo', options })),
          (m) => m.result.operations! / m.result.seconds!, 'msg/s');
        for (const row of r.values()) row.note = wireNote(row);
        const sy = r.get('switchyard')!.value;
        ratios.push({ what: `deflate echo ${plan.label}: switchyard deflate vs switchyard without (msg/s)`, ratio: sy / r.get(plain.name)!.value });
        for (const name of [...r.keys()].filter((n) => n.startsWith('ws '))) ratios.push({ what: `deflate echo ${plan.label}: switchyard vs ${name} (msg/s)`, ratio: sy / r.get(name)!.value });
      }
    }
    if (wants('idle-ws-deflate') && IDLE_DEFLATE > 0) {
      // As `idle`, fresh processes with --expose-gc, sampled at once and settled; each connection offered
      // permessage-deflate and exchanged one 1 KiB JSON-like message each way (compressed when agreed), so
      // whatever a compressing connection keeps between messages (histories, zlib streams) is in place.
      const growth = async (kind: string, limits: object, name: string): Promise<IdleGrowth & { agreed: number }> => {
        const target = await startTarget(kind, ['--expose-gc'], limits, name);
        try {
          const before = await settledRss(target);
          const client = spawn(process.execPath, [join(here, 'load.js'), 'idle-ws-deflate', JSON.stringify({ port: target.port, count: IDLE_DEFLATE, connections: 0, seconds: 0, size: 1024 })], { stdio: ['pipe', 'pipe', 'inherit'] });
          let out = '';
          await new Promise<void>((resolve) => client.stdout!.on('data', (d) => { out += d; if (out.includes('opened')) resolve(); }));
          const opened = JSON.parse(out.trim().split('\n')[0]!) as { agreed: number; errors: number };
          if (opened.errors > 0) throw new Error(`idle-ws-deflate against ${name}: ${opened.errors} bad echoes`);
          const atOnce = await settledRss(target);
          await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));
          const settled = await settledRss(target);
          client.stdin!.write('stop\n');
          await once(client, 'exit');
          return { atOnce: (atOnce - before) / IDLE_DEFLATE, settled: (settled - before) / IDLE_DEFLATE, agreed: opened.agreed };
        } finally {
          target.child.kill();
        }
      };
      const sides: Array<[string, string, object]> = [
        ['switchyard', 'switchyard', {}],
        ['switchyard no deflate', 'switchyard', { webSocketDeflateWindowBits: 0 }],
        ['switchyard 15 bits', 'switchyard', { webSocketDeflateWindowBits: 15, webSocketDeflateClientWindowBits: 15 }],
        ['switchyard 10 bits', 'switchyard', { webSocketDeflateWindowBits: 10, webSocketDeflateClientWindowBits: 10 }],
        ['switchyard level 6, memLevel 9', 'switchyard', { webSocketDeflateLevel: 6, webSocketDeflateMemLevel: 9 }],
      ];
      if (WS_INSTALLED) sides.push(['ws deflate (defaults)', 'ws', WS_DEFLATE_DEFAULTS], ['ws deflate (L1, 12 bits, 64 B)', 'ws', WS_DEFLATE_MATCHED], ['ws no deflate', 'ws', {}]);
      else console.log('ws not installed (npm run bench:peers): idle-ws-deflate runs without the ws rows\n');
      const results: Array<[string, IdleGrowth & { agreed: number }]> = [];
      for (const [name, kind, limits] of sides) results.push([name, await growth(kind, limits, name)]);
      for (const [when, pick] of [['at once', (m: IdleGrowth) => m.atOnce], [`settled ${SETTLE_SECONDS} s`, (m: IdleGrowth) => m.settled]] as const) {
        for (const [name, m] of results) {
          rows.push({ scenario: `idle deflate ${IDLE_DEFLATE} (${when})`, target: name, metric: 'B/conn', value: pick(m), unit: 'B RSS/conn', serverBusy: 0, clientBusy: 0, errors: 0, note: `${m.agreed} of ${IDLE_DEFLATE} agreed to deflate` });
        }
        const plainSy = results.find(([n]) => n === 'switchyard no deflate')![1];
        ratios.push({ what: `idle KB/conn ${when}: switchyard deflate minus switchyard without`, ratio: (pick(results[0]![1]) - pick(plainSy)) / 1000, unit: 'KB' });
        const wsD = results.find(([n]) => n === 'ws deflate (defaults)')?.[1];
        const wsP = results.find(([n]) => n === 'ws no deflate')?.[1];
        if (wsD && wsP) ratios.push({ what: `idle KB/conn ${when}: ws deflate (defaults) minus ws without`, ratio: (pick(wsD) - pick(wsP)) / 1000, unit: 'KB' });
      }
    }
    if (wants('workers')) {
      // Issue #14: `serve --workers 2` (node:cluster; the primary accept()s every connection and hands it to
      // a worker in turn) against `serve` as one process, both the built CLI with the same raised limits,
      // the same clients as http-keepalive (wrk when installed) and ws-echo (no permessage-deflate offered).
      // Server CPU is the primary's and the workers' summed; each row's note splits it. On a machine with
      // few cores the load client competes with the workers for them, so the ratio is a floor, not what two
      // workers give where each has a core of its own.
      const one = await startCliTarget('serve', []);
      extra.push(one);
      const two = await startCliTarget('serve --workers 2', ['--workers', '2']);
      extra.push(two);
      console.log(`workers: serve pid ${one.child.pid}; serve --workers 2 primary ${two.pids![0]}, workers ${two.pids!.slice(1).join(', ')}\n`);
      const cores = cpus().length;
      const caveat = cores <= 4 ? `; ${cores} cores shared by the client, the primary and 2 workers` : '';
      const split = (row: Row): void => {
        if (row.serverParts === undefined) return;
        const [primary, ...workers] = row.serverParts.map((b) => `${Math.round(b * 100)}%`);
        row.note = `server cpu = primary ${primary} + workers ${workers.join(' + ')}`;
      };
      const ka = await interleaved('http-keepalive', [one, two], { seconds: SECONDS, connections: CONNECTIONS }, opsPerSecond, 'req/s', 'workers keep-alive');
      for (const row of ka.values()) split(row);
      ratios.push({ what: `keep-alive GET /healthz, serve --workers 2 vs serve${caveat}`, ratio: ka.get(two.name)!.value / ka.get(one.name)!.value });
      const plans: Array<[number, number, string]> = [[1024, 16, '1 KiB'], [65536, 4, '64 KiB']];
      for (const [size, window, label] of plans) {
        const r = await interleaved('ws-echo', [one, two], { seconds: SECONDS, connections: CONNECTIONS, size, window }, (m) => m.result.bytes! / m.result.seconds! / 1e6, 'MB/s', `workers echo ${label}`);
        for (const row of r.values()) split(row);
        ratios.push({ what: `WebSocket echo ${label}, serve --workers 2 vs serve (MB/s)${caveat}`, ratio: r.get(two.name)!.value / r.get(one.name)!.value });
      }
    }
    if (wants('h2-window')) {
      // Is 64 KiB over h2 bound by flow control? The same echo (a) against switchyard as it ships, (b)
      // against a second switchyard whose per-stream receive window is 1 MiB (a limits override, not a code
      // change) with a client granting 16 MiB per stream and per session, and against node:http2's own
      // raw stream echo (no WebSocket) with (c) default windows, (d) the same wide stream windows as (b),
      // (e) those plus a 16 MiB connection-level receive window, which no switchyard limit sets today, and
      // (f) switchyard as (b) plus that session window (target-server.ts wraps node's handshake to set it).
      const wide = await startTarget('switchyard', [], { http2InitialWindowBytes: WIDE_SERVER_WINDOW }, 'switchyard-wide');
      const raw = await startTarget('node-http2-echo', [], {}, 'h2-raw-echo');
      const rawStream = await startTarget('node-http2-echo', [], { streamWindow: WIDE_SERVER_WINDOW }, 'h2-raw-echo-stream-wide');
      const rawAll = await startTarget('node-http2-echo', [], { streamWindow: WIDE_SERVER_WINDOW, sessionWindow: WIDE_CLIENT_WINDOW }, 'h2-raw-echo-all-wide');
      const wideSession = await startTarget('switchyard', [], { http2InitialWindowBytes: WIDE_SERVER_WINDOW, sessionWindow: WIDE_CLIENT_WINDOW }, 'switchyard-wide-session');
      extra.push(wide, raw, rawStream, rawAll, wideSession);
      const base = { size: 65536, window: 4, messages: ECHO_MESSAGES_64K, seconds: SECONDS };
      const shapes = [[1, 10], [10, 1]] as const;
      const variants: Variant[] = [];
      for (const [sessions, streams] of shapes) {
        const o = { ...base, sessions, streams };
        const w = { ...o, clientWindow: WIDE_CLIENT_WINDOW };
        variants.push(
          { name: `${sessions}×${streams} (a) switchyard, defaults`, target: switchyard, scenario: 'h2-ws-echo', options: o },
          { name: `${sessions}×${streams} (b) switchyard, stream windows wide`, target: wide, scenario: 'h2-ws-echo', options: w },
          { name: `${sessions}×${streams} (c) node:http2 echo, defaults`, target: raw, scenario: 'h2-raw-echo', options: o },
          { name: `${sessions}×${streams} (d) node:http2 echo, stream windows wide`, target: rawStream, scenario: 'h2-raw-echo', options: w },
          { name: `${sessions}×${streams} (e) node:http2 echo, + session window`, target: rawAll, scenario: 'h2-raw-echo', options: w },
          { name: `${sessions}×${streams} (f) switchyard, + session window`, target: wideSession, scenario: 'h2-ws-echo', options: w },
        );
      }
      const r = await interleavedVariants(`64 KiB h2 windows ×${ECHO_MESSAGES_64K}`, variants, (m) => m.result.operations! / m.result.seconds!, 'msg/s');
      for (const [sessions, streams] of shapes) {
        const v = (letter: string): number => [...r.entries()].find(([name]) => name.startsWith(`${sessions}×${streams} (${letter})`))![1].value;
        ratios.push({ what: `64 KiB h2 ${sessions}×${streams}: switchyard wide stream windows vs defaults`, ratio: v('b') / v('a') });
        ratios.push({ what: `64 KiB h2 ${sessions}×${streams}: switchyard WebSocket vs node:http2 raw echo`, ratio: v('a') / v('c') });
        ratios.push({ what: `64 KiB h2 ${sessions}×${streams}: raw echo, + 16 MiB session window vs wide streams`, ratio: v('e') / v('d') });
        ratios.push({ what: `64 KiB h2 ${sessions}×${streams}: switchyard + 16 MiB session window vs wide streams`, ratio: v('f') / v('b') });
      }
    }
    if (wants('deflate-tuning')) {
      // switchyard's deflate defaults one at a time (window bits for both directions, level, memLevel,
      // threshold), the same client and JSON-like payloads; messages around the threshold for the threshold.
      const variant = (name: string, limits: object): Promise<Target> => startTarget('switchyard', [], limits, name);
      const knobs = [
        await variant('defaults (12 bits, L1, mem 8, 64 B)', {}),
        await variant('15 bits', { webSocketDeflateWindowBits: 15, webSocketDeflateClientWindowBits: 15 }),
        await variant('10 bits', { webSocketDeflateWindowBits: 10, webSocketDeflateClientWindowBits: 10 }),
        await variant('level 6', { webSocketDeflateLevel: 6 }),
        await variant('memLevel 5', { webSocketDeflateMemLevel: 5 }),
        await variant('memLevel 9', { webSocketDeflateMemLevel: 9 }),
      ];
      const thresholds = [await variant('threshold 0', { webSocketDeflateThresholdBytes: 0 }), await variant('threshold 1024', { webSocketDeflateThresholdBytes: 1024 })];
      extra.push(...knobs, ...thresholds);
      const plans: Array<[number, number, Target[], string]> = [
        [1024, 16, knobs, '1 KiB'], [16384, 8, knobs, '16 KiB'], [65536, 4, knobs, '64 KiB'],
        [32, 16, thresholds, '32 B'], [128, 16, thresholds, '128 B'], [512, 16, thresholds, '512 B'],
      ];
      for (const [size, window, targets, label] of plans) {
        const options = { seconds: SECONDS, connections: CONNECTIONS, size, window, payload: 'json' };
        const r = await interleavedVariants(`tuning ${label} JSON`, targets.map((target) => ({ name: target.name, target, scenario: 'ws-deflate-echo', options })),
          (m) => m.result.operations! / m.result.seconds!, 'msg/s');
        for (const row of r.values()) row.note = wireNote(row);
        const [base, ...rest] = [...r.values()];
        for (const row of rest) ratios.push({ what: `tuning ${label} JSON: ${row.target} vs ${base!.target} (msg/s; wire s→c ${(row.medians!.wireIn! / row.medians!.bytes!).toFixed(3)} vs ${(base!.medians!.wireIn! / base!.medians!.bytes!).toFixed(3)})`, ratio: row.value / base!.value });
      }
    }
    if (wants('deflate-pressure')) {
      // Thread pool and fragmentation: PRESSURE_CONNECTIONS connections, each echoing 16 KiB JSON-like
      // messages (compressed both ways) with 2 in flight, for PRESSURE_SECONDS. Fresh target each, RSS
      // sampled every 100 ms; before (collected), peak during, and after the clients left (collected at
      // once, and again after --settle). zlib contexts that live through the load show in the peak; heap
      // fragmentation from thread-pool zlib shows as RSS that does not come back after.
      const sides: Array<[string, string, object]> = [
        ['switchyard', 'switchyard', {}],
        ['switchyard no deflate', 'switchyard', { webSocketDeflateWindowBits: 0 }],
      ];
      if (WS_INSTALLED) {
        sides.push(
          ['ws deflate (defaults, concurrencyLimit 10)', 'ws', WS_DEFLATE_DEFAULTS],
          ['ws deflate (L1, 12 bits, 64 B)', 'ws', WS_DEFLATE_MATCHED],
          ['ws deflate (defaults, no concurrencyLimit)', 'ws', { perMessageDeflate: { concurrencyLimit: Infinity } }],
        );
      } else {
        console.log('ws not installed (npm run bench:peers): deflate-pressure runs without the ws rows\n');
      }
      const memoryLog = join(tmpdir(), `switchyard-bench-memory-${process.pid}.jsonl`);
      /** The target's memoryUsage() from its last SIGUSR2: heap (V8's heapTotal) and the rest of RSS (native). */
      const lastMemory = (): { rss: number; heap: number; native: number } => {
        const m = JSON.parse(readFileSync(memoryLog, 'utf8').trim().split('\n').pop()!) as { rss: number; heapTotal: number };
        return { rss: m.rss, heap: m.heapTotal, native: m.rss - m.heapTotal };
      };
      const split = (m: { heap: number; native: number }): string => `heap ${MB(m.heap)} + native ${MB(m.native)}`;
      for (const [name, kind, limits] of sides) {
        const target = await startTarget(kind, ['--expose-gc'], limits, name, { BENCH_MEMORY_LOG: memoryLog });
        try {
          const before = await settledRss(target);
          const beforeSplit = lastMemory();
          // Mid-load, a collection and a memoryUsage() sample: what the active connections hold, garbage aside.
          const midLoad = setTimeout(() => target.child.kill('SIGUSR2'), 1000 + PRESSURE_SECONDS * 600);
          const m = await measure(target, 'ws-deflate-echo', { seconds: PRESSURE_SECONDS, connections: PRESSURE_CONNECTIONS, size: 16384, window: 2, payload: 'json' }, false);
          clearTimeout(midLoad);
          const duringSplit = lastMemory();
          const after = await settledRss(target);
          await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));
          const settled = await settledRss(target);
          const settledSplit = lastMemory();
          console.log(`deflate pressure, ${name}: before ${split(beforeSplit)}; mid-load, collected ${split(duringSplit)}; settled ${split(settledSplit)}`);
          const perConn = (m.serverRssPeak - before) / PRESSURE_CONNECTIONS;
          rows.push({
            scenario: `deflate pressure ${PRESSURE_CONNECTIONS} × 16 KiB`, target: name, metric: 'B/conn', value: perConn, unit: 'B RSS/active conn',
            serverBusy: m.serverBusy, clientBusy: m.clientBusy, errors: m.result.errors ?? 0, serverRssPeak: m.serverRssPeak,
            medians: { ...m.result, before, after, settled, heapBefore: beforeSplit.heap, nativeBefore: beforeSplit.native, heapDuring: duringSplit.heap, nativeDuring: duringSplit.native, heapSettled: settledSplit.heap, nativeSettled: settledSplit.native },
            note: `before ${MB(before)}, peak ${MB(m.serverRssPeak)}, mid-load collected ${MB(duringSplit.rss)} (${((duringSplit.rss - before) / PRESSURE_CONNECTIONS / 1000).toFixed(1)} KB/conn), after close ${MB(after)}, settled ${MB(settled)}; ${Math.round(m.result.operations! / m.result.seconds!)} msg/s; wire s→c ${m.result.deflate ? (m.result.wireIn! / m.result.bytes!).toFixed(3) : '1'}`,
          });
          ratios.push({ what: `deflate pressure: ${name}, RSS left after the load (settled − before)`, ratio: (settled - before) / 1e6, unit: 'MB' });
        } finally {
          target.child.kill();
        }
      }
    }
    if (wants('pcap')) {
      // Issue #15: what `serve --pcap` costs the connections it records: the same CLI without and with a
      // capture, interleaved. The capturing server starts afresh for every run with a new file in the OS
      // temp dir, deleted after it (a 64 KiB echo run writes gigabytes), so the disk holds one run at most;
      // each row notes the file's size and the packets dropped because the disk fell behind (the capture
      // drops rather than slow a connection down).
      const plain = await startCliTarget('serve', []);
      extra.push(plain);
      const plans: Array<[string, number, number, string]> = [['http-keepalive', 0, 0, 'keep-alive'], ['ws-echo', 1024, 16, 'echo 1 KiB'], ['ws-echo', 65536, 4, 'echo 64 KiB']];
      for (const [scenario, size, window, label] of plans) {
        const options = scenario === 'ws-echo' ? { seconds: SECONDS, connections: CONNECTIONS, size, window } : { seconds: SECONDS, connections: CONNECTIONS };
        const metric = scenario === 'ws-echo' ? (m: Measured): number => m.result.bytes! / m.result.seconds! / 1e6 : opsPerSecond;
        const unit = scenario === 'ws-echo' ? 'MB/s' : 'req/s';
        const without: Measured[] = [];
        const withPcap: Measured[] = [];
        const notes: string[] = [];
        for (let r = 0; r < REPEATS; r++) {
          without.push(await measure(plain, scenario, options));
          const file = join(tmpdir(), `switchyard-bench-${process.pid}-${r}.pcapng`);
          const capturing = await startCliTarget('serve --pcap', ['--pcap', file]);
          try {
            withPcap.push(await measure(capturing, scenario, options));
          } finally {
            await capturing.stop!();
            const dropped = /(\d+) packets dropped/.exec(capturing.stderr!())?.[1] ?? '0';
            notes.push(`${(statSync(file).size / 1e6).toFixed(0)} MB, ${dropped} dropped`);
            rmSync(file, { force: true });
          }
        }
        const row = (name: string, ms: Measured[], note?: string): Row => ({
          scenario: `pcap ${label}`, target: name, metric: unit, value: median(ms.map(metric)), unit,
          serverBusy: median(ms.map((m) => m.serverBusy)), clientBusy: median(ms.map((m) => m.clientBusy)),
          errors: ms.reduce((n, m) => n + (m.result.errors ?? 0), 0), ...(note === undefined ? {} : { note }),
        });
        const a = row('serve', without);
        const b = row('serve --pcap', withPcap, `capture per run: ${notes.join('; ')}`);
        rows.push(a, b);
        ratios.push({ what: `${label}, serve --pcap vs serve (${unit})`, ratio: b.value / a.value });
      }
    }
  } finally {
    for (const target of [switchyard, nodeHttp, netEcho, ...extra]) if (target.stop === undefined) target.child.kill();
    await Promise.all(extra.map((target) => target.stop?.()));
  }
  printTable();
  const resultsDir = join(here, '..', '..', 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const report = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, seconds: SECONDS, repeats: REPEATS, rows, ratios };
  writeFileSync(join(resultsDir, `${report.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(report, null, 2));
  writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(report, null, 2));
}

main().catch((error: unknown) => { console.error(error); process.exit(1); });
