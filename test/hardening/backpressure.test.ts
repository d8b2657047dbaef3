/**
 * A client that never reads must not make the server buffer without bound: the server stops reading from
 * it (its bytesIn settles while the client still has far more to send) and holds at most a socket's
 * high-water mark plus one read per direction. When the client reads again, every byte comes back, in
 * order. The echo handlers under test are the lab's own (`echoProtocol`, `echoEndpoint()`); the "spy"
 * wrappers only keep a reference to the server-side socket so the test can see what it holds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { RawClient } from '../helpers/raw-client.js';
import { eventually, withLab } from '../helpers/lab.js';
import { echoProtocol } from '../../src/protocols/echo/echo.js';
import { echoEndpoint } from '../../src/protocols/websocket/endpoints.js';
import { connect } from '../../src/protocols/websocket/client.js';

/** These tests need bytes that fill sockets: compressible payloads deflated would not (RFC 7692 is tested elsewhere). */
const NO_DEFLATE = { deflate: false } as const;
import type { ProtocolHandler } from '../../src/registry/plugin.js';
import type { SwitchyardServer } from '../../src/server/server.js';
import type { WebSocketEndpoint } from '../../src/protocols/websocket/plugin.js';
import { heldBytes, kernelBufferBytes, KiB, MiB, pushUntilStalled, settled } from './pressure.js';

/** What the server may hold for one connection: 16 KiB high-water marks plus one 64 KiB read, with room. */
const HELD_BOUND = 1 * MiB;
/**
 * What the kernel may absorb in one direction. The server's bytesIn may exceed what it holds by this much:
 * echoed bytes it wrote that sit in its send buffer and the client's receive buffer (see kernelBufferBytes).
 */
const KERNEL = kernelBufferBytes();
/** bytesIn must settle below this. */
const READ_BOUND = KERNEL + 4 * MiB;
/** What a client tries to send: more than both directions' kernel buffers together can absorb. */
const BUDGET = 2 * KERNEL + 32 * MiB;

function spyEcho(seen: Duplex[]): ProtocolHandler {
  return {
    token: 'echo-spy',
    takeover(ctx) {
      seen.push(ctx.socket);
      return echoProtocol.takeover(ctx);
    },
  };
}

function spyWebSocketEcho(seen: Duplex[]): WebSocketEndpoint {
  const echo = echoEndpoint();
  return {
    onConnection(ws, ctx) {
      seen.push(ctx.socket);
      echo.onConnection(ws, ctx);
    },
  };
}

function onlyRecord(server: SwitchyardServer) {
  const records = [...server.table.records()];
  assert.equal(records.length, 1, 'one connection in the table');
  return records[0]!;
}

/** Chunk `i` is filled with byte `i % 251`, so a lost, doubled or reordered chunk shows. */
function numberedChunk(i: number, size: number): Buffer {
  return Buffer.alloc(size, i % 251);
}

