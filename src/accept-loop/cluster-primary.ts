/**
 * `serve --workers N`: the primary of a node:cluster. It never accepts a connection itself. It forks N
 * workers that each run the whole lab and all call listen() on the same address and port, and then:
 *
 * - who accepts: on Linux and macOS node:cluster uses SCHED_RR: the primary owns the one listening
 *   socket, accept()s every connection itself and hands each accepted socket to the next worker in turn
 *   over IPC. On Windows the default is SCHED_NONE: every worker accept()s on the shared socket and the
 *   kernel picks. (SO_REUSEPORT, where each process has its own listening socket and the kernel balances
 *   by a hash of the 4-tuple, is a third way; Node 20's node:net does not offer it.)
 * - relays: a chat message from one worker goes to every other one; a request for the whole connection
 *   table is answered by every worker and gathered here.
 * - keeps N alive: a worker that exits is replaced at once; its own clients lose their connections,
 *   nobody else notices (the listening socket is the primary's).
 * - SIGTERM or SIGINT: passed on to every worker, which closes gracefully (WebSocket 1001); the primary
 *   exits 0 once all are gone, or 1 after the shutdown deadline.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { isClusterMessage, TABLE_GATHER_MS, type ToPrimary, type ToWorker, type WorkerTable, WORKER_SEQUENCE_ENV } from './cluster-messages.js';

export interface PrimaryOptions {
  /** 0: one worker per core. */
  readonly workers: number;
  readonly shutdownTimeoutMs: number;
  /** The banner, once every worker listens (stdout). */
  readonly print: (line: string) => void;
  /** Worker exits, replacements, shutdown (stderr). */
  readonly log: (line: string) => void;
  /** Extra environment for every worker (e.g. the one self-signed certificate all of them serve). */
  readonly env?: Readonly<Record<string, string>>;
}

/** A worker that dies this soon after the previous replacement is restarted after a pause, not at once. */
const CRASH_LOOP_MS = 1_000;
const CRASH_LOOP_PAUSE_MS = 1_000;

export function workerCount(requested: number): number {
  return requested === 0 ? availableParallelism() : requested;
}

export function schedulingPolicyName(): string {
  return cluster.schedulingPolicy === cluster.SCHED_RR
    ? 'round-robin: the primary accept()s and hands each connection to the next worker'
    : 'none: every worker accept()s on the shared socket and the kernel picks';
}

export function runPrimary(options: PrimaryOptions): void {
  const count = workerCount(options.workers);
  let sequence = 0;
  let stopping = false;
  let bannerShown = false;
  let lastReplacement = 0;
  let nextRequest = 1;
  const listening = new Set<Worker>();
  const gathering = new Map<number, { asker: Worker; askerId: number; tables: WorkerTable[]; waiting: Set<Worker>; timer: NodeJS.Timeout }>();

  const fork = (): void => {
    sequence++;
    const worker = cluster.fork({ ...options.env, [WORKER_SEQUENCE_ENV]: String(sequence) });
    worker.on('message', (message: unknown) => { if (isClusterMessage<ToPrimary>(message)) onMessage(worker, message); });
  };

  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  const send = (worker: Worker, message: ToWorker): void => { if (worker.isConnected()) worker.send(message); };

  const finishGather = (id: number): void => {
    const gather = gathering.get(id);
    if (gather === undefined) return;
    gathering.delete(id);
    clearTimeout(gather.timer);
    const tables = [...gather.tables].sort((a, b) => a.pid - b.pid);
    send(gather.asker, { switchyard: 1, kind: 'table-result', id: gather.askerId, tables });
  };

  const onMessage = (worker: Worker, message: ToPrimary): void => {
    switch (message.kind) {
      case 'listening': {
        listening.add(worker);
        if (!bannerShown && listening.size >= count) {
          bannerShown = true;
          const pids = live().map((w) => w.process.pid).join(', ');
          // One write: whoever reads the banner up to a line sees every line of it.
          options.print([...message.banner, `workers: ${count} (pids ${pids}), one listening socket; scheduling ${schedulingPolicyName()}`].join('\n'));
        } else if (bannerShown) {
          options.log(`worker ${worker.process.pid} listening (a replacement)`);
        }
        break;
      }
      case 'room':
        for (const other of live()) if (other !== worker) send(other, { switchyard: 1, kind: 'room', room: message.room, message: message.message });
        break;
      case 'table-request': {
        const id = nextRequest++;
        const workers = live();
        const timer = setTimeout(() => finishGather(id), TABLE_GATHER_MS);
        timer.unref();
        gathering.set(id, { asker: worker, askerId: message.id, tables: [], waiting: new Set(workers), timer });
        for (const each of workers) send(each, { switchyard: 1, kind: 'table-query', id });
        break;
      }
      case 'table-reply': {
        const gather = gathering.get(message.id);
        if (gather === undefined) break;
        gather.tables.push(message.table);
        gather.waiting.delete(worker);
        if (gather.waiting.size === 0) finishGather(message.id);
        break;
      }
    }
  };

  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker);
    for (const [id, gather] of gathering) {
      if (gather.waiting.delete(worker) && gather.waiting.size === 0) finishGather(id);
    }
    if (stopping) {
      if (live().length === 0 && Object.keys(cluster.workers ?? {}).length === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    if (!bannerShown) {
      // A worker that cannot even start (port in use, a plugin that fails) would fail again: give up.
      options.log(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before the cluster was listening; stopping`);
      stopping = true;
      for (const other of live()) other.process.kill('SIGTERM');
      process.exitCode = 1;
      if (live().length === 0) process.exit(1);
      return;
    }
    options.log(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting a replacement`);
    const now = Date.now();
    const pause = now - lastReplacement < CRASH_LOOP_MS ? CRASH_LOOP_PAUSE_MS : 0;
    lastReplacement = now;
    setTimeout(fork, pause);
  });

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    options.log(`${signal}: closing every worker gracefully`);
    const workers = live();
    if (workers.length === 0) process.exit(0);
    for (const worker of workers) worker.process.kill('SIGTERM');
    const force = setTimeout(() => {
      options.log('workers still running after the shutdown deadline: killed');
      for (const worker of live()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, options.shutdownTimeoutMs + 3_000);
    force.unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  for (let i = 0; i < count; i++) fork();
}
