import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { withLab, eventually } from '../helpers/lab.js';
import { connect } from '../../src/protocols/websocket/client.js';
import type { SwitchyardServer } from '../../src/server/server.js';
import { EventFeed } from '../../src/lab/event-feed.js';
import { FeedClient } from './feed-client.js';

const tupleOf = (socket: { localPort?: number | undefined }, server: SwitchyardServer): string =>
  `tcp 127.0.0.1:${server.port} 127.0.0.1:${socket.localPort}`;

describe('the dashboard feed, /_lab/events', () => {
  it('says hello with its own 5-tuple, then sends a snapshot with its own row marked and the protocols', () => withLab({}, async (server) => {
    const other = await RawClient.open(server.port);
    const feed = await FeedClient.open(server.port);
    await feed.waitFor(() => feed.messages.length >= 2, 'hello and snapshot');
    const [hello, snapshot] = feed.messages;
    assert.equal(hello!.type, 'hello');
    assert.equal(snapshot!.type, 'snapshot');
    if (hello!.type !== 'hello' || snapshot!.type !== 'snapshot') return;
    const own = tupleOf(feed.ws.socket as unknown as { localPort: number }, server);
    assert.equal(hello.self.fiveTuple, own, 'the feed learns the client port it cannot see from a browser');
    assert.deepEqual(hello.server, { address: '127.0.0.1', port: server.port });
    const mine = snapshot.connections.filter((row) => row.self);
    assert.deepEqual(mine.map((row) => [row.fiveTuple, row.state, row.protocol]), [[own, 'upgraded', 'websocket']]);
    assert.ok(snapshot.connections.some((row) => row.fiveTuple === tupleOf(other.socket, server) && !row.self), 'other connections are listed, unmarked');
    assert.equal(snapshot.total, 2);
    assert.deepEqual(snapshot.protocols.map((p) => p.token).filter((t) => t === 'websocket' || t === 'echo').sort(), ['echo', 'websocket']);
    feed.close();
    other.close();
  }));

  it('streams a plain request as accept → sniff → request → response → close, each with the client\'s 5-tuple', () => withLab({}, async (server) => {
    const feed = await FeedClient.open(server.port);
    await feed.waitFor(() => feed.of('snapshot').length >= 1, 'the first snapshot');
    const client = await RawClient.open(server.port);
    const tuple = tupleOf(client.socket, server);
    client.write('GET /healthz HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
    await client.waitForEnd(10_000);
    await feed.waitFor(() => feed.events.some((e) => e.type === 'close' && e.fiveTuple === tuple), 'the close event');
    const seen = feed.events.filter((e) => 'fiveTuple' in e && e.fiveTuple === tuple);
    // The front door looks at the first bytes of every connection (TLS record, HTTP/2 preface or request line).
    assert.deepEqual(seen.map((e) => e.type), ['accept', 'sniff', 'request', 'response', 'close']);
    const [, sniff, request, response, close] = seen;
    assert.ok(sniff!.type === 'sniff' && sniff.decided === 'http', JSON.stringify(sniff));
    assert.ok(request!.type === 'request' && request.method === 'GET' && request.target === '/healthz');
    assert.ok(response!.type === 'response' && response.status === 200);
    assert.ok(close!.type === 'close' && close.closedBy === 'server' && close.bytesOut > 0);
    feed.close();
  }));

  it('streams the 101 and the frames of other WebSockets, but never the frames of feed connections (no feedback between two dashboards)', () => withLab({}, async (server) => {
    const a = await FeedClient.open(server.port);
    const b = await FeedClient.open(server.port);
    await a.waitFor(() => a.of('hello').length === 1, 'hello on a');
    await b.waitFor(() => b.of('hello').length === 1, 'hello on b');
    const feeds = new Set([a.of('hello')[0]!.self.fiveTuple, b.of('hello')[0]!.self.fiveTuple]);
    // b's 101 happened while a was open: a sees it (only its frames are left out).
    await a.waitFor(() => a.events.some((e) => e.type === 'upgrade' && feeds.has(e.fiveTuple)), 'b\'s upgrade on a');

    const echo = await connect(`ws://127.0.0.1:${server.port}/echo`);
    const echoTuple = tupleOf(echo.socket as unknown as { localPort: number }, server);
    const echoed = new Promise((resolve) => echo.once('message', resolve));
    echo.send('ping through the lab');
    await echoed;
    for (const feed of [a, b]) {
      await feed.waitFor(() => feed.events.some((e) => e.type === 'protocol' && e.fiveTuple === echoTuple && e.direction === 'out'), 'the echo frames');
    }
    // A marker after the echo: by the time it arrives, any feedback would have been streamed already.
    const marker = await RawClient.open(server.port);
    const markerTuple = tupleOf(marker.socket, server);
    marker.write('GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n');
    for (const feed of [a, b]) {
      await feed.waitFor(() => feed.events.some((e) => e.type === 'response' && e.fiveTuple === markerTuple), 'the marker response');
      const feedback = feed.events.filter((e) => e.type === 'protocol' && feeds.has(e.fiveTuple));
      assert.deepEqual(feedback, [], 'no frame event of a feed connection is streamed');
    }
    // b's own 101 came before its snapshot (which already shows it upgraded), so b's stream starts after it.
    const bTuple = b.of('hello')[0]!.self.fiveTuple;
    assert.deepEqual(b.events.filter((e) => e.type === 'upgrade' && e.fiveTuple === bTuple), [], 'b gets only what changed after its snapshot');
    marker.close();
    echo.close();
    a.close();
    b.close();
  }));

  it('is read-only: a message from the dashboard is answered with close 1008', () => withLab({}, async (server) => {
    const feed = await FeedClient.open(server.port);
    await feed.waitFor(() => feed.of('hello').length === 1, 'hello');
    feed.ws.send('subscribe me to more');
    await feed.waitFor(() => feed.closed !== undefined, 'the close');
    assert.deepEqual(feed.closed, { code: 1008, reason: 'the event feed is read-only' });
  }));

  it('a dashboard that stops reading loses events, not server memory: the gap is counted exactly, then a fresh snapshot', () => withLab({ limits: { outboundQueueBytes: 64 * 1024 } }, async (server) => {
    const feed = await FeedClient.open(server.port, undefined, { deflate: false });
    await feed.waitFor(() => feed.of('snapshot').length >= 1, 'the first snapshot');
    const feedTuple = feed.of('hello')[0]!.self.fiveTuple;
    // Stop reading: the kernel's buffers fill, then the server's socket buffer.
    feed.ws.socket.pause();
    const N = 20_000;
    const filler = 'x'.repeat(1_500);
    for (let i = 0; i < N; i++) server.events.report({ type: 'error', code: 'MARK', message: `${i} ${filler}` });
    const produced = N * (filler.length + 60);
    // What the server holds or has handed to the kernel for this dashboard stays far below what was produced.
    const held = server.table.get(feedTuple)!.bytesOut;
    // (Measured here: about 4 MB, nearly all of it the kernel's socket buffers, of 31 MB produced.)
    assert.ok(held < produced / 4, `server wrote or queued ${held} B of ${produced} B produced`);

    feed.ws.socket.resume();
    await feed.waitFor(() => feed.of('gap').length >= 1, 'the gap notice', 20_000);
    const gapAt = feed.messages.findIndex((m) => m.type === 'gap');
    await feed.waitFor(() => feed.messages.length > gapAt + 1, 'the snapshot after the gap');
    assert.equal(feed.messages[gapAt + 1]!.type, 'snapshot', 'a fresh snapshot follows the gap');
    server.events.report({ type: 'error', code: 'LAST', message: 'after the gap' });
    await feed.waitFor(() => feed.events.some((e) => e.type === 'error' && e.code === 'LAST'), 'live events again');

    const delivered = feed.events.filter((e) => e.type === 'error' && e.code === 'MARK');
    const dropped = feed.of('gap').reduce((sum, gap) => sum + gap.dropped, 0);
    assert.ok(dropped > 0, 'some events were dropped');
    assert.ok(delivered.length > 0, 'the first events were delivered');
    assert.equal(delivered.length + dropped, N, 'every event was either delivered or counted in a gap');
    const order = delivered.map((e) => Number(e.type === 'error' ? e.message.split(' ')[0] : -1));
    assert.deepEqual(order, [...order].sort((x, y) => x - y), 'delivered in the order they happened');
    feed.close();
  }));

  it('keeps snapshots bounded (own row always in), refreshes them, and unsubscribes when the last dashboard leaves', async () => {
    let server: SwitchyardServer | undefined;
    const feed = new EventFeed(() => server!, { maxSnapshotRows: 2, snapshotIntervalMs: 50 });
    await withLab({ webSocketEndpoints: { '/small-feed': { onConnection: (ws, ctx) => feed.join(ws, ctx) } } }, async (lab) => {
      server = lab;
      const listeners = lab.events.listenerCount('event');
      const client = await FeedClient.open(lab.port, '/small-feed');
      await client.waitFor(() => client.of('hello').length === 1, 'hello');
      assert.equal(lab.events.listenerCount('event'), listeners + 1, 'subscribed while a dashboard is open');
      const others = await Promise.all([1, 2, 3, 4].map(() => RawClient.open(lab.port)));
      await client.waitFor(() => client.of('snapshot').some((s) => s.total === 5), 'a snapshot with all five connections');
      const latest = client.of('snapshot').find((s) => s.total === 5)!;
      assert.equal(latest.connections.length, 2);
      assert.deepEqual(latest.connections.filter((row) => row.self).map((row) => row.fiveTuple), [client.of('hello')[0]!.self.fiveTuple]);
      assert.equal(latest.connections.find((row) => !row.self)!.fiveTuple, tupleOf(others[3]!.socket, lab), 'the newest other connection');
      client.close();
      await eventually(() => feed.size === 0 && lab.events.listenerCount('event') === listeners, 10_000, 'the unsubscription');
      for (const other of others) other.close();
    });
  });

  it('a feed connection and the page it serves show the lesson: same server port, different client ports', () => withLab({}, async (server) => {
    const page = await RawClient.open(server.port);
    page.write('GET / HTTP/1.1\r\nHost: lab\r\n\r\n');
    await page.waitFor((t) => parseResponses(t).length === 1, 10_000, 'the page');
    const feed = await FeedClient.open(server.port);
    await feed.waitFor(() => feed.of('snapshot').length >= 1, 'the snapshot');
    const rows = feed.of('snapshot')[0]!.connections;
    const pageRow = rows.find((row) => row.remote.port === page.socket.localPort)!;
    const feedRow = rows.find((row) => row.self)!;
    assert.equal(pageRow.local.port, server.port);
    assert.equal(feedRow.local.port, server.port);
    assert.notEqual(pageRow.remote.port, feedRow.remote.port);
    assert.deepEqual([pageRow.state, feedRow.state], ['http', 'upgraded']);
    page.close();
    feed.close();
  }));
});
