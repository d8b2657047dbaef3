/**
 * `npm run bench`: every scenario runs its targets interleaved (A B A B …, `--repeats` times, median
 * quoted), each target a separate server process driven by a separate load-client process, and prints
 * figures with ratios plus how busy server and client were (a client near 100 % means the figure is
 * client-bound). Results also go to bench/results/<time>.json and bench/results/latest.json.
 *
 *   npm run bench -- [--seconds 3] [--repeats 3] [--only http-keepalive,ws-echo] [--idle 10000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { busy, sampleProcess } from './process-stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '3' },
    only: { type: 'string' },
    idle: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '50' },
  },
});
const SECONDS = Number(values.seconds);
const REPEATS = Number(values.repeats);
const CONNECTIONS = Number(values.connections);
const IDLE = Number(values.idle);
const only = values.only ? new Set(values.only.split(',')) : undefined;

interface Target { name: string; child: ChildProcess; port: number }

async function startTarget(kind: string): Promise<Target> {
  const child = spawn(process.execPath, [join(here, 'target-server.js'), kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  for await (const chunk of child.stdout!) {
    out += chunk;
    const match = /port (\d+)/.exec(out);
    if (match) return { name: kind, child, port: Number(match[1]) };
  }
  throw new Error(`${kind} did not start`);
}

interface Measured { result: Record<string, number>; serverBusy: number; clientBusy: number; serverRss: number }

async function measure(target: Target, scenario: string, options: object): Promise<Measured> {
  const client = spawn(process.execPath, [join(here, 'load.js'), scenario, JSON.stringify({ port: target.port, ...options })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const serverBefore = sampleProcess(target.child.pid!);
  const clientBefore = sampleProcess(client.pid!);
  let out = '';
  client.stdout!.on('data', (d) => { out += d; });
  let clientAfter = clientBefore;
  let serverAfter = serverBefore;
  const sampler = setInterval(() => {
    try { clientAfter = sampleProcess(client.pid!); serverAfter = sampleProcess(target.child.pid!); } catch { /* the client just exited */ }
  }, 100);
  const [code] = await once(client, 'exit');
  clearInterval(sampler);
  if (code !== 0) throw new Error(`${scenario} against ${target.name} failed`);
  const result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
  return { result, serverBusy: busy(serverBefore, serverAfter), clientBusy: busy(clientBefore, clientAfter), serverRss: serverAfter.rssBytes };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

interface Row { scenario: string; target: string; metric: string; value: number; unit: string; p50?: number; p99?: number; serverBusy: number; clientBusy: number; errors: number }

const rows: Row[] = [];
const ratios: Array<{ what: string; ratio: number; target?: string }> = [];

async function interleaved(scenario: string, targets: Target[], options: object, metric: (m: Measured) => number, unit: string, label = scenario): Promise<Map<string, Row>> {
  const runs = new Map<string, Measured[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < REPEATS; r++) {
    for (const target of targets) {
      const actualScenario = target.name === 'net-echo' && scenario === 'ws-echo' ? 'tcp-echo' : scenario;
      runs.get(target.name)!.push(await measure(target, actualScenario, options));
    }
  }
  const out = new Map<string, Row>();
  for (const target of targets) {
    const ms = runs.get(target.name)!;
    const row: Row = {
      scenario: label, target: target.name, metric: unit, value: median(ms.map(metric)), unit,
      serverBusy: median(ms.map((m) => m.serverBusy)), clientBusy: median(ms.map((m) => m.clientBusy)),
      errors: ms.reduce((n, m) => n + (m.result.errors ?? 0), 0),
      ...(ms[0]!.result.p50 !== undefined ? { p50: median(ms.map((m) => m.result.p50!)), p99: median(ms.map((m) => m.result.p99!)) } : {}),
    };
    rows.push(row);
    out.set(target.name, row);
  }
  return out;
}

