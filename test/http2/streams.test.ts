/**
 * HTTP/2 streams as a peer sees them: RFC 8441 WebSockets and lab-chat on streams, statuses for CONNECTs
 * the server will not serve, many streams on one session, graceful shutdown, and a handler that fails
 * costing only its own stream. WebSocket frames over a stream are written by hand (RFC 6455 §5.2; the
 * client masks, §5.3), since node 20 has no WebSocket client to put on an h2 stream.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { body, session, status, WAIT_MS, within } from '../helpers/h2-client.js';
import { withLab } from '../helpers/lab.js';
import { createSelfSignedCertificate } from '../../src/accept-loop/tls/self-signed-certificate.js';
import type { ProtocolHandler } from '../../src/registry/plugin.js';

async function until(predicate: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  await within((async () => { while (!predicate()) await new Promise((r) => setTimeout(r, 5)); })(), ms, what);
}

function extendedConnect(client: ClientHttp2Session, protocol: string, path: string, extra: Record<string, string> = {}): ClientHttp2Stream {
  const stream = client.request({ ':method': 'CONNECT', ':protocol': protocol, ':path': path, ':scheme': 'http', ':authority': 'lab', ...extra }, { endStream: false });
  stream.on('error', () => {});
  return stream;
}

// RFC 6455 frames, client side.

interface Frame { opcode: number; payload: Buffer }

function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length])
    : length < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
      : (() => { const h = Buffer.alloc(10); h[0] = 0x80 | opcode; h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(length), 2); return h; })();
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}

const textFrame = (text: string): Buffer => clientFrame(0x1, Buffer.from(text));
function closeFrame(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return clientFrame(0x8, payload);
}

/** Collects the server's (unmasked) frames from any duplex: an h2 stream or a TCP socket after its 101. */
class FrameReader {
  readonly frames: Frame[] = [];
  #buffer = Buffer.alloc(0);
  feed(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) { if (b.length < 4) return; length = b.readUInt16BE(2); offset = 4; }
      else if (length === 127) { if (b.length < 10) return; length = Number(b.readBigUInt64BE(2)); offset = 10; }
      assert.equal(b[1]! & 0x80, 0, 'a server frame must not be masked (RFC 6455 §5.1)');
      if (b.length < offset + length) return;
      this.frames.push({ opcode: b[0]! & 0x0f, payload: b.subarray(offset, offset + length) });
      this.#buffer = b.subarray(offset + length);
    }
  }
  texts(): string[] { return this.frames.filter((f) => f.opcode === 0x1).map((f) => f.payload.toString('utf8')); }
  close(): Frame | undefined { return this.frames.find((f) => f.opcode === 0x8); }
}

async function webSocketStream(client: ClientHttp2Session, path: string): Promise<{ stream: ClientHttp2Stream; reader: FrameReader }> {
  // RFC 8441 §5: no Sec-WebSocket-Key / Accept on a stream, but Sec-WebSocket-Version is still required.
  const stream = extendedConnect(client, 'websocket', path, { 'sec-websocket-version': '13' });
  assert.equal(await status(stream), 200);
  const reader = new FrameReader();
  stream.on('data', (chunk: Buffer) => reader.feed(chunk));
  return { stream, reader };
}

async function webSocketOverTcp(port: number, path: string): Promise<{ socket: Socket; reader: FrameReader }> {
  const socket = netConnect(port, '127.0.0.1');
  socket.on('error', () => {});
  await within(new Promise<void>((resolve) => socket.once('connect', () => resolve())), WAIT_MS, 'TCP connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
  const reader = new FrameReader();
  let head = Buffer.alloc(0);
  await within(new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      assert.match(head.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 101 /);
      socket.on('data', (more: Buffer) => reader.feed(more));
      reader.feed(head.subarray(end + 4));
      resolve();
    };
    socket.on('data', onData);
  }), WAIT_MS, '101 Switching Protocols');
  return { socket, reader };
}

interface Row { http?: string; streams?: Array<{ id: number; protocol: string | null; state: string; method: string; path: string; bytesIn: number; bytesOut: number }> }

