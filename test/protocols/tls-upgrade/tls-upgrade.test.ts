import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../../src/errors.js';
import { startLab } from '../../../src/lab.js';
import { eventually, withLab } from '../../helpers/lab.js';
import { parseResponses, RawClient } from '../../helpers/raw-client.js';

// Test-only certificate for CN=localhost, IP 127.0.0.1 (test/fixtures/tls/README.md).
const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`../../../../test/fixtures/tls/${name}`, import.meta.url)), 'utf8');
const CERT = fixture('cert.pem');
const KEY = fixture('key.pem');
const TLS = { experimental: { tls: { cert: CERT, key: KEY } } };

const upgradeRequest = (target = '/healthz', extra = ''): string =>
  `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: TLS/1.0\r\n${extra}\r\n`;

/** Collects a stream's bytes as text and waits on them. */
class Reader {
  text = '';
  closed = false;
  constructor(stream: Duplex) {
    stream.on('data', (chunk: Buffer) => { this.text += chunk.toString('latin1'); });
    stream.on('close', () => { this.closed = true; });
    stream.on('error', () => {});
  }
  async until(predicate: (text: string) => boolean, what: string, ms = 10_000): Promise<string> {
    await eventually(() => predicate(this.text), ms, `${what}; got ${JSON.stringify(this.text.slice(0, 300))}`);
    return this.text;
  }
}

/** The TLS handshake, bounded: a server that never answers fails the test instead of hanging it. */
function secured(tls: TLSSocket, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { tls.destroy(); reject(new Error('no TLS handshake within ' + ms + ' ms')); }, ms);
    tls.once('secureConnect', () => { clearTimeout(timer); resolve(); });
    tls.once('error', (error) => { clearTimeout(timer); reject(error); });
  });
}

/** Send the upgrade request in cleartext, read the 101, then start TLS over the same socket. */
async function upgradeToTls(port: number, request = upgradeRequest()): Promise<{ raw: Socket; tls: TLSSocket; switched: string }> {
  const raw = netConnect({ port, host: '127.0.0.1' });
  await once(raw, 'connect');
  raw.write(request);
  let switched = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      switched += chunk.toString('latin1');
      if (!switched.includes('\r\n\r\n')) return;
      raw.off('data', onData);
      raw.pause();
      resolve();
    };
    raw.on('data', onData);
    raw.once('close', () => reject(new Error(`closed before the 101: ${switched}`)));
  });
  // Our fixture's CA is the only one trusted, and the name must match: a real verification.
  const tls = tlsConnect({ socket: raw, ca: CERT, servername: 'localhost' });
  await secured(tls);
  return { raw, tls, switched };
}

