/**
 * `switchyard serve --workers 2`, as a user starts it: one primary, two workers, one port. Which worker
 * accepted each connection (by `/_lab/whoami`), one table for all of them, a chat room across workers, a
 * worker killed and replaced while the other one's clients notice nothing, and SIGTERM to the primary
 * giving every WebSocket its 1001 and exiting 0. Real processes and sockets on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../src/protocols/websocket/client.js';
import type { WebSocket } from '../../src/protocols/websocket/session.js';
import { type Served, startServe, stopServe } from '../helpers/serve.js';

interface Row { id: number; worker?: number; remote: { port: number }; protocol: string | null }

async function getJson<T>(port: number, path: string, timeoutMs = 5_000): Promise<T> {
  // A fresh connection per request: a pooled one may belong to a worker the test has just killed.
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { Connection: 'close' }, signal: AbortSignal.timeout(timeoutMs) });
  assert.equal(response.status, 200, path);
  return await response.json() as T;
}

const workersOf = (port: number) => getJson<Array<{ pid: number; connections: number }>>(port, '/_lab/workers');

/** The worker that accepted the WebSocket whose client port is `port`, from the aggregated table. */
async function workerOf(serverPort: number, ws: WebSocket): Promise<number> {
  const clientPort = (ws.socket as unknown as { localPort: number }).localPort;
  const rows = (await getJson<{ connections: Row[] }>(serverPort, '/connections')).connections;
  const row = rows.find((r) => r.remote.port === clientPort);
  assert.ok(row?.worker, `a row with a worker for client port ${clientPort}`);
  return row.worker;
}

function nextMessage(ws: WebSocket, ms = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message in time')), ms);
    ws.once('message', (data) => { clearTimeout(timer); resolve(String(data)); });
  });
}

const closed = (ws: WebSocket): Promise<[number, string]> => new Promise((resolve) => ws.once('close', (code, reason) => resolve([code, reason])));

