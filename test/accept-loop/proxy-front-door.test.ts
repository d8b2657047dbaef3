/**
 * The PROXY protocol on the front door, against a lab on 127.0.0.1 trusting only 127.0.0.2 (Linux routes
 * all of 127/8 on lo, so a client bound to 127.0.0.2 plays the proxy). The header comes before anything
 * else, TLS included (the specification puts it outside TLS); after it the connection is sniffed as usual,
 * and the row (here: `/_lab/whoami`) shows the client the header names.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { withLab } from '../helpers/lab.js';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url)), 'utf8');
const TLS = { cert: fixture('cert.pem'), key: fixture('key.pem') };
const PROXY = { protocol: true, trusted: '127.0.0.2' };

async function fromProxy(port: number): Promise<Socket> {
  const socket = netConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
  await once(socket, 'connect');
  return socket;
}

/** Everything the server sends until it closes (bounded). */
async function readAll(socket: Socket | import('node:tls').TLSSocket, ms = 5_000): Promise<string> {
  let text = '';
  socket.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  const timer = setTimeout(() => socket.destroy(), ms);
  await once(socket, 'close');
  clearTimeout(timer);
  return text;
}

const WHOAMI = 'GET /_lab/whoami HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n';
const body = (response: string): { fiveTuple: string; transport: string } => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));

/** A v2 header by hand (§2.2): signature, version 2 + command, AF_INET/STREAM, 12 bytes of addresses. */
function v2(command: 0 | 1, source: [number, number, number, number], sourcePort: number, destination: [number, number, number, number], destinationPort: number): Buffer {
  const head = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  const block = Buffer.alloc(12);
  Buffer.from(source).copy(block, 0);
  Buffer.from(destination).copy(block, 4);
  block.writeUInt16BE(sourcePort, 8);
  block.writeUInt16BE(destinationPort, 10);
  return Buffer.concat([head, Buffer.from([0x20 | command, 0x11, 0x00, 12]), block]);
}

describe('PROXY protocol on the front door', () => {
  it('v1 from the trusted proxy, written a byte at a time: the row is the client\'s as the proxy saw it', () => withLab({ proxy: PROXY }, async (server) => {
    const socket = await fromProxy(server.port);
    const reply = readAll(socket);
    for (const byte of Buffer.from('PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n')) {
      socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    socket.write(WHOAMI);
    const self = body(await reply);
    assert.equal(self.fiveTuple, 'tcp 198.51.100.1:443 203.0.113.7:40000');
    const counts = server.table.frontDoor;
    assert.equal(counts.proxied, 1);
  }));

  it('v2, then TLS inside it: sniffing starts after the header, and the row is the client\'s, over tls', () => withLab({ proxy: PROXY, tls: TLS }, async (server) => {
    const raw = await fromProxy(server.port);
    raw.write(v2(1, [192, 0, 2, 9], 50123, [198, 51, 100, 1], 443));
    const secure = tlsConnect({ socket: raw, rejectUnauthorized: false, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    await once(secure, 'secureConnect');
    const reply = readAll(secure);
    secure.write(WHOAMI);
    const self = body(await reply);
    assert.equal(self.fiveTuple, 'tcp 198.51.100.1:443 192.0.2.9:50123');
    assert.equal(self.transport, 'tls');
  }));

  it('LOCAL (a health check) keeps the real connection\'s 5-tuple', () => withLab({ proxy: PROXY }, async (server) => {
    const socket = await fromProxy(server.port);
    const reply = readAll(socket);
    socket.write(Buffer.concat([v2(0, [0, 0, 0, 0], 0, [0, 0, 0, 0], 0), Buffer.from(WHOAMI)]));
    const self = body(await reply);
    assert.match(self.fiveTuple, new RegExp(`^tcp 127\\.0\\.0\\.1:${server.port} 127\\.0\\.0\\.2:\\d+$`));
  }));

  it('refused and counted: a malformed header, one that stalls, a trusted peer without one, an untrusted peer with one', () =>
    withLab({ proxy: PROXY, limits: { headersTimeoutMs: 300 } }, async (server) => {
      const malformed = await fromProxy(server.port);
      const first = readAll(malformed);
      malformed.write('PROXY TCP4 203.0.113.999 198.51.100.1 40000 443\r\n');
      assert.equal(await first, '', 'closed without an answer');

      const stalled = await fromProxy(server.port);
      const second = readAll(stalled);
      stalled.write('PROXY TCP4 203.0.113.7');
      const started = Date.now();
      assert.equal(await second, '');
      assert.ok(Date.now() - started >= 250, 'closed at the header deadline, not before');

      const bare = await fromProxy(server.port);
      const third = readAll(bare);
      bare.write(WHOAMI);
      assert.equal(await third, '', 'a trusted peer must send the header');

      const untrusted = netConnect({ port: server.port, host: '127.0.0.1' });
      await once(untrusted, 'connect');
      const fourth = readAll(untrusted);
      untrusted.write(Buffer.concat([v2(1, [203, 0, 113, 7], 1, [198, 51, 100, 1], 443), Buffer.from(WHOAMI)]));
      assert.equal(await fourth, '', 'only a trusted proxy may say who the client is');

      // An untrusted client without a header is served as usual.
      const direct = netConnect({ port: server.port, host: '127.0.0.1' });
      await once(direct, 'connect');
      const fifth = readAll(direct);
      direct.write(WHOAMI);
      assert.match(body(await fifth).fiveTuple, /^tcp 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+$/);
      assert.equal(server.table.frontDoor.proxyRejected, 4);
    }));
});
