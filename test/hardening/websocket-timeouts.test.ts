/**
 * WebSocket waits with deadlines: keepalive pings find a peer that has gone silent, and a Close we sent
 * that is never answered costs at most `webSocketCloseTimeoutMs` before TCP is dropped (RFC 6455 §7.1.1
 * lets the server close the TCP connection; it need not wait forever for the client's Close).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { once } from 'node:events';
import { RawClient } from '../helpers/raw-client.js';
import { eventually, withLab } from '../helpers/lab.js';
import { echoEndpoint } from '../../src/protocols/websocket/endpoints.js';
import { connect } from '../../src/protocols/websocket/client.js';

const handshake = (path: string): string => [
  `GET ${path} HTTP/1.1`, 'Host: lab', 'Upgrade: websocket', 'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', '', '',
].join('\r\n');

/** An unmasked text frame "hi": a protocol error when sent by a client (§5.1 → 1002). */
const UNMASKED_FRAME = Buffer.from([0x81, 0x02, 0x68, 0x69]);

/** The status code of the first frame after the 101's head if it is a complete Close frame (§5.5.1), else undefined. */
function closeCodeAfterHead(received: Buffer): number | undefined {
  const at = received.indexOf('\r\n\r\n');
  if (at < 0) return undefined;
  const frame = received.subarray(at + 4);
  if (frame.length < 4 || frame[0] !== 0x88 || frame.length < 2 + (frame[1]! & 0x7f)) return undefined;
  return (frame[2]! << 8) | frame[3]!;
}

describe('WebSocket timeouts', () => {
  it('keepalive: a peer that never answers pings is dropped; one that answers stays', { timeout: 60_000 }, () =>
    withLab({ webSocketEndpoints: { '/ka': { pingIntervalMs: 300, onConnection: echoEndpoint().onConnection } } }, async (server) => {
      const alive = await connect(`ws://127.0.0.1:${server.port}/ka`);
      let pings = 0;
      alive.on('ping', () => { pings++; });

      const silent = await RawClient.open(server.port);
      silent.write(handshake('/ka'));
      await silent.waitFor((t) => t.includes('\r\n\r\n'), 10_000, 'the 101');
      // It reads (RawClient collects everything) but never writes a Pong.
      await silent.waitFor(() => silent.ended || silent.closed, 30_000, 'the server to drop the silent peer');
      const afterHead = silent.received.subarray(silent.text.indexOf('\r\n\r\n') + 4);
      assert.equal(afterHead[0], 0x89, 'it was pinged first');

      await eventually(() => pings >= 3, 30_000, 'three pings to the answering client');
      assert.equal(alive.readyState, 1, 'the client that answers pings is still open');
      alive.close();
    }));

  it('a Close we sent that is never answered: TCP is dropped after webSocketCloseTimeoutMs', { timeout: 60_000 }, () =>
    withLab({ limits: { webSocketCloseTimeoutMs: 300 } }, async (server, events) => {
      const socket = netConnect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
      await once(socket, 'connect');
      socket.on('error', () => {});
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]); });
      // The handshake and a frame that breaks the protocol, in one write; then silence: no Close, no FIN.
      socket.write(Buffer.concat([Buffer.from(handshake('/echo')), UNMASKED_FRAME]));
      await eventually(() => closeCodeAfterHead(received) !== undefined, 10_000, 'the Close');
      assert.equal(closeCodeAfterHead(received), 1002);
      await eventually(() => server.table.size === 0, 30_000, 'the server to drop the connection');
      assert.equal(socket.writableEnded, false, 'the client never closed its side');
      assert.ok(events.some((e) => e.type === 'close'), 'the drop is logged');
      socket.destroy();
    }));

  it('shutdown: a client that never answers our 1001 is dropped by the close timeout, not the shutdown deadline', { timeout: 60_000 }, () =>
    withLab({ limits: { webSocketCloseTimeoutMs: 300, shutdownTimeoutMs: 30_000 } }, async (server, events) => {
      const socket = netConnect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
      await once(socket, 'connect');
      socket.on('error', () => {});
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]); });
      socket.write(handshake('/echo'));
      await eventually(() => received.includes('\r\n\r\n'), 10_000, 'the 101');

      await server.close();
      assert.equal(closeCodeAfterHead(received), 1001, 'the Close 1001 was sent');
      const phases = events.flatMap((e) => (e.type === 'shutdown' ? [e.phase] : []));
      assert.deepEqual(phases, ['stop accepting', 'closed'], 'the WebSocket timeout ended it before the shutdown deadline');
      socket.destroy();
    }));
});