describe('backpressure: a client that never reads', () => {
  it('raw echo: the server stops reading, holds a bounded amount, and loses nothing once the client reads', { timeout: 120_000 }, () => {
    const seen: Duplex[] = [];
    return withLab({ plugins: [spyEcho(seen)] }, async (server) => {
      const client = await RawClient.open(server.port);
      client.write('GET / HTTP/1.1\r\nHost: lab\r\nConnection: upgrade\r\nUpgrade: echo-spy\r\n\r\n');
      const head = await client.waitFor((t) => t.includes('\r\n\r\n'), 10_000, 'the 101');
      assert.match(head, /^HTTP\/1\.1 101 /);
      client.socket.pause();
      const size = 64 * KiB;
      let i = 0;
      const push = await pushUntilStalled(() => client.socket.write(numberedChunk(i++, size)), size, client.socket, BUDGET);
      const record = onlyRecord(server);
      const bytesIn = await settled(() => record.bytesIn, 'bytesIn');

      assert.equal(push.stalled, true, `the client could send all ${BUDGET} bytes: the server never stopped reading`);
      assert.ok(bytesIn < READ_BOUND, `server read ${bytesIn} bytes from a client that reads nothing`);
      assert.ok(bytesIn < push.written, 'the server stopped reading before the client stopped sending');
      assert.ok(heldBytes(seen[0]!) <= HELD_BOUND, `server holds ${heldBytes(seen[0]!)} bytes for the connection`);

      // Now read: everything comes back, in order, nothing lost or doubled.
      const headLength = Buffer.byteLength(head);
      client.socket.resume();
      client.socket.end();
      await eventually(() => client.closed, 60_000, 'the echo to finish');
      const echoed = client.received.subarray(headLength);
      assert.equal(echoed.length, push.written);
      for (let chunk = 0; chunk * size < echoed.length; chunk++) {
        const piece = echoed.subarray(chunk * size, (chunk + 1) * size);
        assert.ok(piece.every((byte) => byte === chunk % 251), `chunk ${chunk} came back intact and in order`);
      }
    });
  });

  it('WebSocket /echo: the server stops reading, holds a bounded amount, and loses nothing once the client reads', { timeout: 120_000 }, () => {
    const seen: Duplex[] = [];
    return withLab({ webSocketEndpoints: { '/echo-spy': spyWebSocketEcho(seen) } }, async (server) => {
      const ws = await connect(`ws://127.0.0.1:${server.port}/echo-spy`, NO_DEFLATE);
      ws.socket.pause();
      const size = 64 * KiB;
      let sent = 0;
      const push = await pushUntilStalled(() => ws.send(numberedChunk(sent++, size)), size, ws, BUDGET);
      const record = onlyRecord(server);
      const bytesIn = await settled(() => record.bytesIn, 'bytesIn');

      assert.equal(push.stalled, true, `the client could send all ${BUDGET} bytes: the server never stopped reading`);
      assert.ok(bytesIn < READ_BOUND, `server read ${bytesIn} bytes from a client that reads nothing`);
      assert.ok(heldBytes(seen[0]!) <= HELD_BOUND, `server holds ${heldBytes(seen[0]!)} bytes for the connection`);

      let received = 0;
      let intact = true;
      ws.on('message', (data, isBinary) => {
        const bytes = data as Uint8Array;
        if (!isBinary || bytes.length !== size || !bytes.every((b) => b === received % 251)) intact = false;
        received++;
      });
      ws.socket.resume();
      await eventually(() => received === sent || !intact, 60_000, `${sent} echoes (got ${received})`);
      assert.equal(intact, true, 'every echo is the message sent, in order');
      ws.close();
    });
  });

  it('WebSocket /echo with many messages per read: still bounded, and no listener pile-up', { timeout: 120_000 }, () => {
    const seen: Duplex[] = [];
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => { warnings.push(`${warning.name}: ${warning.message}`); };
    process.on('warning', onWarning);
    return withLab({ webSocketEndpoints: { '/echo-spy': spyWebSocketEcho(seen) } }, async (server) => {
      const ws = await connect(`ws://127.0.0.1:${server.port}/echo-spy`, NO_DEFLATE);
      ws.socket.pause();
      const size = 1 * KiB;
      const message = Buffer.alloc(size, 0x2a);
      const push = await pushUntilStalled(() => ws.send(message), size, ws, BUDGET);
      const record = onlyRecord(server);
      const bytesIn = await settled(() => record.bytesIn, 'bytesIn');
      assert.equal(push.stalled, true);
      assert.ok(bytesIn < READ_BOUND, `server read ${bytesIn} bytes`);
      assert.ok(heldBytes(seen[0]!) <= HELD_BOUND, `server holds ${heldBytes(seen[0]!)} bytes`);
      let received = 0;
      ws.on('message', () => { received++; });
      ws.socket.resume();
      const sent = push.written / size;
      await eventually(() => received === sent, 60_000, `${sent} echoes (got ${received})`);
      ws.close();
    }).finally(() => {
      process.off('warning', onWarning);
      assert.deepEqual(warnings.filter((w) => w.includes('MaxListeners')), []);
    });
  });

  it('pipelined HTTP whose responses back up: the server stops reading, then answers every one (regression: it buffered every request)', { timeout: 120_000 }, () =>
    withLab({}, async (server) => {
      const socket: Socket = netConnect({ port: server.port, host: '127.0.0.1' });
      await once(socket, 'connect');
      socket.on('error', () => {});
      // Nothing reads from `socket` until the end: no 'data' listener, so it stays paused.
      const request = 'GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n';
      const perChunk = Math.floor((64 * KiB) / request.length);
      const chunk = Buffer.from(request.repeat(perChunk));
      const push = await pushUntilStalled(() => socket.write(chunk), chunk.length, socket, BUDGET);
      const record = onlyRecord(server);
      const bytesIn = await settled(() => record.bytesIn, 'bytesIn');

      assert.equal(push.stalled, true, `the client could send all ${BUDGET} bytes: the server never stopped reading`);
      assert.ok(bytesIn < READ_BOUND, `server read ${bytesIn} bytes of requests whose responses nobody reads`);

      // Now read: one 200 per request sent, nothing dropped.
      const sent = (push.written / chunk.length) * perChunk;
      let statuses = 0;
      let tail = '';
      const marker = 'HTTP/1.1 200 OK\r\n';
      socket.on('data', (data: Buffer) => {
        const text = tail + data.toString('latin1');
        for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1)) statuses++;
        tail = text.slice(-(marker.length - 1));
      });
      socket.end();
      await once(socket, 'close');
      assert.equal(statuses, sent, 'every pipelined request was answered');
    }));
});
