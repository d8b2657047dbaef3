/**
 * The connection table and its rows, tested directly. The rows need real sockets (byte counts are read
 * from them), so a small net server on 127.0.0.1 port 0 hands out connected pairs; the 5-tuples given to
 * the table are made up here, so the indexing by remote address / listener ends / remote port is exercised
 * with addresses and ports a single loopback test could not produce.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ConnectionState } from '../../src/accept-loop/connection-state.js';
import { type ConnectionRecord, type ConnectionSnapshot, ConnectionTable } from '../../src/accept-loop/connection-table.js';
import type { FiveTuple } from '../../src/accept-loop/five-tuple.js';
import { type LabEvent, type LabEventInput, LabEvents } from '../../src/accept-loop/lab-events.js';

const tuple = (remoteAddress: string, remotePort: number, localAddress = '127.0.0.1', localPort = 8080): FiveTuple =>
  ({ transport: 'tcp', localAddress, localPort, remoteAddress, remotePort });

interface Pair { readonly server: Socket; readonly client: Socket }

/** One listening socket for the whole file; every pair() is a fresh connected socket pair on it. */
let listener: Server;
const accepted: Socket[] = [];
const waiting: Array<(socket: Socket) => void> = [];
const opened: Socket[] = [];

before(async () => {
  listener = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    opened.push(socket);
    const waiter = waiting.shift();
    if (waiter) waiter(socket); else accepted.push(socket);
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
});

after(async () => {
  for (const socket of opened) socket.destroy();
  await new Promise<void>((resolve) => listener.close(() => resolve()));
});

async function pair(): Promise<Pair> {
  const { port } = listener.address() as { port: number };
  const client = connect({ port, host: '127.0.0.1' });
  client.on('error', () => {});
  opened.push(client);
  const serverSide = new Promise<Socket>((resolve) => {
    const ready = accepted.shift();
    if (ready) resolve(ready); else waiting.push(resolve);
  });
  await once(client, 'connect');
  const server = await withTimeout(serverSide, 3_000, 'the accepted socket');
  return { server, client };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Read exactly `count` bytes on `socket` (bounded). */
async function readBytes(socket: Socket, count: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  return withTimeout(new Promise<Buffer>((resolve) => {
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= count) { socket.off('data', onData); resolve(Buffer.concat(chunks, length)); }
    };
    socket.on('data', onData);
  }), 3_000, `${count} bytes`);
}

/** A LabEvents that also counts how often the table asked it to report (the hot path should not, unheard). */
class CountingEvents extends LabEvents {
  reports = 0;
  override report(event: LabEventInput): void {
    this.reports++;
    super.report(event);
  }
}

const upgrade = (record: ConnectionRecord, token: string): void => {
  if (record.state === ConnectionState.Accepted) record.transition(ConnectionState.Http);
  record.transition(ConnectionState.Switching);
  record.transition(ConnectionState.Upgraded, token);
};

