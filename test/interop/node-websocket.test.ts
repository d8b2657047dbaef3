import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { eventually, withLab } from '../helpers/lab.js';
import { connect } from '../../src/protocols/websocket/client.js';

/**
 * An independent peer: Node's built-in WebSocket client (undici's, behind --experimental-websocket in
 * Node 20) drives our server from a child process and reports what it saw as JSON.
 */
const PEER_SCRIPT = `
const base = process.argv[1];
const results = {};
const open = (path, protocols) => new Promise((resolve, reject) => {
  const ws = new WebSocket(base + path, protocols);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => resolve(ws);
  ws.onerror = (e) => reject(new Error('error event: ' + (e.message || e.type)));
});
const next = (ws) => new Promise((resolve) => { ws.onmessage = (m) => resolve(m.data); });
(async () => {
  const echo = await open('/echo');
  results.extensions = echo.extensions;
  echo.send('hello from undici');
  results.text = await next(echo);
  // Long enough to be compressed by the server (undici itself sends uncompressed): it must inflate it.
  const long = 'a line that compresses well; '.repeat(100);
  echo.send(long);
  results.longEqual = (await next(echo)) === long;
  const bytes = new Uint8Array(70000).map((_, i) => i & 255);
  echo.send(bytes);
  const back = new Uint8Array(await next(echo));
  results.binaryLength = back.length;
  results.binaryEqual = back.every((b, i) => b === (i & 255));
  const closed = new Promise((resolve) => { echo.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); });
  echo.close(4001, 'done');
  results.close = await closed;
  const a = await open('/chat', ['superchat', 'chat']);
  const b = await open('/chat', ['chat']);
  results.protocol = a.protocol;
  const atB = next(b);
  a.send('chat via undici');
  results.chat = await atB;
  a.close(); b.close();
  process.stdout.write(JSON.stringify(results));
})().catch((e) => { process.stderr.write(String(e.stack || e)); process.exit(1); });
`;

/** Closing and keepalive as undici sees them: a server-initiated close, a failure (1009), pings answered. */
const CLOSING_SCRIPT = `
const base = process.argv[1];
const results = {};
const open = (path) => new Promise((resolve, reject) => {
  const ws = new WebSocket(base + path);
  ws.onopen = () => resolve(ws);
  ws.onerror = (e) => reject(new Error('error event: ' + (e.message || e.type)));
});
const closed = (ws) => new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); });
(async () => {
  const a = await open('/closer');
  const aClosed = closed(a);
  a.send('close me');
  results.serverCloses = await aClosed;
  const b = await open('/echo');
  const bClosed = closed(b);
  b.onerror = () => {};
  b.send('x'.repeat(2000));
  results.tooBig = await bClosed;
  const c = await open('/keepalive');
  results.keepalive = await new Promise((resolve) => { c.onmessage = (m) => resolve(m.data); });
  const cClosed = closed(c);
  c.close(1000);
  results.clientCloses = await cClosed;
  process.stdout.write(JSON.stringify(results));
})().catch((e) => { process.stderr.write(String(e.stack || e)); process.exit(1); });
`;

/** Run `script` in a child Node with the built-in WebSocket client; it must exit 0 and print JSON. */
async function runPeer(script: string, url: string): Promise<any> {
  const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', script, url]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout);
}