describe('HTTP/2 streams', () => {
  it('a lab-chat/1 stream over h2 and a /chat WebSocket over HTTP/1.1 share the room both ways', () => withLab({}, async (server) => {
    const client = await session(server.port);
    const ws = await webSocketOverTcp(server.port, '/chat');
    try {
      const chat = extendedConnect(client, 'lab-chat/1', '/');
      assert.equal(await status(chat), 200);
      let lines = '';
      chat.setEncoding('utf8');
      chat.on('data', (chunk: string) => { lines += chunk; });
      await until(() => /^hello \S+ \d+\n/.test(lines), 'lab-chat hello line');
      chat.write('from h2 stream\n');
      await until(() => ws.reader.texts().some((t) => t.includes('from h2 stream')), 'h2 message at the WebSocket member');
      ws.socket.write(textFrame('from websocket'));
      await until(() => /^msg \S+ from websocket$/m.test(lines), 'WebSocket message at the lab-chat stream');
      chat.close();
    } finally {
      ws.socket.destroy();
      client.destroy();
    }
  }));

  it('WebSocket over an h2 stream: echo, Close 1000 answered with 1000 and END_STREAM; the session goes on', () => withLab({}, async (server) => {
    const client = await session(server.port);
    try {
      const { stream, reader } = await webSocketStream(client, '/echo');
      stream.write(textFrame('héllo over a stream'));
      await until(() => reader.texts().includes('héllo over a stream'), 'text echo');
      const ended = new Promise<void>((resolve) => stream.once('end', () => resolve()));
      stream.write(closeFrame(1000));
      await until(() => reader.close() !== undefined, 'Close from the server');
      assert.equal(reader.close()!.payload.readUInt16BE(0), 1000);
      await within(ended, WAIT_MS, 'END_STREAM after Close');
      const next = client.request({ ':path': '/healthz' });
      assert.equal(await status(next), 200);
      assert.equal(await body(next), 'ok\n');
      assert.equal(client.destroyed, false);
    } finally {
      client.destroy();
    }
  }));

  it('CONNECT statuses: classic tunnel, unknown :protocol, no endpoint, a rejecting and a declining handler', () => {
    const rejecting: ProtocolHandler = { token: 'refuses', handshake: () => ({ action: 'reject', status: 403, body: 'no\n' }), takeover: async () => {} };
    const declining: ProtocolHandler = { token: 'declines', handshake: () => ({ action: 'decline' }), takeover: async () => {} };
    return withLab({ protocols: [rejecting, declining] }, async (server) => {
      const client = await session(server.port);
      try {
        // RFC 9113 §8.5: a classic CONNECT carries only :method and :authority (no :scheme, no :path).
        const tunnel = client.request({ ':method': 'CONNECT', ':authority': 'example.com:443' }, { endStream: false });
        tunnel.on('error', () => {});
        // Not a proxy: 501 (RFC 9110 §9.3.6, §15.6.2) at once, with END_STREAM; the regression was a stream
        // left hanging while the server waited for the end of "content" that is the tunnel itself.
        assert.equal(await status(tunnel), 501);
        assert.match(await body(tunnel), /not a proxy/);
        const unknown = extendedConnect(client, 'no-such-protocol', '/');
        assert.equal(await status(unknown), 501);
        unknown.close();
        const nowhere = extendedConnect(client, 'websocket', '/no-such-endpoint', { 'sec-websocket-version': '13' });
        assert.equal(await status(nowhere), 404);
        nowhere.close();
        const refused = extendedConnect(client, 'refuses', '/');
        assert.equal(await status(refused), 403);
        refused.close();
        const declined = extendedConnect(client, 'declines', '/');
        assert.equal(await status(declined), 501);
        declined.close();
        const after = client.request({ ':path': '/healthz' });
        assert.equal(await status(after), 200);
        after.resume();
      } finally {
        client.destroy();
      }
    });
  });

  it('two WebSockets and a GET on one session: /connections shows one h2 row with those streams', () => withLab({}, async (server) => {
    const client = await session(server.port);
    try {
      const a = await webSocketStream(client, '/echo');
      const b = await webSocketStream(client, '/echo');
      a.stream.write(textFrame('to a'));
      b.stream.write(textFrame('to b'));
      await until(() => a.reader.texts().includes('to a') && b.reader.texts().includes('to b'), 'both echoes');
      assert.deepEqual(a.reader.texts(), ['to a']);
      assert.deepEqual(b.reader.texts(), ['to b']);
      const get = client.request({ ':path': '/connections' });
      assert.equal(await status(get), 200);
      const table = JSON.parse(await body(get)) as { connections: Array<Row & { self?: true }> };
      const h2Rows = table.connections.filter((row) => row.http === '2');
      assert.equal(h2Rows.length, 1, JSON.stringify(table.connections));
      const streams = h2Rows[0]!.streams ?? [];
      const byId = new Map(streams.map((s) => [s.id, s]));
      for (const ws of [a, b]) {
        const entry = byId.get(ws.stream.id!);
        assert.ok(entry, `stream ${ws.stream.id} in ${JSON.stringify(streams)}`);
        assert.equal(entry.protocol, 'websocket');
        assert.equal(entry.state, 'upgraded');
        // Each stream's own payload: its masked 4-byte text frame in (2 + 4 + 4 B), the echo out (2 + 4 B).
        assert.deepEqual([entry.bytesIn, entry.bytesOut], [10, 6]);
      }
      const self = byId.get(get.id!);
      assert.ok(self, JSON.stringify(streams));
      assert.equal(self.method, 'GET');
      assert.equal(self.path, '/connections');
      assert.equal(self.protocol, null);
    } finally {
      client.destroy();
    }
  }));

  it('graceful shutdown with a WebSocket stream open: Close 1001 on the stream, then GOAWAY, then the session closes', () => withLab({}, async (server) => {
    const client = await session(server.port);
    try {
      const { stream, reader } = await webSocketStream(client, '/echo');
      const order: string[] = [];
      // Answer the server's Close as a client should (RFC 6455 §5.5.1), and note when it arrived.
      stream.on('data', () => {
        if (reader.close() !== undefined && !order.includes('close')) { order.push('close'); stream.write(closeFrame(1001)); }
      });
      // node may send more than one GOAWAY (RFC 9113 §6.8 allows it); the first one is what counts.
      client.on('goaway', () => { if (!order.includes('goaway')) order.push('goaway'); });
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      const stopping = server.close();
      await within(closed, WAIT_MS, 'session close');
      await within(stopping, WAIT_MS, 'server.close()');
      assert.equal(reader.close()?.payload.readUInt16BE(0), 1001);
      assert.deepEqual(order, ['close', 'goaway']);
    } finally {
      client.destroy();
    }
  }));

  it(':protocol TLS/1.0 on a stream is refused with a status (RFC 2817 needs the whole connection), and the session goes on', () => {
    const certificate = createSelfSignedCertificate();
    return withLab({ experimental: { tls: { cert: certificate.certPem, key: certificate.keyPem } } }, async (server) => {
      const client = await session(server.port);
      try {
        const stream = extendedConnect(client, 'TLS/1.0', '/');
        assert.equal(await status(stream), 501);
        assert.match(await body(stream), /HTTP\/2 stream/);
        const after = client.request({ ':path': '/healthz' });
        assert.equal(await status(after), 200);
        assert.equal(await body(after), 'ok\n');
      } finally {
        client.destroy();
      }
    });
  });

  it('a handler that throws in takeover costs only its stream: an echo stream beside it keeps working', () => {
    const broken: ProtocolHandler = { token: 'broken', takeover: () => { throw new Error('takeover exploded'); } };
    return withLab({ protocols: [broken] }, async (server) => {
      const client = await session(server.port);
      try {
        const echo = extendedConnect(client, 'echo', '/');
        assert.equal(await status(echo), 200);
        let got = '';
        echo.setEncoding('utf8');
        echo.on('data', (chunk: string) => { got += chunk; });
        const bad = extendedConnect(client, 'broken', '/');
        const badClosed = new Promise<void>((resolve) => bad.once('close', () => resolve()));
        bad.resume();
        await within(badClosed, WAIT_MS, 'the broken stream closes');
        echo.write('still here\n');
        await until(() => got.includes('still here\n'), 'echo after the broken stream');
        assert.equal(client.destroyed, false);
        const after = client.request({ ':path': '/healthz' });
        assert.equal(await status(after), 200);
        after.resume();
        echo.close(constants.NGHTTP2_NO_ERROR);
      } finally {
        client.destroy();
      }
    });
  });

  it('the connection window is raised to http2SessionWindowBytes (RFC 9113 §6.9.1), so streams are not starved by each other', () => withLab({ limits: { http2SessionWindowBytes: 1_000_000 } }, async (server) => {
    const client = await session(server.port);
    try {
      // The WINDOW_UPDATE on stream 0 follows the server's SETTINGS; a request round trip is after it.
      assert.equal(await body(client.request({ ':path': '/healthz' })), 'ok\n');
      assert.equal(client.state.remoteWindowSize, 1_000_000);
    } finally {
      client.close();
    }
  }));

  it('a plain GET on a WebSocket path over h2 gets 426 whose body says how to get there on HTTP/2 (RFC 8441), with no Upgrade header', () => withLab({}, async (server) => {
    const client = await session(server.port);
    try {
      const stream = client.request({ ':path': '/echo' });
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) => { stream.once('response', resolve); stream.once('error', reject); });
      assert.equal(headers[':status'], 426);
      assert.equal(headers['upgrade'], undefined, 'Upgrade is connection-specific: RFC 9113 §8.2.2');
      assert.match(await body(stream), /:method CONNECT and :protocol websocket \(RFC 8441\)/);
    } finally {
      client.close();
    }
  }));
});
