import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionSnapshot } from '../accept-loop/connection-table.js';
import { formatEndpoint } from '../accept-loop/five-tuple.js';
import { closeSocket, waitUntil, WAIT_MS, withTimeout } from './clients.js';
import type { Experiment } from './experiment.js';
import { type KernelSocket, readKernelSockets } from './kernel-sockets.js';
import { connectionTable, formatColumns } from './report.js';

/**
 * Questions 5 (and listen versus accept). A switchyard server runs in a child process with a listen
 * backlog of 2. The experiment stops the child's event loop, so it calls no accept(), and opens 5
 * connections one after another. The kernel's own numbers (/proc/net/tcp) then show what it did alone:
 * completed handshakes wait in the listening socket's accept queue (its Recv-Q); once the queue is full,
 * further SYNs are dropped, and those clients retransmit them (after 1 s, then 3 s, ...) — they wait,
 * they do not fail. Then the child resumes, drains the queue, and every client is served.
 *
 * Nothing here is assumed: every line is read from the kernel or from a client, so a kernel that behaves
 * differently (tcp_abort_on_overflow=1 resets instead; other systems differ again) is reported as it is.
 */
const BACKLOG = 2;
const CLIENTS = 5;
/** How long to give each connect() before opening the next one: ample on loopback, where a handshake the kernel accepts completes in microseconds. */
const CONNECT_GRACE_MS = 250;
/** The kernel's view counts as settled once it stays the same this long. */
const SETTLE_MS = 300;
/** SYN retransmissions back off 1, 2, 4, 8 s: a dropped client gets in within ~15 s even if several retries miss. */
const SERVE_WAIT_MS = 30_000;
const CHILD = fileURLToPath(new URL('./accept-queue-server.js', import.meta.url));