describe('interoperability with independent peers', () => {
  it("Node's built-in WebSocket client talks to our server", () => withLab({}, async (server, events) => {
    const results = await runPeer(PEER_SCRIPT, `ws://127.0.0.1:${server.port}`);
    assert.equal(results.text, 'hello from undici');
    // undici offers permessage-deflate; the server agrees (RFC 7692) and compresses its echo of the long line.
    assert.equal(results.extensions, 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    assert.equal(results.longEqual, true);
    assert.ok(events.some((e) => e.type === 'protocol' && e.direction === 'out' && /^text 2900 B \(deflated to \d+ B\)$/.test(e.detail)), 'the echo went out compressed');
    assert.equal(results.binaryLength, 70000);
    assert.equal(results.binaryEqual, true);
    assert.deepEqual(results.close, { code: 4001, reason: 'done', wasClean: true });
    assert.equal(results.protocol, 'chat');
    assert.equal(results.chat, 'chat via undici');
  }));

  it("Node's built-in client sees our closing handshake: server-first, failure with 1009, and keepalive pings answered", () => {
    let pongs = 0;
    const serverSide: Array<[number, string, boolean]> = [];
    return withLab({
      limits: { webSocketMaxMessageBytes: 1024 },
      webSocketEndpoints: {
        '/closer': { onConnection: (ws) => ws.on('message', () => ws.close(4002, 'bye from server')) },
        '/keepalive': {
          pingIntervalMs: 20,
          onConnection: (ws) => {
            ws.on('pong', () => { if (++pongs === 3) ws.send('still here after 3 pongs'); });
            ws.on('close', (code, reason, wasClean) => serverSide.push([code, reason, wasClean]));
          },
        },
      },
    }, async (server) => {
      const results = await runPeer(CLOSING_SCRIPT, `ws://127.0.0.1:${server.port}`);
      assert.deepEqual(results.serverCloses, { code: 4002, reason: 'bye from server', wasClean: true });
      assert.equal(results.tooBig.code, 1009, 'the failure reaches the client as a Close frame, not a reset');
      assert.equal(results.keepalive, 'still here after 3 pongs');
      assert.deepEqual(results.clientCloses, { code: 1000, reason: '', wasClean: true });
      await eventually(() => serverSide.length === 1, 3_000, "the server's close event");
      assert.deepEqual(serverSide, [[1000, '', true]]);
    });
  });

  it('our client against a hand-written RFC 6455 server sending the RFC §5.7 bytes', async () => {
    // An independent server: the accept value computed here from the RFC's formula, frames written as raw hex.
    const server = createServer((socket: Socket) => {
      let request = '';
      socket.on('data', (chunk) => {
        request += chunk.toString('latin1');
        if (!request.includes('\r\n\r\n')) return;
        socket.removeAllListeners('data');
        const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(request)![1]!;
        const acceptValue = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptValue}\r\n\r\n`);
        // §5.7: unmasked "Hello", then a fragmented "Hel" + "lo", then an unmasked ping "Hello", then a close 1000.
        socket.write(Buffer.from('810548656c6c6f' + '010348656c' + '80026c6f' + '890548656c6c6f' + '880203e8', 'hex'));
        let received = Buffer.alloc(0);
        socket.on('data', (more) => {
          received = Buffer.concat([received, more]);
          // Expect a masked pong (0x8a, mask bit set) and a masked close; then close TCP as a server does.
          if (received.includes(0x88)) socket.end();
        });
        socket.on('end', () => server.emit('peer-bytes', received));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const peerBytes = once(server, 'peer-bytes');
    const ws = await connect(`ws://127.0.0.1:${port}/`);
    const messages: string[] = [];
    const pings: string[] = [];
    ws.on('message', (data) => messages.push(data as string));
    ws.on('ping', (data) => pings.push(Buffer.from(data).toString()));
    const [code, , wasClean] = await once(ws, 'close');
    const [bytes] = (await peerBytes) as [Buffer];
    server.close();
    assert.deepEqual(messages, ['Hello', 'Hello']);
    assert.deepEqual(pings, ['Hello']);
    assert.equal(code, 1000);
    assert.equal(wasClean, true);
    assert.equal(bytes[0], 0x8a, 'first frame back is a pong');
    assert.equal(bytes[1]! & 0x80, 0x80, 'client frames are masked');
    assert.equal(bytes[1]! & 0x7f, 5);
    const mask = bytes.subarray(2, 6);
    const payload = Buffer.from(bytes.subarray(6, 11).map((b, i) => b ^ mask[i % 4]!));
    assert.equal(payload.toString(), 'Hello', 'the pong carries the ping payload');
  });
});
