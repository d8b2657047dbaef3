import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ConnectionSnapshot } from '../accept-loop/connection-table.js';
import { formatEndpoint } from '../accept-loop/five-tuple.js';
import { closeSocket, exchange, httpGet, withTimeout, WAIT_MS } from './clients.js';
import type { Experiment } from './experiment.js';
import { connectionTable, formatColumns } from './report.js';

/**
 * Several processes accepting on one port. The experiment starts `switchyard serve --workers 2 --trace`
 * as a child process, makes 20 connections one after another, and asks each, through
 * `/_lab/whoami`, which worker accepted it. Then it holds four connections open and reads
 * `/connections`, which any worker answers for all of them.
 */

const CONNECTIONS = 20;
const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

interface Identity { readonly worker?: number; readonly id: number; readonly remote: { readonly port: number } }

export const workers: Experiment = {
  name: 'workers',
  title: 'two worker processes accepting on one port (node:cluster), and who accepted each of 20 connections',
  question: 'how can several processes accept connections on the same port?',
  async run(report) {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '2', '--trace'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const trace: string[] = [];
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { for (const line of chunk.split('\n')) if (line.trim() !== '') trace.push(line); });
    try {
      await withTimeout(new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; if (/^workers: .*$/m.test(stdout)) resolve(); });
        child.once('exit', (code) => reject(new Error(`serve --workers exited (${code}) before listening: ${stdout}`)));
      }), WAIT_MS, 'the cluster to listen');
      const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout)![1]);
      const banner = /^workers: .*$/m.exec(stdout)![0];

      const steps = [`serve --workers 2: ${banner}`];
      const accepted: Array<{ clientPort: number; worker: number; id: number }> = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        const { socket, data } = await exchange(port, `GET /_lab/whoami HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
        const self = JSON.parse(data.toString('utf8')) as Identity;
        accepted.push({ clientPort: self.remote.port, worker: self.worker ?? 0, id: self.id });
        await closeSocket(socket);
      }
      // Numbered in the order they first accepted (which one the primary starts with is not fixed).
      const pids = [...new Set(accepted.map((a) => a.worker))];
      const label = (pid: number): string => `worker ${pids.indexOf(pid) + 1}`;
      steps.push(...formatColumns([
        ['connection', 'client port', 'accepted by', 'row id'],
        ...accepted.map((a, i) => [String(i + 1), formatEndpoint('127.0.0.1', a.clientPort), `${label(a.worker)} (pid ${a.worker})`, `#${a.id}`]),
      ]));
      const counts = pids.map((pid) => `${label(pid)}: ${accepted.filter((a) => a.worker === pid).length}`);
      steps.push(`per worker: ${counts.join(', ')}`);

      // Four connections held open, then one table from whichever worker answers.
      const held = await Promise.all([0, 1, 2, 3].map(() => exchange(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)));
      const answer = await httpGet(port, '/connections');
      const table = JSON.parse(answer.data.toString('utf8')) as { connections: ConnectionSnapshot[] };
      const rows = table.connections;
      for (const { socket } of held) await closeSocket(socket);
      await closeSocket(answer.socket);
      const rowWorkers = [...new Set(rows.map((r) => r.worker))].length;
      steps.push(`/connections, answered by one worker, lists ${rows.length} rows from ${rowWorkers} workers (the primary gathered them over IPC)`);

      report.section('steps', steps);
      report.section('trace (both workers write to the same stderr; row ids 1000001… are the first worker\'s, 2000001… the second\'s)', trace.filter((line) => / (accept|close) /.test(line)).slice(0, 12));
      report.section('connection table (every worker\'s rows, from /connections)', connectionTable(rows));
      const alternating = accepted.every((a, i) => i === 0 || a.worker !== accepted[i - 1]!.worker);
      if (pids.length === 2 && rowWorkers === 2) {
        report.conclusion(
          `the 20 connections were accepted by ${pids.length} processes (${counts.join(', ')})${alternating ? ', strictly in turn' : ''}, all on one port: `
          + 'with node:cluster on Linux only the primary has the listening socket; it accept()s each connection and hands the new socket to the next worker over IPC (round-robin). '
          + 'A port is one listening socket, but the connections it yields can be served by any number of processes.',
        );
        return true;
      }
      report.conclusion(`unexpected: the connections went to workers ${pids.join(', ')}; the table held rows of ${rowWorkers} workers.`);
      return false;
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await withTimeout(once(child, 'exit'), WAIT_MS, 'serve --workers to exit');
      }
    }
  },
};
