/**
 * The socket side of a WebSocket (session.ts) as a peer and an application see it: keepalive, backpressure,
 * the closing handshake's timeouts (RFC 6455 §7.1.1-§7.1.2), what happens to data after a Close, peers that
 * vanish or break the protocol, and the per-frame trace. Server sessions run in a real lab behind test-only
 * endpoints, driven by the conformance suite's raw peer (hand-built frames, its own parser), so what is
 * asserted is what goes over 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import type { LabEvent } from '../../../src/accept-loop/lab-events.js';
import { connect } from '../../../src/protocols/websocket/client.js';
import { echoEndpoint } from '../../../src/protocols/websocket/endpoints.js';
import type { WebSocketEndpoint } from '../../../src/protocols/websocket/plugin.js';
import { WebSocket } from '../../../src/protocols/websocket/session.js';
import { OP, Peer, buildFrame, pattern } from '../../conformance/peer.js';
import { eventually, withLab } from '../../helpers/lab.js';

interface Recorded {
  readonly ws: WebSocket;
  readonly messages: Array<string | Uint8Array>;
  readonly errors: Error[];
  close: { code: number; reason: string; wasClean: boolean } | undefined;
}

/** An endpoint that records each session; `setup` adds behaviour. */
function recorder(options: { pingIntervalMs?: number; setup?: (ws: WebSocket) => void } = {}): { endpoint: WebSocketEndpoint; sessions: Recorded[] } {
  const sessions: Recorded[] = [];
  const endpoint: WebSocketEndpoint = {
    ...(options.pingIntervalMs === undefined ? {} : { pingIntervalMs: options.pingIntervalMs }),
    onConnection(ws) {
      const record: Recorded = { ws, messages: [], errors: [], close: undefined };
      sessions.push(record);
      ws.on('message', (data) => record.messages.push(data));
      ws.on('error', (error) => record.errors.push(error));
      ws.on('close', (code, reason, wasClean) => { record.close = { code, reason, wasClean }; });
      options.setup?.(ws);
    },
  };
  return { endpoint, sessions };
}

const protocolEvents = (events: readonly LabEvent[], kind: string): Array<{ detail: string; direction: string | undefined }> =>
  events.flatMap((e) => (e.type === 'protocol' && e.kind === kind ? [{ detail: e.detail, direction: e.direction }] : []));

