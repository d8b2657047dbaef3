import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { withLab, eventually } from '../helpers/lab.js';
import { connect, HandshakeError } from '../../src/protocols/websocket/client.js';
import type { WebSocket } from '../../src/protocols/websocket/session.js';

const RFC_REQUEST = [
  'GET /chat HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==',
  'Origin: http://example.com',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Version: 13',
  '', '',
].join('\r\n');

function nextMessage(ws: WebSocket): Promise<{ data: string | Uint8Array; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
}
function closed(ws: WebSocket): Promise<{ code: number; reason: string; wasClean: boolean }> {
  return new Promise((resolve) => ws.once('close', (code, reason, wasClean) => resolve({ code, reason, wasClean })));
}

describe('websocket plugin on the lab', () => {
  it('answers the RFC 6455 §1.3 handshake byte for byte', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(RFC_REQUEST);
    const text = await client.waitFor((t) => t.includes('\r\n\r\n'));
    assert.equal(text,
      'HTTP/1.1 101 Switching Protocols\r\n' +
      'Connection: Upgrade\r\n' +
      'Upgrade: websocket\r\n' +
      'Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n' +
      'Sec-WebSocket-Protocol: chat\r\n\r\n');
    client.close();
  }));

  it('decodes a masked frame sent in the same write as the handshake (RFC §5.7 "Hello")', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    const masked = Buffer.from('818537fa213d7f9f4d5158', 'hex');
    client.write(Buffer.concat([Buffer.from(RFC_REQUEST.replace('/chat', '/echo')), masked]));
    await client.waitFor((t) => t.endsWith('\x81\x05Hello'), 3000, 'the unmasked echo');
    client.close();
  }));

  it('refuses plain GET on a WebSocket path with 426, unknown paths with 404, version 8 with 426', () => withLab({}, async (server) => {
    const plain = await RawClient.open(server.port);
    plain.write('GET /echo HTTP/1.1\r\nHost: lab\r\n\r\n');
    await plain.waitFor((t) => parseResponses(t).length === 1);
    assert.equal(parseResponses(plain.text)[0]!.status, 426);
    assert.equal(parseResponses(plain.text)[0]!.headers['upgrade'], 'websocket');
    plain.close();
    const unknown = await RawClient.open(server.port);
    unknown.write(RFC_REQUEST.replace('/chat', '/nowhere'));
    assert.equal(parseResponses(await unknown.waitForEnd())[0]!.status, 404);
    const old = await RawClient.open(server.port);
    old.write(RFC_REQUEST.replace('Version: 13', 'Version: 8'));
    const response = parseResponses(await old.waitForEnd())[0]!;
    assert.equal(response.status, 426);
    assert.equal(response.headers['sec-websocket-version'], '13');
  }));

  it('our client: echo text as text and binary as binary at length-encoding edges', () => withLab({}, async (server) => {
    const ws = await connect(`ws://127.0.0.1:${server.port}/echo`);
    for (const size of [0, 1, 125, 126, 127, 65535, 65536, 1024 * 1024]) {
      const binary = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
      const echoed = nextMessage(ws);
      ws.send(binary);
      const got = await echoed;
      assert.equal(got.isBinary, true);
      assert.deepEqual(Buffer.from(got.data as Uint8Array), Buffer.from(binary), `binary ${size}`);
    }
    const text = 'héllo wörld ✓ '.repeat(5000);
    const echoed = nextMessage(ws);
    ws.send(text);
    assert.deepEqual(await echoed, { data: text, isBinary: false });
    const done = closed(ws);
    ws.close(1000, 'bye');
    assert.deepEqual(await done, { code: 1000, reason: 'bye', wasClean: true });
    await eventually(() => server.table.size === 0);
  }));

  it('a 16 MiB message passes and one byte more is closed with 1009', () => withLab({}, async (server) => {
    const ws = await connect(`ws://127.0.0.1:${server.port}/echo`, { maxMessageBytes: 32 * 1024 * 1024 });
    const big = new Uint8Array(16 * 1024 * 1024).fill(7);
    const echoed = nextMessage(ws);
    ws.send(big);
    assert.equal(((await echoed).data as Uint8Array).length, big.length);
    const done = closed(ws);
    ws.send(new Uint8Array(16 * 1024 * 1024 + 1));
    const result = await done;
    assert.equal(result.code, 1009);
  }));

  it('chat: subprotocols negotiated, messages go to every other member', () => withLab({}, async (server) => {
    const a = await connect(`ws://127.0.0.1:${server.port}/chat`, { protocols: ['chat'] });
    const b = await connect(`ws://127.0.0.1:${server.port}/chat`, { protocols: ['superchat', 'chat'] });
    const c = await connect(`ws://127.0.0.1:${server.port}/chat`);
    assert.equal(a.protocol, 'chat');
    assert.equal(b.protocol, 'chat', 'the server prefers chat');
    assert.equal(c.protocol, '');
    const atB = nextMessage(b);
    const atC = nextMessage(c);
    let aGotOwn = false;
    a.once('message', () => { aGotOwn = true; });
    a.send('hi all');
    assert.equal((await atB).data, 'hi all');
    assert.equal((await atC).data, 'hi all');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(aGotOwn, false, 'no echo to the sender');
    const super1 = await connect(`ws://127.0.0.1:${server.port}/chat`, { protocols: ['superchat'] });
    assert.equal(super1.protocol, 'superchat');
    const atSuper = nextMessage(super1);
    b.send('from b');
    const envelope = JSON.parse((await atSuper).data as string);
    assert.equal(envelope.text, 'from b');
    assert.match(envelope.from, /^127\.0\.0\.1:\d+$/);
    for (const ws of [a, b, c, super1]) ws.close();
  }));

  it('our client rejects a non-101 answer with the status', () => withLab({}, async (server) => {
    await assert.rejects(connect(`ws://127.0.0.1:${server.port}/nowhere`), (error: unknown) => {
      assert.ok(error instanceof HandshakeError);
      assert.equal(error.status, 404);
      return true;
    });
  }));

  it('a clean close started by the server on shutdown is 1001', async () => {
    const { startLab } = await import('../../src/lab.js');
    const server = await startLab({ port: 0 });
    const ws = await connect(`ws://127.0.0.1:${server.port}/echo`);
    const done = closed(ws);
    await server.close();
    const result = await done;
    assert.equal(result.code, 1001);
    assert.equal(result.wasClean, true);
  });

  it('a peer that vanishes is noticed and its row leaves the table', () => withLab({}, async (server, events) => {
    const ws = await connect(`ws://127.0.0.1:${server.port}/echo`);
    await eventually(() => server.table.snapshot().some((r) => r.protocol === 'websocket'));
    ws.socket.destroy();
    await eventually(() => server.table.size === 0);
    assert.ok(events.some((e) => e.type === 'close'));
  }));
});