describe('serve --workers 2', () => {
  let serve: Served;
  before(async () => { serve = await startServe(['--port', '0', '--workers', '2']); });
  after(async () => { if (serve.child.exitCode === null) await stopServe(serve.child); });

  it('prints one banner naming both workers and how connections are handed out', () => {
    assert.match(serve.stdout, /^switchyard listening on http:\/\/127\.0\.0\.1:\d+\/$/m);
    assert.equal(serve.stdout.match(/^switchyard listening on/gm)?.length, 1, 'one banner, not one per worker');
    assert.match(serve.stdout, /^protocols: websocket, echo, lab-chat\/1$/m);
    assert.match(serve.stdout, /^workers: 2 \(pids \d+, \d+\), one listening socket; scheduling round-robin: the primary accept\(\)s and hands each connection to the next worker$/m);
  });

  it('20 connections are spread over both workers, each row naming its worker, ids unique across them', async () => {
    const pids = (await workersOf(serve.port)).map((w) => w.pid);
    assert.equal(pids.length, 2);
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) {
      // A fresh connection each time (fetch would keep one alive): the handoff is per accept().
      const response = await fetch(`http://127.0.0.1:${serve.port}/_lab/whoami`, { headers: { Connection: 'close' } });
      const self = await response.json() as { worker?: number; id: number };
      assert.ok(self.worker !== undefined && pids.includes(self.worker), JSON.stringify(self));
      seen.push(self.worker);
    }
    const counts = pids.map((pid) => seen.filter((p) => p === pid).length);
    // Round-robin by the primary: close to 10 each (other tests' connections interleave).
    assert.ok(counts.every((n) => n >= 5), `accepted per worker: ${counts.join(', ')}`);

    const sockets = await Promise.all([0, 1, 2, 3].map(() => connect(`ws://127.0.0.1:${serve.port}/echo`)));
    const table = await getJson<{ connections: Row[]; workers: Array<{ pid: number; connections: number }> }>(serve.port, '/connections');
    const websockets = table.connections.filter((r) => r.protocol === 'websocket');
    assert.equal(websockets.length, 4, JSON.stringify(table.connections.map((r) => [r.id, r.worker, r.protocol])));
    assert.deepEqual(new Set(websockets.map((r) => r.worker)), new Set(pids), 'rows from both workers in one answer');
    assert.equal(new Set(table.connections.map((r) => r.id)).size, table.connections.length, 'ids unique across workers');
    const workers = await workersOf(serve.port);
    assert.equal(workers.reduce((sum, w) => sum + w.connections, 0) >= 4, true, JSON.stringify(workers));
    for (const ws of sockets) ws.close();
    await Promise.all(sockets.map(closed));
  });

  it('two /chat members on different workers hear each other (the primary relays the room)', async () => {
    const members: WebSocket[] = [];
    let a: WebSocket | undefined;
    let b: WebSocket | undefined;
    // Round-robin puts consecutive connections on different workers; check rather than assume.
    for (let i = 0; i < 6 && b === undefined; i++) {
      const ws = await connect(`ws://127.0.0.1:${serve.port}/chat`, { protocols: ['chat'] });
      members.push(ws);
      if (a === undefined) a = ws;
      else if (await workerOf(serve.port, ws) !== await workerOf(serve.port, a)) b = ws;
    }
    assert.ok(a && b, 'two members on different workers');
    const heard = nextMessage(b);
    a.send('hello from the other worker');
    assert.equal(await heard, 'hello from the other worker');
    const broker = await getJson<{ kind: string; connected: boolean; published: number }>(serve.port, '/_lab/broker');
    assert.equal(broker.kind, 'cluster');
    assert.equal(broker.connected, true);
    for (const ws of members) ws.close();
    await Promise.all(members.map(closed));
  });

  it('the dashboard\'s feed, served by one worker, lists every worker\'s rows in its snapshots', { timeout: 20_000 }, async () => {
    const sockets = await Promise.all([0, 1, 2].map(() => connect(`ws://127.0.0.1:${serve.port}/echo`)));
    const feed = await connect(`ws://127.0.0.1:${serve.port}/_lab/events`);
    const pids = (await workersOf(serve.port)).map((w) => w.pid);
    const seen = await new Promise<Set<number>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no snapshot with both workers\' rows in 10 s')), 10_000);
      feed.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; connections?: Row[] };
        if (message.type !== 'snapshot') return;
        const workers = new Set(message.connections!.map((row) => row.worker!));
        if (pids.every((pid) => workers.has(pid))) { clearTimeout(timer); resolve(workers); }
      });
    });
    assert.equal(seen.size, 2);
    for (const ws of [...sockets, feed]) ws.close();
    await Promise.all([...sockets, feed].map(closed));
  });

  it('a killed worker is replaced within a second; only its own clients lose their connections', { timeout: 30_000 }, async () => {
    const first = await connect(`ws://127.0.0.1:${serve.port}/echo`);
    let second = await connect(`ws://127.0.0.1:${serve.port}/echo`);
    const extra: WebSocket[] = [];
    while (await workerOf(serve.port, second) === await workerOf(serve.port, first)) {
      extra.push(second);
      second = await connect(`ws://127.0.0.1:${serve.port}/echo`);
    }
    const victim = await workerOf(serve.port, first);
    const survivor = await workerOf(serve.port, second);
    const firstClosed = closed(first);
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    assert.equal((await firstClosed)[0], 1006, 'its client sees the connection drop');
    let workers: Array<{ pid: number }> = [];
    for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
      // A connection the primary hands to the victim in the moment between its death and the primary
      // seeing it exit is lost with it (node:cluster's round robin); a client retries, so does the test.
      workers = await getJson<Array<{ pid: number; connections: number }>>(serve.port, '/_lab/workers', 1_000).catch(() => []);
      if (workers.length === 2 && !workers.some((w) => w.pid === victim)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const replacedIn = Date.now() - killedAt;
    assert.equal(workers.length, 2, JSON.stringify(workers));
    assert.ok(!workers.some((w) => w.pid === victim) && workers.some((w) => w.pid === survivor), JSON.stringify(workers));
    assert.ok(replacedIn < 1_500, `replaced in ${replacedIn} ms`);
    // The survivor's client noticed nothing.
    const echo = nextMessage(second);
    second.send('still here');
    assert.equal(await echo, 'still here');
    for (const ws of [second, ...extra]) ws.close();
  });

  it('SIGTERM to the primary: every WebSocket on every worker gets 1001, and the primary exits 0', { timeout: 30_000 }, async () => {
    const sockets = await Promise.all([0, 1, 2, 3].map(() => connect(`ws://127.0.0.1:${serve.port}/echo`)));
    const onWorkers = new Set(await Promise.all(sockets.map((ws) => workerOf(serve.port, ws))));
    assert.equal(onWorkers.size, 2, 'WebSockets on both workers');
    const closes = Promise.all(sockets.map(closed));
    const code = await stopServe(serve.child);
    assert.deepEqual((await closes).map(([c]) => c), [1001, 1001, 1001, 1001]);
    assert.equal(code, 0, serve.stderr());
  });
});