export const acceptQueue: Experiment = {
  name: 'accept-queue',
  title: 'connections the kernel completes and queues while the server is not calling accept()',
  question: 'can accept miss connections while it is busy? What does the listen backlog do?',
  async run(report) {
    if ((await readKernelSockets()) === undefined) {
      report.section('not run', ['this experiment reads the accept queue from Linux\'s /proc/net/tcp, which this system does not have']);
      report.conclusion('not run: no /proc/net/tcp on this system.');
      return false;
    }
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-accept-queue-'));
    const child = spawn(process.execPath, [CHILD, String(BACKLOG)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const messages = new ChildMessages(child);
    const clients: QueueClient[] = [];
    try {
      const { listening: port } = await messages.next('listening', 'the server to listen') as { listening: number };
      const before = await kernelView(port, []);
      child.stdin.write(`block ${join(dir, 'go')}\n`);
      await messages.next('blocked', 'the server to block');
      const started = Date.now();
      for (let n = 1; n <= CLIENTS; n++) {
        const client = new QueueClient(n, port, started);
        clients.push(client);
        await Promise.race([client.connected, new Promise((resolve) => setTimeout(resolve, CONNECT_GRACE_MS))]);
        client.notePort();
      }
      const during = await settledView(port, clients);
      writeFileSync(join(dir, 'go'), '');
      const { unblocked } = await messages.next('unblocked', 'the server to resume') as { unblocked: number };
      await withTimeout(Promise.all(clients.map((c) => c.served)), SERVE_WAIT_MS, 'every client to be served');
      child.stdin.write('table\n');
      const { table } = await messages.next('table', 'the connection table') as { table: ConnectionSnapshot[] };
      for (const client of clients) await closeSocket(client.socket);
      // 'close', not 'exit': it comes once the child's stdout is drained, so no trace line is missed.
      const gone = once(child, 'close');
      child.stdin.write('exit\n');
      await withTimeout(gone, WAIT_MS, 'the server process to exit');

      const listenerBefore = before.listener;
      report.section('steps', [
        `server: a child process listening on ${formatEndpoint('127.0.0.1', port)} with backlog ${BACKLOG}; the kernel reports its listening socket as LISTEN, Recv-Q ${listenerBefore?.recvQ ?? '?'}`,
        `server: stops its event loop, so it calls no accept() (it was stopped ${unblocked} ms in all)`,
        `${CLIENTS} clients connect, one after another`,
      ]);
      report.section('kernel\'s view while the server was not calling accept() (/proc/net/tcp)', describeView(during, clients));
      report.section('after the server called accept() again', formatColumns(clients.map((c) => c.outcome(during))));
      report.section('trace (what the server saw; it accepted nothing while stopped)', messages.trace);
      report.section('connection table (the server\'s, with all clients served)', connectionTable(table));
      report.conclusion(conclude(during, clients));
      return true;
    } finally {
      for (const client of clients) client.socket.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** One of the experiment's clients: connects at once, sends one request as soon as it is connected. */
class QueueClient {
  readonly n: number;
  readonly socket: Socket;
  readonly connected: Promise<void>;
  /** Settles when the response's status line is in, or the connection is gone. */
  readonly served: Promise<void>;
  #connectedAfterMs: number | undefined;
  #status: number | undefined;
  #error: string | undefined;
  #port = 0;

  constructor(n: number, port: number, started: number) {
    this.n = n;
    this.socket = connect({ host: '127.0.0.1', port });
    this.connected = new Promise((resolve) => this.socket.once('connect', () => {
      this.#connectedAfterMs = Date.now() - started;
      resolve();
    }));
    this.served = new Promise((resolve) => {
      let text = '';
      this.socket.once('connect', () => this.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
      this.socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
        if (status) { this.#status = Number(status[1]); resolve(); }
        if (text.length > 16 * 1024) this.socket.destroy();
      });
      this.socket.on('error', (error: NodeJS.ErrnoException) => { this.#error ??= error.code ?? error.message; });
      this.socket.on('close', () => resolve());
    });
  }

  /** The client's port, as noted while the socket was open (a closed socket no longer has one). */
  get port(): number { return this.#port; }
  get status(): number | undefined { return this.#status; }
  get error(): string | undefined { return this.#error; }

  /**
   * Only after connect() was issued: the kernel picks the port then, and Node caches the first answer,
   * so asking earlier would pin 0.
   */
  notePort(): void { this.#port = this.socket.localPort ?? 0; }

  outcome(view: View): string[] {
    const connected = this.#connectedAfterMs === undefined ? 'never connected' : `connected after ${this.#connectedAfterMs} ms`;
    const served = this.#status !== undefined ? `GET /healthz → ${this.#status}` : `failed: ${this.#error ?? 'no answer'}`;
    const fate = classify(view, this);
    const note = this.#status === undefined ? ''
      : fate === 'dropped' ? '(its first SYN was dropped; a retransmission got in)'
        : fate === 'queued' ? '(connected before any accept(): the kernel did the handshake)' : '';
    return [`client ${this.n}`, connected, served, note];
  }
}

interface View {
  readonly listener: KernelSocket | undefined;
  readonly sockets: readonly KernelSocket[];
}

async function kernelView(port: number, clients: readonly QueueClient[]): Promise<View> {
  const sockets = (await readKernelSockets()) ?? [];
  const ports = new Set(clients.map((c) => c.port));
  return {
    listener: sockets.find((s) => s.state === 'LISTEN' && s.localPort === port),
    sockets: sockets.filter((s) => (s.localPort === port && ports.has(s.remotePort)) || (s.remotePort === port && ports.has(s.localPort))),
  };
}

/** Poll until the kernel's numbers stop changing (bounded), so the picture is not mid-handshake. */
async function settledView(port: number, clients: readonly QueueClient[]): Promise<View> {
  const key = (view: View): string => JSON.stringify(view);
  let view = await kernelView(port, clients);
  let stableSince = Date.now();
  const deadline = Date.now() + 3_000;
  while (Date.now() - stableSince < SETTLE_MS && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const next = await kernelView(port, clients);
    if (key(next) !== key(view)) { view = next; stableSince = Date.now(); }
  }
  return view;
}

type Fate = 'queued' | 'dropped' | 'half-open' | 'other';

function sidesOf(view: View, client: QueueClient): { client: KernelSocket | undefined; server: KernelSocket | undefined } {
  return {
    client: view.sockets.find((s) => s.localPort === client.port && s.remotePort !== 0 && view.listener?.localPort === s.remotePort),
    server: view.sockets.find((s) => s.remotePort === client.port && s.localPort === view.listener?.localPort),
  };
}

function classify(view: View, client: QueueClient): Fate {
  const sides = sidesOf(view, client);
  if (sides.client?.state === 'ESTAB' && sides.server?.state === 'ESTAB') return 'queued';
  if (sides.client?.state === 'SYN-SENT' && sides.server === undefined) return 'dropped';
  if (sides.client?.state === 'ESTAB' && (sides.server?.state === 'SYN-RECV' || sides.server?.state === 'NEW-SYN-RECV')) return 'half-open';
  return 'other';
}

const MEANING: Readonly<Record<Fate, string>> = {
  queued: 'handshake completed by the kernel alone; waiting in the accept queue',
  dropped: 'SYN dropped because the accept queue is full; the client will retransmit it',
  'half-open': 'the client thinks it is connected; the server dropped its final ACK (queue full)',
  other: 'not one of the usual cases; see the states',
};

function describeView(view: View, clients: readonly QueueClient[]): string[] {
  const listener = view.listener;
  const rows = [
    ['socket', 'client side', 'server side', 'what it means'],
    [`listener ${listener ? formatEndpoint(listener.localAddress, listener.localPort) : '?'}`, '', listener ? `LISTEN, Recv-Q ${listener.recvQ}` : '?',
      `${listener?.recvQ ?? '?'} connections wait for accept(); backlog ${BACKLOG} (Linux queues up to backlog + 1)`],
    ...clients.map((client) => {
      const sides = sidesOf(view, client);
      return [`client ${client.n} ${formatEndpoint('127.0.0.1', client.port)}`, sides.client?.state ?? '(none)', sides.server?.state ?? '(none)', MEANING[classify(view, client)]];
    }),
  ];
  return formatColumns(rows);
}

function conclude(view: View, clients: readonly QueueClient[]): string {
  const count = (fate: Fate): number => clients.filter((c) => classify(view, c) === fate).length;
  const queued = count('queued');
  const dropped = count('dropped');
  const halfOpen = count('half-open');
  const served = clients.filter((c) => c.status !== undefined).length;
  const failed = clients.filter((c) => c.status === undefined);
  const parts = [
    `with backlog ${BACKLOG}, the kernel completed ${queued} handshake${queued === 1 ? '' : 's'} on its own and queued them (Recv-Q ${view.listener?.recvQ ?? '?'}) while the server was not calling accept()`,
    dropped > 0 ? `the SYNs of the ${dropped} past the backlog were dropped and retransmitted, so those clients waited instead of failing` : 'no SYN was dropped',
  ];
  if (halfOpen > 0) parts.push(`${halfOpen} completed the handshake on the client side only (the server dropped the final ACK)`);
  parts.push(served === clients.length ? `all ${served} were served once accept() ran again` : `${served} of ${clients.length} were served once accept() ran again; ${failed.map((c) => `client ${c.n}: ${c.error ?? 'no answer'}`).join(', ')}`);
  return parts.join('; ') + '.';
}

/** JSON lines from the child: trace lines are collected, everything else is waited for by key. */
class ChildMessages {
  readonly trace: string[] = [];
  readonly #messages: Array<Record<string, unknown>> = [];
  #exited = false;

  constructor(child: ChildProcess) {
    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let message: Record<string, unknown>;
        try { message = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
        if (typeof message.trace === 'string') this.trace.push(message.trace);
        else this.#messages.push(message);
      }
      // A line never ends: not our child talking. Drop it rather than buffer without bound.
      if (buffered.length > 1024 * 1024) buffered = '';
    });
    child.once('exit', () => { this.#exited = true; });
  }

  /** The first message with `key` (consumed), waiting for it at most WAIT_MS. */
  async next(key: string, what: string): Promise<Record<string, unknown>> {
    await waitUntil(() => this.#messages.some((m) => key in m) || this.#exited, WAIT_MS, what);
    const index = this.#messages.findIndex((m) => key in m);
    if (index === -1) throw new Error(`the server process exited before ${what}`);
    return this.#messages.splice(index, 1)[0]!;
  }
}
