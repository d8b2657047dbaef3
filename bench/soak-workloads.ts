/**
 * The soak's clients, one async loop per simulated user, each holding one connection at a time and
 * reconnecting now and then (so the accept path and the close path are soaked too):
 *
 *   http   keep-alive POST /soak/echo with a checksummed record; every so often `Connection: close`
 *   ws     WebSocket /echo, text and binary records, up to WINDOW in flight, then a 1000 close
 *   echo   raw `Upgrade: echo`, a byte stream of records, up to WINDOW in flight, then a FIN
 *   chat   WebSocket /chat members; a tenth of them send, every member checks every other sender's
 *          sequence arrives complete and in order
 *
 * Every wait has a timeout; whatever does not come back in time is counted lost, and anything unexpected
 * (a reset, an early close, a wrong status) is recorded as a failure with what happened.
 */
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as wsConnect } from '../src/protocols/websocket/client.js';
import type { WebSocket } from '../src/protocols/websocket/session.js';
import { Random } from '../test/fuzz/engine.js';
import { encodeRecord, encodeText, RecordReader, verifyRecord, verifyText } from './soak-records.js';

/** Messages a user may have in flight on one connection (pipelined). */
const WINDOW = 4;
/** The longest wait for an answer before the message is counted lost. */
const ANSWER_TIMEOUT_MS = 30_000;
const MAX_RECORD = 256 * 1024;

export interface Tally {
  sent: number;
  received: number;
  lost: number;
  reordered: number;
  corrupted: number;
  connections: number;
  failures: number;
  /** The first failures, described. */
  readonly failureLog: string[];
  /** Round-trip times in ms (a sample). */
  readonly latencies: number[];
}

export function newTally(): Tally {
  return { sent: 0, received: 0, lost: 0, reordered: 0, corrupted: 0, connections: 0, failures: 0, failureLog: [], latencies: [] };
}

export interface SoakContext {
  readonly port: number;
  /** Average think time between a user's messages, in ms. */
  readonly paceMs: number;
  readonly stopping: () => boolean;
}

function fail(tally: Tally, what: string): void {
  tally.failures++;
  if (tally.failureLog.length < 20) tally.failureLog.push(what);
}

