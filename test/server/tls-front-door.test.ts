/**
 * TLS and cleartext on one listening socket: the first byte of each connection decides. Real sockets on
 * 127.0.0.1, node:tls clients trusting the test certificate, every scheme against one server.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { LabEvent } from '../../src/accept-loop/lab-events.js';
import { connect as connectWebSocket } from '../../src/protocols/websocket/client.js';
import { formatTraceLine } from '../../src/server/trace.js';
import type { SwitchyardServer } from '../../src/server/server.js';
import { eventually, withLab } from '../helpers/lab.js';
import { parseResponses, RawClient } from '../helpers/raw-client.js';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url)), 'utf8');
const cert = fixture('cert.pem');
const key = fixture('key.pem');
const TLS = { tls: { cert, key } };
const trust = { ca: cert, servername: 'localhost' };

interface Connections {
  connections: Array<{ id: number; transport: string; firstByte?: string; state: string; protocol: string | null; self?: true;
    tls?: { sni: string | null; offeredAlpn: string[]; version: string | null; cipher: string | null; alpn: string | null } }>;
  frontDoor: Record<string, number>;
}

function httpsText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // https.get passes TLS options through to tls.connect; its types do not list ALPNProtocols.
    const options = { host: '127.0.0.1', port, path, ...trust, ALPNProtocols: ['http/1.1'], agent: false };
    httpsGet(options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function plainGet(server: SwitchyardServer, path: string): Promise<string> {
  const client = await RawClient.open(server.port);
  client.write(`GET ${path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n`);
  const text = await client.waitForEnd();
  return text;
}

describe('TLS and cleartext on one port (the front door)', () => {
  it('serves http and https on the same port, and the table tells the transports apart', () => withLab(TLS, async (server) => {
    const plain = await RawClient.open(server.port);
    plain.write('GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n');
    await plain.waitFor((t) => parseResponses(t).length === 1);
    assert.equal(parseResponses(plain.text)[0]!.body, 'ok\n');
    const secure = await RawClient.openTls(server.port, { ...trust, ALPNProtocols: ['http/1.1'] });
    assert.equal(secure.tls.alpnProtocol, 'http/1.1', 'the server agreed to http/1.1 by ALPN');
    secure.write('GET /connections HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await secure.waitFor((t) => parseResponses(t).length === 1);
    const table = JSON.parse(parseResponses(secure.text)[0]!.body) as Connections;
    const mine = table.connections.find((row) => row.self)!;
    const other = table.connections.find((row) => !row.self)!;
    assert.equal(mine.transport, 'tls');
    assert.equal(mine.firstByte, '0x16');
    assert.equal(mine.tls?.sni, 'localhost');
    assert.deepEqual(mine.tls?.offeredAlpn, ['http/1.1']);
    assert.equal(mine.tls?.alpn, 'http/1.1');
    assert.match(mine.tls?.version ?? '', /^TLSv1\.[23]$/);
    assert.ok(mine.tls?.cipher);
    assert.equal(other.transport, 'tcp');
    assert.equal(other.firstByte, '0x47', 'G, the first letter of GET');
    assert.equal(other.tls, undefined);
    assert.equal(table.frontDoor.tls, 1);
    assert.equal(table.frontDoor.http, 1);
    plain.close();
    secure.close();
  }));

  it('wss:// and ws:// WebSocket echo on the same port; a cleartext and a TLS chat member share the room', () => withLab(TLS, async (server) => {
    const wss = await connectWebSocket(`wss://localhost:${server.port}/echo`, { tls: trust });
    const ws = await connectWebSocket(`ws://127.0.0.1:${server.port}/echo`);
    const secureEcho = once(wss, 'message');
    wss.send('over tls');
    assert.equal(String((await secureEcho)[0]), 'over tls');
    const plainEcho = once(ws, 'message');
    ws.send('in clear');
    assert.equal(String((await plainEcho)[0]), 'in clear');
    const a = await connectWebSocket(`wss://localhost:${server.port}/chat`, { tls: trust, protocols: ['chat'] });
    const b = await connectWebSocket(`ws://127.0.0.1:${server.port}/chat`, { protocols: ['chat'] });
    const heard = new Promise<string>((resolve) => b.on('message', (data: unknown) => { if (String(data).includes('from tls')) resolve(String(data)); }));
    a.send('from tls');
    assert.match(await heard, /from tls/);
    for (const socket of [wss, ws, a, b]) socket.close(1000);
    await eventually(() => server.table.size === 0, 5_000, 'every connection closed');
  }));

  it('Upgrade: echo and lab-chat/1 work inside TLS, with the bytes sent alongside the request', () => withLab(TLS, async (server) => {
    const client = await RawClient.openTls(server.port, trust);
    client.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly bytes');
    await client.waitFor((t) => t.includes('early bytes'));
    assert.match(client.text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    client.write(' and later ones');
    await client.waitFor((t) => t.endsWith('early bytes and later ones'));
    client.close();
    const chat = await RawClient.openTls(server.port, trust);
    chat.write('GET /chat HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: lab-chat/1\r\n\r\n');
    await chat.waitFor((t) => t.includes('\r\n\r\n'));
    assert.match(chat.text, /^HTTP\/1\.1 101 /);
    const rows = server.table.snapshot();
    assert.ok(rows.some((row) => row.transport === 'tls' && row.protocol === 'lab-chat/1'), JSON.stringify(rows));
    chat.close();
  }));

  it('keeps RFC 2817 TLS/1.0 working with the same certificate, and ignores it on a connection already in TLS', () => withLab(TLS, async (server) => {
    const offer = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: TLS/1.0\r\n\r\n';
    const secure = await RawClient.openTls(server.port, trust);
    secure.write(offer);
    await secure.waitFor((t) => parseResponses(t).length === 1);
    const [answer] = parseResponses(secure.text);
    assert.equal(answer!.status, 200, 'served as plain HTTP inside the TLS session: no TLS inside TLS');
    secure.close();
    const plain = await RawClient.open(server.port);
    plain.write(offer);
    await plain.waitFor((t) => t.includes('\r\n\r\n'));
    assert.match(plain.text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(plain.text, /Upgrade: TLS\/1\.0\r\nUpgrade: HTTP\/1\.1\r\n/);
    plain.socket.pause();
    plain.socket.removeAllListeners('data');
    const upgraded = tlsConnect({ socket: plain.socket, ...trust });
    await once(upgraded, 'secureConnect');
    let text = '';
    upgraded.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
    await eventually(() => text.includes('ok\n'), 5_000, 'the original request answered over TLS');
    upgraded.destroy();
  }));

  it('answers 400 and closes on a first byte that is neither TLS nor HTTP; others are not disturbed', () => withLab(TLS, async (server) => {
    const bystander = await RawClient.open(server.port);
    const bad = await RawClient.open(server.port);
    bad.write(Buffer.from([0x00, 0x01, 0x02, 0x03]));
    const text = await bad.waitForEnd();
    const [response] = parseResponses(text);
    assert.equal(response!.status, 400);
    assert.match(response!.body, /neither TLS nor HTTP: a NUL byte \(0x00\)/);
    assert.equal(server.table.frontDoor.unknown, 1);
    bystander.write('GET /healthz HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
    assert.equal(parseResponses(await bystander.waitForEnd())[0]!.status, 200);
  }));

  it('closes a TLS record that carries no ClientHello, and counts it', () => withLab(TLS, async (server) => {
    const client = await RawClient.open(server.port);
    // A handshake record holding a ServerHello (type 2): a client never sends one.
    const body = Buffer.from([0x02, 0x00, 0x00, 0x04, 0x03, 0x03, 0x00, 0x00]);
    client.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, body.length]), body]));
    await client.waitForEnd();
    assert.equal(client.text, '', 'nothing in cleartext to a TLS client');
    await eventually(() => server.table.frontDoor.tlsNotClientHello === 1, 2_000, 'counted');
    assert.equal(server.table.size, 0);
  }));

  it('closes and counts a handshake that fails (no shared TLS version)', () => withLab(TLS, async (server, events) => {
    const failed = new Promise<Error>((resolve) => {
      const socket = tlsConnect({ port: server.port, host: '127.0.0.1', ...trust, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
      socket.on('error', resolve);
    });
    assert.ok(await failed);
    await eventually(() => server.table.frontDoor.tlsHandshakeFailed === 1, 2_000, 'counted');
    await eventually(() => server.table.size === 0, 2_000, 'closed');
    assert.ok(events.some((e) => e.type === 'tls' && e.phase === 'failed'), 'traced');
  }));

  it('closes at once a client that leaves mid-handshake without an alert (not a timeout)', () => withLab({ ...TLS, limits: { tlsHandshakeTimeoutMs: 5_000 } }, async (server) => {
    // Node's client, not trusting the certificate, just closes its socket: the server sees only a FIN.
    const refused = new Promise<Error>((resolve) => {
      const socket = tlsConnect({ port: server.port, host: '127.0.0.1', servername: 'localhost' });
      socket.on('error', resolve);
    });
    assert.match((await refused).message, /self[- ]signed|unable to verify/i);
    const started = Date.now();
    await eventually(() => server.table.size === 0, 2_000, 'the row is gone well before tlsHandshakeTimeoutMs');
    assert.ok(Date.now() - started < 2_000);
    assert.equal(server.table.frontDoor.tlsHandshakeFailed, 1);
    assert.equal(server.table.frontDoor.tlsHandshakeTimeout, 0);
  }));

  it('closes a handshake that stalls after tlsHandshakeTimeoutMs, and a silent client after headersTimeoutMs', () => withLab({ ...TLS, limits: { tlsHandshakeTimeoutMs: 200, headersTimeoutMs: 300 } }, async (server) => {
    const stalled = await RawClient.open(server.port);
    stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // a record promising 512 bytes, then silence
    const silent = await RawClient.open(server.port);
    await stalled.waitForEnd(3_000);
    assert.equal(stalled.text, '');
    assert.equal(server.table.frontDoor.tlsHandshakeTimeout, 1);
    const answer = await silent.waitForEnd(3_000);
    assert.equal(parseResponses(answer)[0]!.status, 408);
  }));

  it('traces the sniff and the completed handshake, one line each', () => withLab(TLS, async (server, events) => {
    assert.equal(await httpsText(server.port, '/healthz'), 'ok\n');
    await plainGet(server, '/healthz');
    const lines = events.filter((e: LabEvent) => e.type === 'sniff' || e.type === 'tls').map(formatTraceLine);
    assert.ok(lines.some((line) => /sniff\s+#\d+ tcp \S+ \S+ first byte 0x16 -> tls$/.test(line)), lines.join('\n'));
    assert.ok(lines.some((line) => /sniff\s+#\d+ tcp \S+ \S+ first byte 0x47 -> http$/.test(line)), lines.join('\n'));
    assert.ok(lines.some((line) => /tls\s+#\d+ .* established TLSv1\.3 \S+, ALPN http\/1\.1, SNI localhost$/.test(line)), lines.join('\n'));
    assert.ok(lines.some((line) => /client-hello SNI localhost, ALPN offered http\/1\.1/.test(line)), lines.join('\n'));
  }));

  it('shutdown reaches connections still at the front door and ones inside TLS', () => withLab(TLS, async (server) => {
    const waiting = await RawClient.open(server.port);
    const ws = await connectWebSocket(`wss://localhost:${server.port}/echo`, { tls: trust });
    const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)));
    await eventually(() => server.table.size === 2, 2_000, 'both connections in the table');
    await server.close();
    assert.equal(await closed, 1001);
    await waiting.waitForEnd(2_000);
    assert.equal(server.table.size, 0);
  }));
});
