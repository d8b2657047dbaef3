import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { withLab } from '../helpers/lab.js';
import { run } from '../helpers/cli.js';

/* `probe --http2`: the annotated HTTP/2 exchange, against a real lab (and a plain node:http2 server). */

const FIXTURES = new URL('../../../test/fixtures/tls/', import.meta.url);
const CERT = fileURLToPath(new URL('cert.pem', FIXTURES));
const KEY = fileURLToPath(new URL('key.pem', FIXTURES));

describe('probe --http2', () => {
  it('ws://…/echo: the preface, the SETTINGS with ENABLE_CONNECT_PROTOCOL explained, the CONNECT and :status 200', () => withLab({}, async (server) => {
    const result = await run(['probe', '--http2', `ws://127.0.0.1:${server.port}/echo`]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const out = result.stdout;
    assert.match(out, /connection preface "PRI \* HTTP\/2\.0\\r\\n\\r\\nSM\\r\\n\\r\\n"/);
    assert.match(out, /^ {2}< SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 +extended CONNECT is allowed.*RFC 8441 §3/m);
    assert.match(out, /^ {2}< SETTINGS_INITIAL_WINDOW_SIZE = \d+ /m);
    assert.match(out, /^request HEADERS on stream 1 /m);
    assert.match(out, /^ {2}> :method: CONNECT /m);
    assert.match(out, /^ {2}> :protocol: websocket /m);
    assert.match(out, /^ {2}> sec-websocket-version: 13 /m);
    assert.match(out, /^ {2}< :status: 200 +✓ 200: stream 1 is now a tunnel for websocket/m);
    assert.match(out, /^verdict: ✓ extended CONNECT accepted/m);
  }));

  it('http://…/: a GET on stream 1, with the SETTINGS and the :status', () => withLab({}, async (server) => {
    const result = await run(['probe', '--http2', `http://127.0.0.1:${server.port}/`]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^ {2}< SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 /m);
    assert.match(result.stdout, /^ {2}> :method: GET /m);
    assert.doesNotMatch(result.stdout, /^ {2}> :protocol/m);
    assert.match(result.stdout, /^ {2}< :status: 200 +✓ 200: the answer to the GET/m);
    assert.match(result.stdout, /^ {2}< content-type: text\/html/m);
  }));

  it('--upgrade echo on http://: an extended CONNECT with :protocol echo', () => withLab({}, async (server) => {
    const result = await run(['probe', '--http2', '--upgrade', 'echo', `http://127.0.0.1:${server.port}/`]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^ {2}> :protocol: echo /m);
    assert.match(result.stdout, /^ {2}< :status: 200 /m);
  }));

  it('a 404 path: exit 1, :status 404 marked as failed', () => withLab({}, async (server) => {
    const result = await run(['probe', '--http2', `ws://127.0.0.1:${server.port}/nowhere`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^ {2}< :status: 404 +✗ 404/m);
    assert.match(result.stdout, /^verdict: ✗ no tunnel: the server answered :status 404/m);
  }));

  it('wss:// with --cacert: ALPN h2 over verified TLS', () => withLab({ tls: { cert: readFileSync(CERT), key: readFileSync(KEY) } }, async (server) => {
    const result = await run(['probe', '--http2', '--cacert', CERT, `wss://127.0.0.1:${server.port}/echo`]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^tls: TLSv1\.[23] .*, alpn h2, /m);
    assert.match(result.stdout, /^ {2}✓ certificate verified against the CA in --cacert/m);
    assert.match(result.stdout, /^ {2}> :scheme: https /m);
    assert.match(result.stdout, /^ {2}< :status: 200 /m);
  }));

  it('a server without SETTINGS_ENABLE_CONNECT_PROTOCOL: shown as 0, exit 1, no CONNECT sent', async () => {
    const server = createHttp2Server();
    let streams = 0;
    server.on('stream', (stream) => { streams++; stream.respond({ ':status': 200 }); stream.end(); });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const result = await run(['probe', '--http2', `ws://127.0.0.1:${(server.address() as AddressInfo).port}/echo`]);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /^ {2}< SETTINGS_ENABLE_CONNECT_PROTOCOL = 0 +no extended CONNECT/m);
      assert.match(result.stdout, /^verdict: ✗ no extended CONNECT/m);
      assert.equal(streams, 0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