describe('ConnectionTable', () => {
  it('add() gives increasing ids and counts rows', async () => {
    const { server } = await pair();
    const table = new ConnectionTable();
    assert.equal(table.size, 0);
    const a = table.add(tuple('10.0.0.1', 5000), server);
    const b = table.add(tuple('10.0.0.1', 5001), server);
    const c = table.add(tuple('10.0.0.2', 5000), server);
    assert.deepEqual([a.id, b.id, c.id], [1, 2, 3]);
    assert.equal(table.size, 3);
    assert.equal(a.state, ConnectionState.Accepted);
    assert.deepEqual(a.fiveTuple, tuple('10.0.0.1', 5000));
    assert.equal(a.socket, server);
    table.remove(b);
    const d = table.add(tuple('10.0.0.1', 5001), server);
    assert.equal(d.id, 4, 'ids are never reused, even for a 5-tuple seen before');
    assert.equal(table.size, 3);
  });

  it('a second add() with the same 5-tuple throws and leaves the first row in place', async () => {
    const { server } = await pair();
    const table = new ConnectionTable();
    const first = table.add(tuple('10.0.0.1', 5000), server);
    assert.throws(() => table.add(tuple('10.0.0.1', 5000), server), /already in the table: tcp 127\.0\.0\.1:8080 10\.0\.0\.1:5000/);
    assert.equal(table.size, 1);
    assert.equal(table.get(first.key), first);
    // Differing in any single part is a different connection.
    table.add(tuple('10.0.0.1', 5001), server);
    table.add(tuple('10.0.0.2', 5000), server);
    table.add(tuple('10.0.0.1', 5000, '127.0.0.2'), server);
    table.add(tuple('10.0.0.1', 5000, '127.0.0.1', 9090), server);
    assert.equal(table.size, 5);
  });

  it('get(key) finds a row by its exact key text, and nothing for an unknown key', async () => {
    const { server } = await pair();
    const table = new ConnectionTable();
    const a = table.add(tuple('10.0.0.1', 5000), server);
    const b = table.add(tuple('10.0.0.2', 6000, '127.0.0.1', 9090), server);
    const v6 = table.add(tuple('::1', 7000, '::1', 8080), server);
    assert.equal(a.key, 'tcp 127.0.0.1:8080 10.0.0.1:5000');
    assert.equal(b.key, 'tcp 127.0.0.1:9090 10.0.0.2:6000');
    assert.equal(v6.key, 'tcp [::1]:8080 [::1]:7000');
    assert.equal(table.get('tcp 127.0.0.1:8080 10.0.0.1:5000'), a);
    assert.equal(table.get('tcp 127.0.0.1:9090 10.0.0.2:6000'), b);
    assert.equal(table.get('tcp [::1]:8080 [::1]:7000'), v6);
    assert.equal(table.get('tcp 127.0.0.1:8080 10.0.0.1:5001'), undefined);
    assert.equal(table.get('tcp 127.0.0.1:9090 10.0.0.1:5000'), undefined, 'right remote end, wrong listener');
    assert.equal(table.get('tcp 127.0.0.1:8080 10.0.0.1:5000 '), undefined, 'the text must match exactly');
    assert.equal(table.get(''), undefined);
    table.remove(a);
    assert.equal(table.get('tcp 127.0.0.1:8080 10.0.0.1:5000'), undefined, 'a removed row is not found');
  });

  it('records() is oldest first across remote addresses and local endpoints', async () => {
    const { server } = await pair();
    const table = new ConnectionTable();
    // Interleaved so that grouping by address or by listener would give a different order.
    const r1 = table.add(tuple('10.0.0.2', 5000), server);
    const r2 = table.add(tuple('10.0.0.1', 5000), server);
    const r3 = table.add(tuple('10.0.0.2', 5000, '127.0.0.1', 9090), server);
    const r4 = table.add(tuple('10.0.0.2', 4000), server);
    const r5 = table.add(tuple('10.0.0.1', 3000, '127.0.0.1', 9090), server);
    assert.deepEqual([...table.records()].map((r) => r.id), [r1, r2, r3, r4, r5].map((r) => r.id));
    table.remove(r1);
    const r6 = table.add(tuple('10.0.0.2', 5000), server);
    assert.deepEqual([...table.records()], [r2, r3, r4, r5, r6]);
    assert.deepEqual(table.snapshot().map((s) => s.id), [r2, r3, r4, r5, r6].map((r) => r.id));
  });

  it('countFrom(address) counts rows from that remote address across local endpoints', async () => {
    const { server } = await pair();
    const table = new ConnectionTable();
    const a = table.add(tuple('10.0.0.1', 5000), server);
    table.add(tuple('10.0.0.1', 5001), server);
    const c = table.add(tuple('10.0.0.1', 5000, '127.0.0.1', 9090), server);
    table.add(tuple('10.0.0.1', 5000, '127.0.0.2', 8080), server);
    table.add(tuple('10.0.0.2', 5000), server);
    assert.equal(table.countFrom('10.0.0.1'), 4);
    assert.equal(table.countFrom('10.0.0.2'), 1);
    assert.equal(table.countFrom('10.0.0.3'), 0);
    assert.equal(table.countFrom('10.0.0'), 0, 'an exact address, not a prefix');
    table.remove(a);
    table.remove(c);
    assert.equal(table.countFrom('10.0.0.1'), 2);
  });

  it('remove() is idempotent and removes only that exact row', async () => {
    const { server } = await pair();
    const table = new ConnectionTable();
    const a = table.add(tuple('10.0.0.1', 5000), server);
    const b = table.add(tuple('10.0.0.1', 5001), server);
    const c = table.add(tuple('10.0.0.1', 5000, '127.0.0.1', 9090), server);
    table.remove(a);
    table.remove(a);
    assert.equal(table.size, 2);
    assert.deepEqual([...table.records()], [b, c]);
    assert.equal(table.countFrom('10.0.0.1'), 2);
    // A stale row for a 5-tuple that is live again (a new connection reusing the client port) must not
    // take the new row with it.
    const again = table.add(tuple('10.0.0.1', 5000), server);
    table.remove(a);
    assert.equal(table.size, 3);
    assert.equal(table.get(again.key), again);
    // A row from another table with the same 5-tuple is not this table's row either.
    const other = new ConnectionTable().add(tuple('10.0.0.1', 5001), server);
    table.remove(other);
    assert.equal(table.get(b.key), b);
    assert.equal(table.size, 3);
    for (const row of [again, b, c, b, c]) table.remove(row);
    assert.equal(table.size, 0);
    assert.deepEqual([...table.records()], []);
    assert.equal(table.countFrom('10.0.0.1'), 0);
    // The emptied indexes still work.
    const fresh = table.add(tuple('10.0.0.1', 5000), server);
    assert.equal(table.get(fresh.key), fresh);
    assert.equal(table.size, 1);
  });
});