function printTable(): void {
  const header = ['scenario', 'target', 'value', 'p50 ms', 'p99 ms', 'server cpu', 'client cpu', 'errors'];
  const lines = rows.map((r) => [
    r.scenario, r.target, `${r.value.toFixed(r.value < 100 ? 2 : 0)} ${r.unit}`,
    r.p50 === undefined ? '' : r.p50.toFixed(2), r.p99 === undefined ? '' : r.p99.toFixed(2),
    `${Math.round(r.serverBusy * 100)}%`, `${Math.round(r.clientBusy * 100)}%`, String(r.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(fmt(line));
  console.log('\nratios (switchyard / reference, same run):');
  for (const r of ratios) console.log(`  ${r.what.padEnd(48)} ${r.ratio.toFixed(2)}×${r.target ? `   (target ${r.target})` : ''}`);
}

const wants = (name: string): boolean => !only || only.has(name);
const opsPerSecond = (m: Measured): number => m.result.operations! / (m.result.seconds ?? SECONDS);

async function main(): Promise<void> {
  console.log(`switchyard bench — ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${SECONDS}s × ${REPEATS} interleaved runs, ${CONNECTIONS} connections\n`);
  const switchyard = await startTarget('switchyard');
  const nodeHttp = await startTarget('node-http');
  const netEcho = await startTarget('net-echo');
  try {
    let closeRate: number | undefined;
    if (wants('http-keepalive')) {
      const r = await interleaved('http-keepalive', [switchyard, nodeHttp], { seconds: SECONDS, connections: CONNECTIONS }, opsPerSecond, 'req/s');
      ratios.push({ what: 'keep-alive GET /healthz vs node:http', ratio: r.get('switchyard')!.value / r.get('node-http')!.value, target: '≥ 1.3' });
    }
    if (wants('http-close') || wants('handshake')) {
      const r = await interleaved('http-close', [switchyard, nodeHttp], { seconds: SECONDS, connections: CONNECTIONS }, opsPerSecond, 'req/s');
      closeRate = r.get('node-http')!.value;
      ratios.push({ what: 'Connection: close vs node:http', ratio: r.get('switchyard')!.value / closeRate, target: '≥ 1.2' });
    }
    if (wants('ws-echo')) {
      const plans: Array<[number, number, string, string]> = [[32, 16, '32 B', '≥ 0.06'], [1024, 16, '1 KiB', '≥ 0.15'], [65536, 4, '64 KiB', '≥ 0.8'], [1048576, 2, '1 MiB', '≥ 0.8']];
      for (const [size, window, label, target] of plans) {
        const r = await interleaved('ws-echo', [switchyard, netEcho], { seconds: SECONDS, connections: CONNECTIONS, size, window }, (m) => m.result.bytes! / m.result.seconds! / 1e6, 'MB/s', `echo ${label}`);
        ratios.push({ what: `WebSocket echo ${label} vs raw TCP echo (MB/s)`, ratio: r.get('switchyard')!.value / r.get('net-echo')!.value, target });
      }
    }
    if (wants('handshake') && closeRate !== undefined) {
      const r = await interleaved('handshake', [switchyard], { seconds: SECONDS, connections: CONNECTIONS }, opsPerSecond, 'cycles/s');
      ratios.push({ what: "handshake cycles vs node:http's Connection: close", ratio: r.get('switchyard')!.value / closeRate, target: '≥ 0.75' });
    }
    if (wants('idle') && IDLE > 0) {
      const perConnection = async (target: Target, scenario: string): Promise<number> => {
        const before = sampleProcess(target.child.pid!).rssBytes;
        const client = spawn(process.execPath, [join(here, 'load.js'), scenario, JSON.stringify({ port: target.port, count: IDLE, connections: 0, seconds: 0 })], { stdio: ['pipe', 'pipe', 'inherit'] });
        let out = '';
        await new Promise<void>((resolve) => client.stdout!.on('data', (d) => { out += d; if (out.includes('opened')) resolve(); }));
        await new Promise((r) => setTimeout(r, 1000)); // let allocations settle
        const after = sampleProcess(target.child.pid!).rssBytes;
        client.stdin!.write('stop\n');
        await once(client, 'exit');
        await new Promise((r) => setTimeout(r, 1000));
        return (after - before) / IDLE;
      };
      const ws = await perConnection(switchyard, 'idle-ws');
      const tcp = await perConnection(netEcho, 'idle-tcp');
      rows.push({ scenario: `idle ${IDLE}`, target: 'switchyard', metric: 'B/conn', value: ws, unit: 'B RSS/conn', serverBusy: 0, clientBusy: 0, errors: 0 });
      rows.push({ scenario: `idle ${IDLE}`, target: 'net-echo', metric: 'B/conn', value: tcp, unit: 'B RSS/conn', serverBusy: 0, clientBusy: 0, errors: 0 });
      ratios.push({ what: `idle WebSocket KB/conn (bare socket ${(tcp / 1000).toFixed(1)} KB)`, ratio: ws / 1000, target: '≤ 4.0 KB' });
    }
  } finally {
    for (const target of [switchyard, nodeHttp, netEcho]) target.child.kill();
  }
  printTable();
  const resultsDir = join(here, '..', '..', 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const report = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, seconds: SECONDS, repeats: REPEATS, rows, ratios };
  writeFileSync(join(resultsDir, `${report.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(report, null, 2));
  writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(report, null, 2));
}

main().catch((error: unknown) => { console.error(error); process.exit(1); });