describe('TLS/1.0 upgrade (RFC 2817)', { timeout: 120_000 }, () => {
  it('answers 101 in cleartext, then the original request over TLS, then serves more requests over TLS', () => withLab(TLS, async (server) => {
    const { tls, switched } = await upgradeToTls(server.port);
    assert.ok(switched.startsWith('HTTP/1.1 101 Switching Protocols\r\n'));
    assert.deepEqual(parseResponses(switched)[0]!.headers['upgrade'], 'TLS/1.0, HTTP/1.1', 'RFC 2817 §3.3');
    assert.equal(tls.authorized, true, 'the certificate verified against the test CA');
    const reader = new Reader(tls);
    const first = await reader.until((t) => parseResponses(t).length === 1, 'the answer to the original request');
    assert.equal(parseResponses(first)[0]!.status, 200);
    assert.equal(parseResponses(first)[0]!.body, 'ok\n');
    tls.write('GET /connections HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await reader.until((t) => parseResponses(t).length === 2, 'the connection table over TLS');
    const rows = JSON.parse(parseResponses(reader.text)[1]!.body).connections as Array<Record<string, any>>;
    const mine = rows.find((row) => row.self === true)!;
    assert.equal(mine.protocol, 'TLS/1.0');
    assert.equal(mine.state, 'http');
    assert.equal(mine.requests, 2);
    tls.end();
    await eventually(() => server.table.size === 0, 5_000, 'the connection to close');
  }));

  it('takes a ClientHello sent in the same write as the upgrade request', () => withLab(TLS, async (server) => {
    const raw = netConnect({ port: server.port, host: '127.0.0.1' });
    await once(raw, 'connect');
    // A stream between node:tls and the socket that holds TLS's first write (the ClientHello) back, to
    // send it glued to the request, and hides the 101 from TLS.
    let first = true;
    let head = '';
    let switched = false;
    const bridge = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        raw.write(first ? Buffer.concat([Buffer.from(upgradeRequest('/healthz')), chunk]) : chunk, done);
        first = false;
      },
      final(done) { raw.end(); done(); },
    });
    raw.on('data', (chunk: Buffer) => {
      if (switched) { bridge.push(chunk); return; }
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      switched = true;
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      head = head.slice(0, end + 4);
      if (rest.length > 0) bridge.push(rest);
    });
    raw.on('end', () => bridge.push(null));
    const tls = tlsConnect({ socket: bridge, ca: CERT, servername: 'localhost' });
    await secured(tls);
    assert.ok(head.startsWith('HTTP/1.1 101 '));
    const reader = new Reader(tls);
    await reader.until((t) => parseResponses(t).length === 1, 'the answer over TLS');
    assert.equal(parseResponses(reader.text)[0]!.status, 200);
    tls.destroy();
    raw.destroy();
  }));

  it('upgrades again inside TLS: websocket over TLS/1.0, shown as "TLS/1.0 > websocket"', () => withLab(TLS, async (server) => {
    const { raw, tls } = await upgradeToTls(server.port, upgradeRequest('/healthz'));
    const reader = new Reader(tls);
    await reader.until((t) => parseResponses(t).length === 1, 'the first answer');
    const before = reader.text.length;
    // RFC 6455 §1.3's sample key and §5.7's masked "Hello", sent together.
    tls.write('GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    tls.write(Buffer.from('818537fa213d7f9f4d5158', 'hex'));
    await reader.until((t) => t.endsWith('\x81\x05Hello'), 'the WebSocket echo over TLS');
    const switched = reader.text.slice(before);
    assert.match(switched, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(switched, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
    const plain = await RawClient.open(server.port);
    plain.write('GET /connections HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
    const rows = JSON.parse(parseResponses(await plain.waitForEnd())[0]!.body).connections as Array<Record<string, any>>;
    const upgraded = rows.find((row) => row.remote.port === raw.localPort)!;
    assert.equal(upgraded.protocol, 'TLS/1.0 > websocket');
    assert.equal(upgraded.state, 'upgraded');
    tls.destroy();
  }));

  it('declines a second TLS/1.0 on a connection that is already TLS, and one whose request has content', () => withLab(TLS, async (server) => {
    const { tls } = await upgradeToTls(server.port);
    const reader = new Reader(tls);
    await reader.until((t) => parseResponses(t).length === 1, 'the first answer');
    tls.write(upgradeRequest('/healthz'));
    await reader.until((t) => parseResponses(t).length === 2, 'the second answer');
    assert.equal(parseResponses(reader.text)[1]!.status, 200, 'plain HTTP over the existing TLS, no nested 101');
    tls.destroy();
    const withBody = await RawClient.open(server.port);
    withBody.write(upgradeRequest('/healthz', 'Content-Length: 4\r\nConnection: Upgrade, close\r\n').replace('GET', 'POST') + 'data');
    const [response] = parseResponses(await withBody.waitForEnd());
    assert.notEqual(response!.status, 101);
    assert.equal(response!.status, 405, 'served in cleartext: POST /healthz is not allowed');
  }));

  it('a client that speaks no TLS after the 101 is closed, traced, and the server carries on', () => withLab(TLS, async (server, events) => {
    const client = await RawClient.open(server.port);
    client.write(upgradeRequest() + 'GET / HTTP/1.1\r\n\r\n');
    await client.waitForEnd();
    await eventually(() => events.some((e) => e.type === 'protocol' && e.kind === 'tls' && /^error/.test(e.detail)), 5_000, 'the TLS error event');
    const healthy = await RawClient.open(server.port);
    healthy.write('GET /healthz HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
    assert.equal(parseResponses(await healthy.waitForEnd())[0]!.status, 200);
  }));

  it('a client that never starts the TLS handshake is dropped after handshakeTimeoutMs', () => withLab({ ...TLS, limits: { handshakeTimeoutMs: 300 } }, async (server, events) => {
    const client = await RawClient.open(server.port);
    client.write(upgradeRequest());
    await client.waitForEnd(10_000);
    assert.ok(events.some((e) => e.type === 'protocol' && e.kind === 'tls' && /not finished within 300 ms/.test(e.detail)));
  }));

  it('is offered only with a certificate and key; without them TLS/1.0 is plain HTTP', async () => {
    await withLab({}, async (server) => {
      const client = await RawClient.open(server.port);
      client.write(upgradeRequest('/protocols', 'Connection: close\r\n'));
      const [response] = parseResponses(await client.waitForEnd());
      assert.equal(response!.status, 200);
      assert.doesNotMatch(response!.body, /TLS\/1\.0/);
    });
    await withLab(TLS, async (server) => {
      const client = await RawClient.open(server.port);
      client.write('GET /protocols HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
      assert.match(parseResponses(await client.waitForEnd())[0]!.body, /TLS\/1\.0/);
    });
  });

  it('refuses an unusable certificate or key at start-up', async () => {
    await assert.rejects(startLab({ port: 0, experimental: { tls: { cert: 'not a certificate', key: KEY } } }),
      (error: unknown) => error instanceof UsageError && error.code === 'ERR_BAD_TLS_CONFIG');
  });
});