/** A bare TCP server that completes a WebSocket handshake by hand, then lets `after` script the rest. */
async function handwrittenServer(after: (socket: Socket) => void): Promise<{ port: number; close: () => void }> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    let request = '';
    const onData = (chunk: Buffer): void => {
      request += chunk.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(request)![1]!;
      const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      after(socket);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

describe('keepalive', () => {
  it('pings every pingIntervalMs; a peer that answers stays connected through many rounds', async () => {
    const { endpoint, sessions } = recorder({ pingIntervalMs: 20 });
    await withLab({ webSocketEndpoints: { '/keepalive': endpoint } }, async (server) => {
      const peer = await Peer.open(server.port, { path: '/keepalive' });
      // A peer that did not answer would be dropped at the second ping; this one sees a fifth.
      await peer.until(() => peer.events.filter((e) => e.kind === 'ping').length >= 5, 'five pings');
      assert.equal(sessions[0]!.close, undefined, 'still connected');
      assert.equal(sessions[0]!.ws.readyState, WebSocket.OPEN);
      peer.sendClose(1000);
      await peer.finish();
      await eventually(() => sessions[0]!.close !== undefined);
      assert.deepEqual(sessions[0]!.close, { code: 1000, reason: '', wasClean: true });
    });
  });

  it('a peer that does not answer pings is dropped: close 1006, wasClean false, no Close frame', async () => {
    const { endpoint, sessions } = recorder({ pingIntervalMs: 20 });
    await withLab({ webSocketEndpoints: { '/keepalive': endpoint } }, async (server, events) => {
      const peer = await Peer.open(server.port, { path: '/keepalive', answerPings: false });
      await eventually(() => sessions[0]?.close !== undefined, 3_000, 'the server to drop the silent peer');
      assert.deepEqual(sessions[0]!.close, { code: 1006, reason: '', wasClean: false });
      await peer.until(() => peer.tcpClosed, 'the TCP connection to close');
      assert.ok(peer.events.some((e) => e.kind === 'ping'), 'it was pinged first');
      assert.equal(peer.serverClose, undefined, 'dropped, not closed with a handshake');
      assert.ok(protocolEvents(events, 'keepalive').length > 0, 'the trace says why');
    });
  });

  it('/echo sends no pings: an echo peer sees exactly its own traffic', () => withLab({}, async (server, events) => {
    assert.equal(echoEndpoint().pingIntervalMs, undefined, 'keepalive is off by default on /echo');
    const peer = await Peer.open(server.port);
    for (let i = 0; i < 10; i++) {
      peer.sendFrame({ opcode: OP.TEXT, payload: `message ${i}` });
      await peer.until(() => peer.events.length === i + 1, `echo ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 20)); // idle time in which a keepalive would ping
    }
    assert.deepEqual(peer.events.map((e) => `${e.kind} ${e.data.toString()}`), Array.from({ length: 10 }, (_, i) => `message message ${i}`));
    assert.deepEqual(protocolEvents(events, 'frame').filter((e) => e.detail.startsWith('ping')), []);
    peer.sendClose(1000);
    await peer.finish();
  }));
});

describe('backpressure', () => {
  it('send returns false once the socket is full, and drain fires only after the peer reads', async () => {
    const MESSAGE = 16 * 1024 * 1024;
    const results: boolean[] = [];
    let drains = 0;
    const { endpoint, sessions } = recorder({
      setup(ws) {
        const payload = pattern(MESSAGE);
        // 48 MiB: more than the kernel's socket buffers on both ends can hold, so it must wait for the reader.
        for (let i = 0; i < 3; i++) results.push(ws.send(payload));
        ws.on('drain', () => { drains++; });
      },
    });
    await withLab({ webSocketEndpoints: { '/flood': endpoint } }, async (server) => {
      // Uncompressed: the repeating pattern would deflate to almost nothing and never fill a socket.
      const client = await connect(`ws://127.0.0.1:${server.port}/flood`, { deflate: false });
      client.socket.pause();
      let received = 0;
      client.on('message', (data) => { received += (data as Uint8Array).length; });
      await eventually(() => results.length === 3, 3_000, 'the server to send');
      assert.deepEqual(results, [false, false, false], 'each send past the high-water mark reports it');
      assert.ok(sessions[0]!.ws.bufferedAmount > 0, 'the bytes wait in our buffer');
      assert.equal(drains, 0, 'no drain while the peer is not reading');
      client.socket.resume();
      await eventually(() => received === 3 * MESSAGE, 10_000, 'all three messages');
      await eventually(() => drains > 0, 3_000, 'drain');
      assert.equal(sessions[0]!.ws.bufferedAmount, 0);
      client.close();
    });
  });

  it('/echo stops reading from a peer that does not read its echoes; what the server holds stays bounded', async () => {
    const COUNT = 512;
    const SIZE = 64 * 1024; // 32 MiB in all
    let peak = 0;
    const echo = echoEndpoint();
    const observed: { ws?: WebSocket } = {};
    const endpoint: WebSocketEndpoint = {
      onConnection(ws, ctx) {
        observed.ws = ws;
        echo.onConnection(ws, ctx);
        // Runs after the echo's own listener: the high point right after each echo is queued.
        ws.on('message', () => { peak = Math.max(peak, ws.bufferedAmount); });
      },
    };
    await withLab({ webSocketEndpoints: { '/echo-observed': endpoint } }, async (server) => {
      const peer = await Peer.open(server.port, { path: '/echo-observed' });
      peer.socket.pause();
      const frame = buildFrame({ opcode: OP.BINARY, payload: pattern(SIZE) });
      for (let i = 0; i < COUNT; i++) peer.send(frame);
      const total = frame.length * COUNT;
      // The stall: the server has paused reading with echoes queued, because nobody reads them.
      await eventually(() => observed.ws !== undefined && observed.ws.socket.isPaused() && observed.ws.bufferedAmount > 0 && peer.socket.writableLength > 0, 5_000, 'the server to stall');
      const readAtStall = (observed.ws!.socket as Socket).bytesRead;
      assert.ok(readAtStall < total, `the server stopped reading (${readAtStall} of ${total} bytes read)`);
      assert.ok(peer.socket.writableLength > 0, "the peer's own writes back up: TCP flow control reached it");
      assert.ok(peak <= 1024 * 1024, `server-side queue stayed under 1 MiB (peak ${peak} B)`);
      peer.socket.resume();
      await peer.until(() => peer.events.length === COUNT, 'every echo', 20_000);
      assert.ok(peer.events.every((e) => e.kind === 'message' && e.data.length === SIZE));
      assert.ok(peak <= 1024 * 1024, `server-side queue stayed under 1 MiB throughout (peak ${peak} B)`);
      peer.sendClose(1000);
      await peer.finish();
    });
  });
});

describe('closing (RFC 6455 §7)', () => {
  it('a peer that never answers our Close is dropped after webSocketCloseTimeoutMs: 1006, wasClean false', async () => {
    const { endpoint, sessions } = recorder({ setup: (ws) => ws.close(4000, 'bye') });
    await withLab({ limits: { webSocketCloseTimeoutMs: 50 }, webSocketEndpoints: { '/bye': endpoint } }, async (server) => {
      const peer = await Peer.open(server.port, { path: '/bye', answerClose: false });
      await peer.until(() => peer.tcpClosed, 'the server to give up on the closing handshake');
      assert.deepEqual(peer.serverClose, { code: 4000, reason: 'bye' });
      assert.equal(peer.closeSent, false);
      await eventually(() => sessions[0]!.close !== undefined);
      assert.deepEqual(sessions[0]!.close, { code: 1006, reason: '', wasClean: false });
      assert.equal(sessions[0]!.ws.readyState, WebSocket.CLOSED);
    });
  });

  it('our client drops a server that never answers its Close after closeTimeoutMs', async () => {
    const silent = await handwrittenServer((socket) => socket.resume());
    try {
      const client = await connect(`ws://127.0.0.1:${silent.port}/`, { closeTimeoutMs: 50 });
      const closed = once(client, 'close');
      client.close(1000);
      assert.equal(client.readyState, WebSocket.CLOSING);
      assert.deepEqual(await closed, [1006, '', false]);
      assert.equal(client.readyState, WebSocket.CLOSED);
    } finally {
      silent.close();
    }
  });

  it('messages the peer sent before reading our Close are still delivered (echo of the last line)', () => withLab({}, async (server) => {
    const client = await connect(`ws://127.0.0.1:${server.port}/echo`);
    const messages: Array<string | Uint8Array> = [];
    client.on('message', (data) => messages.push(data));
    const closed = once(client, 'close');
    client.send('last words');
    client.close(1000);
    assert.deepEqual(await closed, [1000, '', true]);
    assert.deepEqual(messages, ['last words']);
  }));

  it('data after a received Close is not delivered and not answered; the server still closes TCP', async () => {
    const { endpoint, sessions } = recorder();
    await withLab({ webSocketEndpoints: { '/record': endpoint } }, async (server) => {
      const peer = await Peer.open(server.port, { path: '/record' });
      peer.sendFrame({ opcode: OP.TEXT, payload: 'before' });
      peer.sendClose(1000, 'done');
      peer.sendFrame({ opcode: OP.TEXT, payload: 'after' });
      peer.sendFrame({ opcode: OP.PING, payload: 'after' });
      await peer.finish();
      assert.deepEqual(peer.serverClose, { code: 1000, reason: 'done' });
      assert.deepEqual(peer.events, [], 'no pong for the ping after the Close');
      assert.equal(peer.serverEnded, true, 'the server closed TCP (§7.1.1)');
      assert.equal(peer.droppedByMe, false);
      await eventually(() => sessions[0]!.close !== undefined);
      assert.deepEqual(sessions[0]!.messages, ['before']);
      assert.deepEqual(sessions[0]!.close, { code: 1000, reason: 'done', wasClean: true });
    });
  });

  it('the server closes first: both sides report the code, the reason and a clean close', async () => {
    const { endpoint, sessions } = recorder({
      setup: (ws) => ws.on('message', () => {
        ws.close(4001, 'your turn is over');
        assert.equal(ws.readyState, WebSocket.CLOSING);
        assert.equal(ws.send('too late'), false, 'nothing is sent after our Close');
      }),
    });
    await withLab({ webSocketEndpoints: { '/close-first': endpoint } }, async (server) => {
      const client = await connect(`ws://127.0.0.1:${server.port}/close-first`);
      const closed = once(client, 'close');
      const messages: unknown[] = [];
      client.on('message', (data) => messages.push(data));
      client.send('close please');
      assert.deepEqual(await closed, [4001, 'your turn is over', true]);
      assert.deepEqual(messages, []);
      await eventually(() => sessions[0]!.close !== undefined);
      assert.deepEqual(sessions[0]!.close, { code: 4001, reason: 'your turn is over', wasClean: true });
      assert.equal(sessions[0]!.ws.readyState, WebSocket.CLOSED);
    });
  });

  it('a peer that answers our Close with a broken frame: the violation is what close reports (1002, not clean)', async () => {
    const { endpoint, sessions } = recorder({ setup: (ws) => ws.close(1000) });
    await withLab({ webSocketEndpoints: { '/bye': endpoint } }, async (server) => {
      const peer = await Peer.open(server.port, { path: '/bye', answerClose: false });
      await peer.until(() => peer.serverClose !== undefined, "the server's Close");
      peer.sendFrame({ opcode: 3 }); // a reserved opcode instead of the Close reply
      await peer.finish();
      assert.equal(peer.droppedByMe, false, 'the server closes TCP at once');
      await eventually(() => sessions[0]!.close !== undefined);
      assert.equal(sessions[0]!.close!.code, 1002);
      assert.equal(sessions[0]!.close!.wasClean, false);
      assert.equal((sessions[0]!.errors[0] as { code?: string }).code, 'ERR_RESERVED_OPCODE');
    });
  });

  it('close() validates the code before changing anything, and a second close() is a no-op', async () => {
    const { endpoint, sessions } = recorder();
    await withLab({ webSocketEndpoints: { '/record': endpoint } }, async (server) => {
      const client = await connect(`ws://127.0.0.1:${server.port}/record`);
      assert.throws(() => client.close(1005), { code: 'ERR_INVALID_CLOSE_CODE' });
      assert.throws(() => client.close(1000, 'x'.repeat(124)), { code: 'ERR_CLOSE_REASON_TOO_LONG' });
      assert.equal(client.readyState, WebSocket.OPEN);
      const closed = once(client, 'close');
      client.close(1000, 'first');
      client.close(4000, 'second');
      assert.deepEqual(await closed, [1000, 'first', true]);
      await eventually(() => sessions[0]!.close !== undefined);
      assert.deepEqual(sessions[0]!.close, { code: 1000, reason: 'first', wasClean: true });
    });
  });
});

describe('peers that vanish or misbehave', () => {
  it('a peer that vanishes in the middle of a frame: 1006, wasClean false, and no error event', async () => {
    const { endpoint, sessions } = recorder();
    await withLab({ webSocketEndpoints: { '/record': endpoint } }, async (server) => {
      const peer = await Peer.open(server.port, { path: '/record' });
      peer.send(buildFrame({ opcode: OP.BINARY, payload: pattern(1000) }).subarray(0, 500));
      await eventually(() => sessions.length === 1);
      peer.socket.end(); // FIN without a Close frame
      await eventually(() => sessions[0]!.close !== undefined);
      assert.deepEqual(sessions[0]!.close, { code: 1006, reason: '', wasClean: false });
      assert.deepEqual(sessions[0]!.errors, []);
      await eventually(() => server.table.size === 0, 3_000, 'the row to leave the table');
    });
  });

  it('a peer that resets the connection: 1006, wasClean false', async () => {
    const { endpoint, sessions } = recorder();
    await withLab({ webSocketEndpoints: { '/record': endpoint } }, async (server) => {
      const peer = await Peer.open(server.port, { path: '/record' });
      peer.sendFrame({ opcode: OP.TEXT, payload: 'hi' });
      await eventually(() => sessions[0]?.messages.length === 1);
      peer.socket.resetAndDestroy();
      await eventually(() => sessions[0]!.close !== undefined);
      assert.deepEqual(sessions[0]!.close, { code: 1006, reason: '', wasClean: false });
    });
  });

  it('a protocol violation: an error event with its code, a Close 1002 with a reason, close 1002 wasClean false', async () => {
    const { endpoint, sessions } = recorder();
    await withLab({ webSocketEndpoints: { '/record': endpoint } }, async (server) => {
      const peer = await Peer.open(server.port, { path: '/record' });
      peer.sendFrame({ opcode: OP.TEXT, payload: 'x', rsv: 4 });
      await peer.finish();
      assert.equal(peer.serverClose?.code, 1002);
      assert.match(peer.serverClose!.reason, /reserved bit/, 'the Close says why, for whoever reads the trace');
      assert.ok(Buffer.byteLength(peer.serverClose!.reason) <= 123);
      await eventually(() => sessions[0]!.close !== undefined);
      assert.equal((sessions[0]!.errors[0] as { code?: string }).code, 'ERR_RESERVED_BITS');
      assert.equal(sessions[0]!.close!.code, 1002);
      assert.equal(sessions[0]!.close!.wasClean, false);
    });
  });

  it('with no error listener, a server that breaks the protocol cannot crash our client', async () => {
    // §5.1: "A client MUST close a connection if it detects a masked frame" — this server masks one.
    const rogue = await handwrittenServer((socket) => {
      socket.write(Buffer.from('818537fa213d7f9f4d5158', 'hex'));
      socket.on('data', () => {}).on('end', () => socket.end());
    });
    try {
      const client = await connect(`ws://127.0.0.1:${rogue.port}/`);
      // (events.once would add an error listener, so the close is awaited by hand.)
      const closed = new Promise<[number, boolean]>((resolve) => client.on('close', (code, _reason, wasClean) => resolve([code, wasClean])));
      assert.equal(client.listenerCount('error'), 0);
      const [code, wasClean] = await closed;
      assert.equal(code, 1002);
      assert.equal(wasClean, false);
    } finally {
      rogue.close();
    }
  });
});

describe('API', () => {
  it('ping() reaches the peer, whose pong comes back as a pong event; send() after close returns false', async () => {
    const { endpoint, sessions } = recorder();
    await withLab({ webSocketEndpoints: { '/record': endpoint } }, async (server) => {
      const client = await connect(`ws://127.0.0.1:${server.port}/record`);
      await eventually(() => sessions.length === 1);
      const serverSawPing = once(sessions[0]!.ws, 'ping');
      const pong = once(client, 'pong');
      client.ping(Buffer.from('are you there'));
      assert.equal(Buffer.from((await serverSawPing)[0] as Uint8Array).toString(), 'are you there');
      assert.equal(Buffer.from((await pong)[0] as Uint8Array).toString(), 'are you there');
      const closed = once(client, 'close');
      client.close();
      assert.equal(client.send('late'), false);
      await closed;
      assert.equal(client.send('later'), false);
    });
  });
});

describe('terminate()', () => {
  it('drops TCP at once, delivers nothing more from what was already read, and reports 1006', async () => {
    const { endpoint, sessions } = recorder({ setup: (ws) => ws.on('message', () => ws.terminate()) });
    await withLab({ webSocketEndpoints: { '/record': endpoint } }, async (server) => {
      const peer = await Peer.open(server.port, { path: '/record' });
      // Three messages in one write: the first one's handler terminates the connection.
      peer.send(Buffer.concat(['one', 'two', 'three'].map((payload) => buildFrame({ opcode: OP.TEXT, payload }))));
      await peer.until(() => peer.tcpClosed, 'the connection to be dropped');
      assert.equal(peer.serverClose, undefined, 'no closing handshake');
      await eventually(() => sessions[0]!.close !== undefined);
      assert.deepEqual(sessions[0]!.messages, ['one']);
      assert.deepEqual(sessions[0]!.close, { code: 1006, reason: '', wasClean: false });
    });
  });
});

describe('per-frame trace', () => {
  it('shows every frame in both directions (opcode, FIN, length), besides the messages', () => withLab({}, async (server, events) => {
    const peer = await Peer.open(server.port);
    peer.sendFrame({ opcode: OP.TEXT, payload: 'Hel', fin: false });
    peer.sendFrame({ opcode: OP.PING, payload: 'p' });
    peer.sendFrame({ opcode: OP.CONT, payload: 'lo' });
    await peer.until(() => peer.events.length === 2, 'the pong and the echo');
    peer.sendClose(1000);
    await peer.finish();
    await eventually(() => protocolEvents(events, 'frame').length === 7);
    const frames = protocolEvents(events, 'frame').map((e) => `${e.direction} ${e.detail}`);
    assert.deepEqual(frames, [
      'in text fin=0 len=3',
      'in ping fin=1 len=1',
      'out pong fin=1 len=1',
      'in continuation fin=1 len=2',
      'out text fin=1 len=5',
      'in close fin=1 len=2',
      'out close fin=1 len=2',
    ]);
    assert.deepEqual(protocolEvents(events, 'message').map((e) => `${e.direction} ${e.detail}`), ['in text 5 B', 'out text 5 B']);
    assert.deepEqual(protocolEvents(events, 'close').map((e) => `${e.direction} ${e.detail}`), ['in code=1000', 'out code=1000']);
  }));
});