describe('ConnectionRecord', () => {
  it('markClosed() takes the row out, keeps its byte counts, and blames the peer by default', async () => {
    const { server, client } = await pair();
    const table = new ConnectionTable();
    const record = table.add(tuple('10.0.0.1', 5000), server, 1_000);
    const keep = table.add(tuple('10.0.0.1', 5001), server);
    client.write('hello');
    await readBytes(server, 5);
    server.write('four');
    await readBytes(client, 4);
    assert.equal(record.bytesIn, 5);
    assert.equal(record.bytesOut, 4);
    server.destroy();
    await once(server, 'close');
    record.markClosed(2_500);
    assert.equal(table.size, 1);
    assert.equal(table.get(record.key), undefined);
    assert.equal(table.get(keep.key), keep);
    assert.equal(record.state, ConnectionState.Closed);
    assert.equal(record.closedAt, 2_500);
    assert.equal(record.closedBy, 'client');
    assert.equal(record.closeReason, 'peer closed');
    assert.equal(record.bytesIn, 5, 'bytes read survive the socket');
    assert.equal(record.bytesOut, 4, 'bytes written survive the socket');
    const snapshot = record.toJSON(9_999);
    assert.equal(snapshot.bytesIn, 5);
    assert.equal(snapshot.bytesOut, 4);
    assert.equal(snapshot.ageMs, 1_500, 'a closed row ages no further');
  });

  it('noteClose() before markClosed() wins, and only the first reason counts', async () => {
    const { server } = await pair();
    const table = new ConnectionTable();
    const record = table.add(tuple('10.0.0.1', 5000), server);
    record.noteClose('server', 'keepalive timeout');
    record.noteClose('client', 'connection reset by peer');
    record.noteServerClose('shutdown');
    record.markClosed();
    assert.equal(record.closedBy, 'server');
    assert.equal(record.closeReason, 'keepalive timeout');
    const other = table.add(tuple('10.0.0.1', 5001), server);
    other.noteServerClose('protocol error');
    other.markClosed();
    assert.equal(other.closedBy, 'server');
    assert.equal(other.closeReason, 'protocol error');
    assert.equal(table.size, 0);
  });

  it('markClosed() is idempotent', async () => {
    const { server } = await pair();
    const events = new LabEvents();
    const seen: LabEvent[] = [];
    events.subscribe((event) => seen.push(event));
    const table = new ConnectionTable(events);
    const record = table.add(tuple('10.0.0.1', 5000), server);
    record.markClosed(5_000);
    // The 5-tuple is live again (a new connection): a repeated markClosed of the old row must not touch it.
    const next = table.add(tuple('10.0.0.1', 5000), server);
    record.noteClose('server', 'too late');
    record.markClosed(6_000);
    assert.equal(record.closedAt, 5_000);
    assert.equal(record.closedBy, 'client');
    assert.equal(record.closeReason, 'peer closed');
    assert.equal(table.size, 1);
    assert.equal(table.get(next.key), next);
    assert.equal(seen.filter((e) => e.type === 'close').length, 1);
  });

  it("markClosed() reports a 'close' event only when someone subscribes", async () => {
    const { server, client } = await pair();
    const events = new CountingEvents();
    const table = new ConnectionTable(events);
    const unheard = table.add(tuple('10.0.0.1', 5000), server);
    unheard.markClosed();
    assert.equal(events.reports, 0, 'no subscriber: no event is built');

    const seen: LabEvent[] = [];
    const unsubscribe = events.subscribe((event) => seen.push(event));
    const heard = table.add(tuple('10.0.0.1', 5001), server);
    client.write('abc');
    await readBytes(server, 3);
    heard.noteServerClose('idle');
    heard.markClosed();
    assert.equal(seen.length, 1);
    const [close] = seen;
    assert.equal(close?.type, 'close');
    assert.ok(close?.type === 'close');
    assert.equal(close.id, heard.id);
    assert.equal(close.fiveTuple, 'tcp 127.0.0.1:8080 10.0.0.1:5001');
    assert.equal(close.closedBy, 'server');
    assert.equal(close.reason, 'idle');
    assert.equal(close.bytesIn, 3);
    assert.equal(close.bytesOut, 0);
    assert.equal(typeof close.time, 'number');

    unsubscribe();
    const reports = events.reports;
    table.add(tuple('10.0.0.1', 5002), server).markClosed();
    assert.equal(events.reports, reports, 'unsubscribed: no event is built');
    assert.equal(seen.length, 1);
    // A table without events closes rows all the same.
    const quiet = new ConnectionTable();
    const row = quiet.add(tuple('10.0.0.1', 5000), server);
    row.markClosed();
    assert.equal(quiet.size, 0);
  });

  it("emit() reports a 'protocol' event with the current upgrade token, only while tracing", async () => {
    const { server } = await pair();
    const events = new CountingEvents();
    const table = new ConnectionTable(events);
    const record = table.add(tuple('10.0.0.1', 5000), server);
    upgrade(record, 'x');
    assert.equal(record.isTracing(), false);
    record.emit({ kind: 'frame', detail: 'unheard' });
    assert.equal(events.reports, 0);

    const seen: LabEvent[] = [];
    const unsubscribe = events.subscribe((event) => seen.push(event));
    assert.equal(record.isTracing(), true);
    record.emit({ kind: 'frame', detail: 'text fin=1 len=5', direction: 'in' });
    record.emit({ kind: 'note', detail: 'no direction' });
    assert.equal(seen.length, 2);
    const [first, second] = seen;
    assert.ok(first?.type === 'protocol');
    assert.equal(first.id, record.id);
    assert.equal(first.fiveTuple, record.key);
    assert.equal(first.protocol, 'x');
    assert.equal(first.kind, 'frame');
    assert.equal(first.detail, 'text fin=1 len=5');
    assert.equal(first.direction, 'in');
    assert.ok(second?.type === 'protocol');
    assert.equal(second.protocol, 'x');
    assert.equal(second.kind, 'note');
    assert.equal(second.direction, undefined);

    unsubscribe();
    assert.equal(record.isTracing(), false);
    record.emit({ kind: 'frame', detail: 'unheard again' });
    assert.equal(seen.length, 2);

    // Before any upgrade the token is empty; without events nothing is traced and nothing throws.
    events.subscribe((event) => seen.push(event));
    const plain = table.add(tuple('10.0.0.1', 5001), server);
    plain.emit({ kind: 'k', detail: 'd' });
    assert.ok(seen[2]?.type === 'protocol');
    assert.equal(seen[2].protocol, '');
    const quiet = new ConnectionTable().add(tuple('10.0.0.1', 5000), server);
    assert.equal(quiet.isTracing(), false);
    quiet.emit({ kind: 'k', detail: 'd' });
  });

  it('onShutdown(handler, target) + shutdown() calls handler(target) exactly once; undefined unregisters', async () => {
    const { server } = await pair();
    const table = new ConnectionTable();
    const record = table.add(tuple('10.0.0.1', 5000), server);
    const calls: unknown[] = [];
    const target = { name: 'target' };
    record.onShutdown((t: { name: string }) => calls.push(t), target);
    record.shutdown();
    record.shutdown();
    assert.equal(calls.length, 1);
    assert.equal(calls[0], target);

    // The slot holds one handler: registering replaces, undefined clears.
    record.onShutdown(() => calls.push('replaced'), 1);
    record.onShutdown((t: number) => calls.push(t), 2);
    record.shutdown();
    assert.deepEqual(calls.slice(1), [2]);
    record.onShutdown(() => calls.push('unregistered'), 3);
    record.onShutdown(undefined);
    record.shutdown();
    assert.equal(calls.length, 2);

    // Nothing registered: shutdown() is a no-op. A closed row forgets its handler.
    table.add(tuple('10.0.0.1', 5001), server).shutdown();
    record.onShutdown(() => calls.push('after close'), 4);
    record.markClosed();
    record.shutdown();
    assert.equal(calls.length, 2);
  });

  it('transition() to an illegal state throws and leaves the state alone', async () => {
    const { server } = await pair();
    const record = new ConnectionTable().add(tuple('10.0.0.1', 5000), server);
    assert.throws(() => record.transition(ConnectionState.Upgraded, 'x'), { code: 'ERR_ILLEGAL_TRANSITION' });
    assert.throws(() => record.transition(ConnectionState.Switching), { code: 'ERR_ILLEGAL_TRANSITION' });
    assert.equal(record.state, ConnectionState.Accepted);
    assert.equal(record.protocol, undefined);
    record.transition(ConnectionState.Http);
    assert.throws(() => record.transition(ConnectionState.Upgraded, 'x'), { code: 'ERR_ILLEGAL_TRANSITION' });
    record.transition(ConnectionState.Switching);
    record.transition(ConnectionState.Upgraded, 'x');
    assert.throws(() => record.transition(ConnectionState.Upgraded, 'y'), { code: 'ERR_ILLEGAL_TRANSITION' }, 'no second takeover');
    assert.throws(() => record.transition(ConnectionState.Switching), { code: 'ERR_ILLEGAL_TRANSITION' });
    assert.equal(record.protocol, 'x');
    record.markClosed();
    assert.throws(() => record.transition(ConnectionState.Http), { code: 'ERR_ILLEGAL_TRANSITION' }, 'closed is final');
    assert.equal(record.state, ConnectionState.Closed);
  });

  it('toJSON() has the fields of ConnectionSnapshot', async () => {
    const { server, client } = await pair();
    const table = new ConnectionTable();
    const record = table.add(tuple('10.0.0.1', 5000, '127.0.0.1', 8080), server);
    client.write('xy');
    await readBytes(server, 2);
    record.transition(ConnectionState.Http);
    record.countRequest();
    record.countRequest();
    const open: ConnectionSnapshot = record.toJSON();
    assert.deepEqual(Object.keys(open).sort(), [
      'ageMs', 'bytesIn', 'bytesOut', 'fiveTuple', 'http', 'id', 'local', 'protocol', 'remote', 'requests', 'state', 'transport',
    ]);
    const { ageMs, ...rest } = open;
    assert.ok(Number.isFinite(ageMs) && ageMs >= 0, `ageMs ${ageMs}`);
    assert.deepEqual(rest, {
      id: record.id,
      transport: 'tcp',
      http: '1.1',
      local: { address: '127.0.0.1', port: 8080 },
      remote: { address: '10.0.0.1', port: 5000 },
      fiveTuple: 'tcp 127.0.0.1:8080 10.0.0.1:5000',
      state: 'http',
      protocol: null,
      requests: 2,
      bytesIn: 2,
      bytesOut: 0,
    });
    assert.equal(record.requests, 2);
    assert.ok(Math.abs(record.acceptedAt - Date.now()) < 5_000);
    const json = JSON.parse(JSON.stringify(record)) as ConnectionSnapshot;
    assert.deepEqual({ ...json, ageMs: 0 }, { ...rest, ageMs: 0 }, 'JSON.stringify uses toJSON');

    record.noteServerClose('bye');
    record.markClosed();
    const closed = record.toJSON();
    assert.equal(closed.state, 'closed');
    assert.equal(closed.closedBy, 'server');
    assert.equal(closed.closeReason, 'bye');
    assert.ok(closed.ageMs >= 0);

    const timed = table.add(tuple('10.0.0.1', 5001), server, 10_000);
    assert.equal(timed.acceptedAt, 10_000);
    assert.equal(timed.toJSON(10_250).ageMs, 250);
    assert.equal(table.snapshot(10_400)[0]?.ageMs, 400);
  });

  it("the protocol chain reads 'TLS/1.0 > websocket' after two upgrades", async () => {
    const { server } = await pair();
    const events = new LabEvents();
    const seen: LabEvent[] = [];
    events.subscribe((event) => seen.push(event));
    const record = new ConnectionTable(events).add(tuple('10.0.0.1', 5000), server);
    assert.equal(record.protocol, undefined);
    upgrade(record, 'TLS/1.0');
    assert.equal(record.protocol, 'TLS/1.0');
    record.emit({ kind: 'tls', detail: 'handshake' });
    record.transition(ConnectionState.Http);
    assert.equal(record.state, ConnectionState.Http);
    assert.equal(record.protocol, 'TLS/1.0', 'carrying HTTP again keeps the chain');
    record.transition(ConnectionState.Switching);
    record.transition(ConnectionState.Upgraded, 'websocket');
    assert.equal(record.state, ConnectionState.Upgraded);
    assert.equal(record.protocol, 'TLS/1.0 > websocket');
    assert.equal(record.toJSON().protocol, 'TLS/1.0 > websocket');
    record.emit({ kind: 'frame', detail: 'text' });
    const tokens = seen.map((e) => e.type === 'protocol' ? e.protocol : undefined);
    assert.deepEqual(tokens, ['TLS/1.0', 'websocket'], 'events carry the current token, not the chain');
  });
});