function noteLatency(tally: Tally, ms: number): void {
  // Keep every sample up to 400k, then a random one in ten: enough for percentiles, bounded memory.
  if (tally.latencies.length < 400_000) tally.latencies.push(ms);
  else if (Math.random() < 0.1) tally.latencies[Math.floor(Math.random() * tally.latencies.length)] = ms;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const think = (random: Random, paceMs: number): Promise<void> => sleep(random.int(2 * paceMs + 1));

/** Mostly small payloads, some of a few KiB, a few large enough to span many TCP segments. */
function payloadLength(random: Random): number {
  const r = random.next();
  return r < 0.8 ? random.int(512) : r < 0.99 ? random.int(8 * 1024) : random.int(64 * 1024);
}

/**
 * Messages in flight on one connection, oldest first. Answers must come back in order: an answer that is
 * not the oldest is counted reordered; one that matches nothing, corrupted.
 */
class InFlight {
  readonly #queue: Array<{ seq: number; at: number }> = [];
  readonly #tally: Tally;
  #waiters: Array<() => void> = [];

  constructor(tally: Tally) {
    this.#tally = tally;
  }

  get size(): number { return this.#queue.length; }

  add(seq: number): void {
    this.#queue.push({ seq, at: performance.now() });
    this.#tally.sent++;
  }

  settle(seq: number): void {
    const at = this.#queue.findIndex((entry) => entry.seq === seq);
    if (at < 0) {
      this.#tally.corrupted++;
      fail(this.#tally, `answer ${seq} matches no message in flight`);
    } else {
      if (at > 0) {
        this.#tally.reordered++;
        fail(this.#tally, `answer ${seq} overtook ${at} earlier message(s)`);
      }
      const [entry] = this.#queue.splice(at, 1);
      this.#tally.received++;
      noteLatency(this.#tally, performance.now() - entry!.at);
    }
    this.#wake();
  }

  /** Everything still in flight is lost (the connection failed or the wait timed out). */
  abandon(why: string): void {
    if (this.#queue.length > 0) {
      this.#tally.lost += this.#queue.length;
      fail(this.#tally, `${this.#queue.length} message(s) lost: ${why}`);
      this.#queue.length = 0;
    }
    this.#wake();
  }

  /** Resolves when fewer than `limit` are in flight (true), or after `ms` (false). */
  below(limit: number, ms = ANSWER_TIMEOUT_MS): Promise<boolean> {
    if (this.#queue.length < limit) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#waiters = this.#waiters.filter((w) => w !== check); resolve(false); }, ms);
      const check = (): void => {
        if (this.#queue.length >= limit) { this.#waiters.push(check); return; }
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.push(check);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

async function openSocket(port: number): Promise<Socket> {
  const socket = netConnect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  return socket;
}

/** Waits for a socket's 'close', up to `ms`; false if it did not close in time. */
function closed(socket: Socket, ms = 10_000): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => { clearTimeout(timer); resolve(true); });
  });
}

// ── http ──────────────────────────────────────────────────────────────────────────────────────────────

interface Response { status: number; headers: Map<string, string>; body: Buffer }

/** Content-Length-framed responses, as this server sends them. */
class ResponseReader {
  #buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Response[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: Response[] = [];
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return out;
      const lines = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const length = Number(headers.get('content-length') ?? 0);
      if (this.#buffer.length < end + 4 + length) return out;
      out.push({ status: Number(lines[0]!.split(' ')[1]), headers, body: this.#buffer.subarray(end + 4, end + 4 + length) });
      this.#buffer = this.#buffer.subarray(end + 4 + length);
    }
  }
}

export async function httpUser(ctx: SoakContext, random: Random, tally: Tally): Promise<void> {
  let seq = 0;
  while (!ctx.stopping()) {
    const socket = await openSocket(ctx.port).catch((error: Error) => { fail(tally, `http connect: ${error.message}`); return undefined; });
    if (!socket) { await sleep(1000); continue; }
    tally.connections++;
    const reader = new ResponseReader();
    const pending: Array<(response: Response | undefined) => void> = [];
    let serverClosed = false;
    socket.on('data', (chunk: Buffer) => { for (const response of reader.push(chunk)) pending.shift()?.(response); });
    socket.on('error', (error: Error) => fail(tally, `http socket: ${error.message}`));
    socket.on('close', () => { serverClosed = true; for (const waiter of pending.splice(0)) waiter(undefined); });
    const answer = (): Promise<Response | undefined> => new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ANSWER_TIMEOUT_MS);
      pending.push((response) => { clearTimeout(timer); resolve(response); });
    });

    const requests = random.range(20, 100);
    for (let i = 0; i < requests && !serverClosed; i++) {
      const last = i === requests - 1 || ctx.stopping();
      const connection = last ? 'Connection: close\r\n' : '';
      if (random.chance(0.1)) {
        socket.write(`GET /healthz HTTP/1.1\r\nHost: soak\r\n${connection}\r\n`);
        const response = await answer();
        if (response?.status !== 200 || response.body.toString() !== 'ok\n') fail(tally, `GET /healthz: ${response ? response.status : 'no answer'}`);
      } else {
        const record = encodeRecord(seq, payloadLength(random));
        const inFlight = new InFlight(tally);
        inFlight.add(seq);
        socket.write(Buffer.concat([Buffer.from(`POST /soak/echo HTTP/1.1\r\nHost: soak\r\nContent-Length: ${record.length}\r\n${connection}\r\n`), record]));
        const response = await answer();
        if (response === undefined) inFlight.abandon(serverClosed ? 'http connection closed before the response' : 'http response timed out');
        else if (response.status !== 200) { fail(tally, `POST /soak/echo answered ${response.status}`); inFlight.abandon('error status'); }
        else if (!response.body.equals(record)) {
          const verdict = verifyRecord(response.body);
          tally.corrupted++;
          fail(tally, `http body differs from the request: ${verdict.kind === 'corrupt' ? verdict.detail : `record ${verdict.seq}`}`);
          inFlight.abandon('corrupted');
        } else inFlight.settle(seq);
        seq++;
      }
      if (last) break;
      await think(random, ctx.paceMs);
    }
    // We asked for Connection: close on the last request: the server closes, we follow.
    if (!(await closed(socket))) { fail(tally, 'http: the server did not close after Connection: close'); socket.destroy(); }
  }
}

// ── raw echo ──────────────────────────────────────────────────────────────────────────────────────────

export async function echoUser(ctx: SoakContext, random: Random, tally: Tally): Promise<void> {
  while (!ctx.stopping()) {
    const socket = await openSocket(ctx.port).catch((error: Error) => { fail(tally, `echo connect: ${error.message}`); return undefined; });
    if (!socket) { await sleep(1000); continue; }
    tally.connections++;
    const inFlight = new InFlight(tally);
    const reader = new RecordReader(MAX_RECORD);
    let head = Buffer.alloc(0);
    let upgraded = false;
    let upgradedResolve: (ok: boolean) => void = () => {};
    const upgradedPromise = new Promise<boolean>((resolve) => { upgradedResolve = resolve; });
    let broken = false;
    let weEnded = false;
    const consume = (chunk: Buffer): void => {
      for (const verdict of reader.push(chunk)) {
        if (verdict.kind === 'ok') inFlight.settle(verdict.seq);
        else if (!broken) {
          broken = true;
          tally.corrupted++;
          fail(tally, `echo stream: ${verdict.detail}`);
          socket.destroy();
        }
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) { consume(chunk); return; }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      upgraded = true;
      const ok = head.subarray(0, 13).toString('latin1') === 'HTTP/1.1 101 ';
      if (!ok) fail(tally, `echo upgrade answered ${head.subarray(0, 20).toString('latin1')}`);
      upgradedResolve(ok);
      if (head.length > end + 4) consume(head.subarray(end + 4));
    });
    socket.on('error', (error: Error) => fail(tally, `echo socket: ${error.message}`));
    socket.on('close', () => {
      if (!weEnded) fail(tally, 'echo: the server closed first');
      inFlight.abandon('echo connection closed');
      upgradedResolve(false);
    });
    socket.write('GET /soak HTTP/1.1\r\nHost: soak\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n');
    if (!(await upgradedPromise)) { socket.destroy(); await sleep(1000); continue; }

    const records = random.range(50, 300);
    for (let seq = 0; seq < records && !ctx.stopping() && !socket.destroyed; seq++) {
      if (!(await inFlight.below(WINDOW))) { inFlight.abandon('echo answer timed out'); break; }
      inFlight.add(seq);
      socket.write(encodeRecord(seq, payloadLength(random)));
      await think(random, ctx.paceMs);
    }
    if (!(await inFlight.below(1))) inFlight.abandon('echo answer timed out');
    weEnded = true;
    socket.end();
    if (!(await closed(socket))) { fail(tally, 'echo: the server did not close after our FIN'); socket.destroy(); }
  }
}

// ── WebSocket echo ────────────────────────────────────────────────────────────────────────────────────

/** The WebSocket's close event (code, clean or not); attach before closing. */
function wsClosed(ws: WebSocket): Promise<{ code: number; wasClean: boolean }> {
  if (ws.readyState === 3) return Promise.resolve({ code: 1006, wasClean: false });
  return new Promise((resolve) => ws.once('close', (code, _reason, wasClean) => resolve({ code, wasClean })));
}

/** `promise`'s value, or undefined after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    void promise.then((value) => { clearTimeout(timer); resolve(value); });
  });
}

export async function webSocketUser(ctx: SoakContext, random: Random, tally: Tally): Promise<void> {
  while (!ctx.stopping()) {
    let ws: WebSocket;
    try {
      ws = await wsConnect(`ws://127.0.0.1:${ctx.port}/echo`, { timeoutMs: ANSWER_TIMEOUT_MS });
    } catch (error) {
      fail(tally, `ws connect: ${(error as Error).message}`);
      await sleep(1000);
      continue;
    }
    tally.connections++;
    const inFlight = new InFlight(tally);
    let weClosed = false;
    ws.on('message', (data, isBinary) => {
      const verdict = isBinary ? verifyRecord(data as Uint8Array) : verifyText(data as string);
      if (verdict.kind === 'ok') inFlight.settle(verdict.seq);
      else { tally.corrupted++; fail(tally, `ws echo: ${verdict.detail}`); }
    });
    ws.on('error', (error) => fail(tally, `ws: ${error.message}`));
    const closing = wsClosed(ws);
    ws.once('close', (code) => {
      if (!weClosed) fail(tally, `ws: the server closed first (${code})`);
      inFlight.abandon('ws connection closed');
    });

    const messages = random.range(50, 300);
    for (let seq = 0; seq < messages && !ctx.stopping() && ws.readyState === 1; seq++) {
      if (!(await inFlight.below(WINDOW))) { inFlight.abandon('ws echo timed out'); break; }
      inFlight.add(seq);
      const length = payloadLength(random);
      if (random.chance(0.5)) ws.send(encodeText(seq, length));
      else ws.send(encodeRecord(seq, length));
      await think(random, ctx.paceMs);
    }
    if (!(await inFlight.below(1))) inFlight.abandon('ws echo timed out');
    weClosed = true;
    ws.close(1000);
    const result = await within(closing, 15_000);
    if (result === undefined) { fail(tally, 'ws: the close handshake did not finish'); ws.terminate(); }
    else if (result.code !== 1000 || !result.wasClean) fail(tally, `ws: closed with ${result.code}, clean ${result.wasClean}`);
  }
}

// ── chat ──────────────────────────────────────────────────────────────────────────────────────────────

/**
 * A room of `members` WebSocket /chat members, the first `senders` of which send. Everyone joins before
 * anyone sends, so each member must see every other sender's sequence from 0, complete and in order.
 */
export async function chatRoom(ctx: SoakContext, random: Random, tally: Tally, members: number, senders: number): Promise<void> {
  const sockets: WebSocket[] = [];
  const expected: number[][] = [];
  const sent = new Array<number>(senders).fill(0);
  let closing = false;
  for (let m = 0; m < members; m++) {
    let ws: WebSocket;
    try {
      ws = await wsConnect(`ws://127.0.0.1:${ctx.port}/chat`, { protocols: ['chat'], timeoutMs: ANSWER_TIMEOUT_MS });
    } catch (error) {
      fail(tally, `chat connect: ${(error as Error).message}`);
      continue;
    }
    tally.connections++;
    const seen = new Array<number>(senders).fill(0);
    const self = sockets.length;
    sockets.push(ws);
    expected.push(seen);
    ws.on('message', (data) => {
      const text = data as string;
      const bar = text.indexOf('|');
      const from = Number(text.slice(0, bar));
      const verdict = verifyText(text.slice(bar + 1));
      if (verdict.kind !== 'ok' || !(from >= 0 && from < senders) || from === self) {
        tally.corrupted++;
        fail(tally, `chat: ${verdict.kind === 'corrupt' ? verdict.detail : `message from ${from} to ${self}`}`);
        return;
      }
      if (verdict.seq !== seen[from]) {
        tally.reordered++;
        fail(tally, `chat: member ${self} got ${from}:${verdict.seq}, expected ${from}:${seen[from]}`);
      }
      seen[from] = verdict.seq + 1;
      tally.received++;
    });
    ws.on('close', (code) => { if (!closing) fail(tally, `chat: member ${self} closed by the server (${code})`); });
    ws.on('error', (error) => fail(tally, `chat: ${error.message}`));
  }
  const joined = sockets.length;

  await Promise.all(sockets.slice(0, senders).map(async (ws, s) => {
    while (!ctx.stopping() && ws.readyState === 1) {
      const seq = sent[s]!;
      ws.send(`${s}|${encodeText(seq, random.range(8, 400))}`);
      sent[s] = seq + 1;
      tally.sent += joined - 1;
      await think(random, ctx.paceMs * 5);
    }
  }));

  // Every member must catch up with every other sender.
  const caughtUp = (): boolean => expected.every((seen, m) => seen.every((n, s) => s === m || n === sent[s]));
  const deadline = Date.now() + ANSWER_TIMEOUT_MS;
  while (!caughtUp() && Date.now() < deadline) await sleep(50);
  const shortfall = expected.reduce((sum, seen, m) => sum + seen.reduce((sub, n, s) => sub + (s === m ? 0 : sent[s]! - n), 0), 0);
  if (shortfall > 0) {
    tally.lost += shortfall;
    fail(tally, `chat: ${shortfall} deliveries missing`);
  }
  closing = true;
  await Promise.all(sockets.map(async (ws) => {
    const result = within(wsClosed(ws), 15_000);
    ws.close(1000);
    if ((await result) === undefined) { fail(tally, 'chat: the close handshake did not finish'); ws.terminate(); }
  }));
}

export { Random };
