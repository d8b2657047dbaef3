import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LabEvent } from '../../src/accept-loop/lab-events.js';
import { eventually, withLab } from '../helpers/lab.js';
import { run, STACK_TRACE } from '../helpers/cli.js';

/*
 * `connect --http2`: the CLI's WebSocket (and --upgrade) client over one HTTP/2 stream, RFC 8441, run as
 * a user runs it (`node dist/cli.js`) against a real lab on a real port: cleartext with prior knowledge
 * for ws://, ALPN h2 inside TLS for wss://.
 */

const FIXTURES = new URL('../../../test/fixtures/tls/', import.meta.url);
const CERT = fileURLToPath(new URL('cert.pem', FIXTURES));
const KEY = fileURLToPath(new URL('key.pem', FIXTURES));

/** The lab handed `protocol` a stream of an HTTP/2 connection, not a socket after a 101. */
async function sawStreamUpgrade(events: LabEvent[], protocol: string): Promise<void> {
  await eventually(() => events.some((e) => e.type === 'upgrade' && e.protocol === protocol && e.stream !== undefined), 3_000, `an HTTP/2 stream upgrade to ${protocol}`);
}

/** A plain node:http2 server that never announces SETTINGS_ENABLE_CONNECT_PROTOCOL; counts the streams it saw. */
async function withPlainHttp2(body: (port: number, streams: () => number) => Promise<void>): Promise<void> {
  const server: Http2Server = createHttp2Server();
  let streams = 0;
  server.on('stream', (stream) => { streams++; stream.respond({ ':status': 200 }); stream.end('plain h2\n'); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await body((server.address() as AddressInfo).port, () => streams);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('connect --http2 (RFC 8441 extended CONNECT)', () => {
  it('echo hi | connect --http2 ws://…/echo prints hi and exits 0', () => withLab({}, async (server, events) => {
    const result = await run(['connect', '--http2', `ws://127.0.0.1:${server.port}/echo`], 'hi\n');
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, 'hi\n');
    assert.equal(result.code, 0);
    // Cleartext with prior knowledge: the lab's sniffer saw the h2 preface, and the WebSocket rode a stream.
    assert.ok(events.some((e) => e.type === 'sniff' && e.decided === 'h2'), 'the lab sniffed an HTTP/2 preface');
    await sawStreamUpgrade(events, 'websocket');
  }));

  it('wss:// with --cacert: TLS agrees ALPN h2, the certificate is verified, and the echo comes back', () =>
    withLab({ tls: { cert: readFileSync(CERT), key: readFileSync(KEY) } }, async (server, events) => {
      const result = await run(['connect', '--http2', '--verbose', '--cacert', CERT, `wss://127.0.0.1:${server.port}/echo`], 'over tls\n');
      assert.equal(result.stdout, 'over tls\n', result.stderr);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /^\* tls: TLSv1\.[23] .*, alpn h2, server certificate CN=localhost/m);
      assert.match(result.stderr, /^> :scheme: https$/m);
      assert.doesNotMatch(result.stderr, /NOT verified/);
      await sawStreamUpgrade(events, 'websocket');
    }));

  it('wss:// without --cacert fails verification of the self-signed certificate with exit 1', () =>
    withLab({ tls: { cert: readFileSync(CERT), key: readFileSync(KEY) } }, async (server) => {
      const result = await run(['connect', '--http2', `wss://127.0.0.1:${server.port}/echo`], 'hi\n');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /TLS with 127\.0\.0\.1:\d+ failed/);
      assert.equal(result.stdout, '');
    }));

  it('--protocol chat is offered in sec-websocket-protocol and the server\'s choice is shown', () => withLab({}, async (server) => {
    const result = await run(['connect', '--http2', '--verbose', '--protocol', 'chat', `ws://127.0.0.1:${server.port}/chat`], '');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^> sec-websocket-protocol: chat$/m);
    assert.match(result.stderr, /^< sec-websocket-protocol: chat$/m);
    assert.match(result.stderr, /^\* subprotocol: chat$/m);
    // RFC 8441 §5: no key and no accept over HTTP/2.
    assert.doesNotMatch(result.stderr, /sec-websocket-key/i);
  }));

  it('--upgrade echo --http2 pipes raw bytes (all 256 values) over a stream with :protocol echo', () => withLab({}, async (server, events) => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const result = await run(['connect', '--http2', '--upgrade', 'echo', '--verbose', `http://127.0.0.1:${server.port}/`], bytes);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.raw, bytes);
    assert.match(result.stderr, /^> :protocol: echo$/m);
    assert.match(result.stderr, /^\* closed cleanly$/m);
    await sawStreamUpgrade(events, 'echo');
  }));

  it('--upgrade with a list of tokens is a usage error with --http2: :protocol names one', () => withLab({}, async (server) => {
    const result = await run(['connect', '--http2', '--upgrade', 'echo, lab-chat/1', `http://127.0.0.1:${server.port}/`]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /one token/);
  }));

  it('a server without SETTINGS_ENABLE_CONNECT_PROTOCOL: exit 1 naming it, and no CONNECT is sent', () => withPlainHttp2(async (port, streams) => {
    const result = await run(['connect', '--http2', `ws://127.0.0.1:${port}/echo`], 'hi\n');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /SETTINGS_ENABLE_CONNECT_PROTOCOL/);
    assert.match(result.stderr, /RFC 8441 §3/);
    assert.doesNotMatch(result.stderr, STACK_TRACE);
    assert.equal(result.stdout, '');
    // RFC 8441 §3: the client must not send :protocol to such a server at all.
    assert.equal(streams(), 0);
  }));

  it('a 404 path: exit 1 with :status 404 and the body', () => withLab({}, async (server) => {
    const result = await run(['connect', '--http2', `ws://127.0.0.1:${server.port}/no-such-endpoint`], 'hi\n');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the server answered :status 404, not 200/);
    assert.match(result.stderr, /no-such-endpoint/);
    assert.equal(result.stdout, '');
  }));

  it('--verbose shows the 5-tuple, the server\'s SETTINGS, the HPACK-decoded header blocks, :status 200 and the close', () => withLab({}, async (server) => {
    const result = await run(['connect', '--http2', '--verbose', `ws://127.0.0.1:${server.port}/echo`], 'hi\n');
    assert.equal(result.code, 0, result.stderr);
    const err = result.stderr;
    assert.match(err, new RegExp(`^\\* connected: tcp 127\\.0\\.0\\.1:\\d+ → 127\\.0\\.0\\.1:${server.port} `, 'm'));
    assert.match(err, /^\* server's SETTINGS:$/m);
    assert.match(err, /^\*   SETTINGS_ENABLE_CONNECT_PROTOCOL = 1$/m);
    assert.match(err, /^\* request HEADERS on stream 1 \(shown HPACK-decoded, not wire bytes\):$/m);
    assert.match(err, /^> :method: CONNECT$/m);
    assert.match(err, /^> :protocol: websocket$/m);
    assert.match(err, /^> :path: \/echo$/m);
    assert.match(err, new RegExp(`^> :authority: 127\\.0\\.0\\.1:${server.port}$`, 'm'));
    assert.match(err, /^> sec-websocket-version: 13$/m);
    assert.match(err, /^< :status: 200$/m);
    assert.match(err, /^\* closed cleanly: 1000$/m);
  }));

  it('permessage-deflate on a stream (RFC 8441 §5 keeps the extension negotiation): offered, agreed, messages deflated', () => withLab({}, async (server, events) => {
    const line = 'over a stream, compressed; '.repeat(10);
    const result = await run(['connect', '--http2', '--verbose', `ws://127.0.0.1:${server.port}/echo`], `${line}\n`);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${line}\n`);
    assert.match(result.stderr, /^> sec-websocket-extensions: permessage-deflate; client_max_window_bits$/m);
    assert.match(result.stderr, /^< sec-websocket-extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12$/m);
    assert.match(result.stderr, /^\* received text 270 B, deflated to \d+ B$/m);
    assert.ok(events.some((e) => e.type === 'protocol' && e.stream === 1 && /^text 270 B \(deflated to \d+ B\)$/.test(e.detail)), 'the stream\'s trace shows the wire size');
  }));

  it('an HTTP/1.1-only server: exit 1, saying it did not answer in HTTP/2', async () => {
    const server = createHttpServer((_request, response) => response.end('h1\n'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const result = await run(['connect', '--http2', `ws://127.0.0.1:${(server.address() as AddressInfo).port}/echo`], 'hi\n');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /did not answer in HTTP\/2/);
      assert.doesNotMatch(result.stderr, STACK_TRACE);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a TLS server that only speaks ALPN http/1.1: exit 1, naming ALPN h2', async () => {
    const server = createTlsServer({ cert: readFileSync(CERT), key: readFileSync(KEY), ALPNProtocols: ['http/1.1'] }, (tls) => tls.end());
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const result = await run(['connect', '--http2', '--cacert', CERT, `wss://127.0.0.1:${(server.address() as AddressInfo).port}/echo`], 'hi\n');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /ALPN h2/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
