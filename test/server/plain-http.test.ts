import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { withLab, eventually } from '../helpers/lab.js';

const GET = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: lab\r\n${extra}\r\n`;

describe('plain HTTP on the lab port', () => {
  it('answers /healthz, HEAD without a body, 404 and 405 with Allow', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(GET('/healthz') + `HEAD /healthz HTTP/1.1\r\nHost: lab\r\n\r\n` + GET('/nope') + `DELETE /healthz HTTP/1.1\r\nHost: lab\r\n\r\n`);
    await client.waitFor((t) => parseResponses(t, new Set([1])).length === 4);
    const [ok, head, missing, notAllowed] = parseResponses(client.text, new Set([1]));
    assert.equal(ok!.status, 200);
    assert.equal(ok!.body, 'ok\n');
    assert.equal(head!.status, 200);
    assert.equal(head!.headers['content-length'], '3', 'HEAD carries the GET length');
    assert.equal(head!.body, '');
    assert.equal(missing!.status, 404);
    assert.equal(notAllowed!.status, 405);
    assert.equal(notAllowed!.headers['allow'], 'GET, HEAD, OPTIONS');
    assert.ok(!client.ended, 'keep-alive: the connection stays open');
    client.close();
  }));

  it('answers pipelined requests in order on one connection', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(GET('/healthz') + GET('/missing-1') + GET('/protocols') + GET('/missing-2'));
    await client.waitFor((t) => parseResponses(t).length === 4);
    assert.deepEqual(parseResponses(client.text).map((r) => r.status), [200, 404, 200, 404]);
    assert.match(parseResponses(client.text)[2]!.body, /"token": "echo"/);
    client.close();
  }));

  it('refuses an unknown method with 501 and CONNECT with 501 and a close', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write('BREW /pot HTTP/1.1\r\nHost: lab\r\n\r\n');
    await client.waitFor((t) => parseResponses(t).length === 1);
    assert.equal(parseResponses(client.text)[0]!.status, 501);
    client.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    const text = await client.waitForEnd();
    assert.equal(parseResponses(text)[1]!.status, 501);
    assert.equal(parseResponses(text)[1]!.headers['connection'], 'close');
  }));

  it('answers OPTIONS * and OPTIONS on a path with Allow', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write('OPTIONS * HTTP/1.1\r\nHost: lab\r\n\r\n' + 'OPTIONS /healthz HTTP/1.1\r\nHost: lab\r\n\r\n');
    await client.waitFor((t) => parseResponses(t).length === 2);
    const [star, path] = parseResponses(client.text);
    assert.equal(star!.status, 200);
    assert.match(star!.headers['allow']!, /GET/);
    assert.equal(path!.status, 204);
    assert.equal(path!.headers['allow'], 'GET, HEAD, OPTIONS');
    client.close();
  }));

  it('closes after the response for Connection: close and for HTTP/1.0 without keep-alive', () => withLab({}, async (server) => {
    for (const request of [GET('/healthz', 'Connection: close\r\n'), 'GET /healthz HTTP/1.0\r\n\r\n']) {
      const client = await RawClient.open(server.port);
      client.write(request);
      const text = await client.waitForEnd();
      assert.equal(parseResponses(text)[0]!.status, 200);
      assert.equal(parseResponses(text)[0]!.headers['connection'], 'close');
    }
  }));

  it('keeps an HTTP/1.0 connection alive when asked and says so', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write('GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await client.waitFor((t) => parseResponses(t).length === 1);
    assert.equal(parseResponses(client.text)[0]!.headers['connection'], 'keep-alive');
    client.write('GET /healthz HTTP/1.0\r\n\r\n');
    const text = await client.waitForEnd();
    assert.equal(parseResponses(text).length, 2);
  }));

  it('answers a request whose client half-closed right after sending it', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.socket.end(GET('/healthz'));
    const text = await client.waitForEnd();
    assert.equal(parseResponses(text)[0]!.status, 200);
  }));

  it('sends 100 Continue before reading a body when asked, then answers', () => withLab({}, async (server) => {
    server.router.add('POST', '/upload', ({ body }) => ({ status: 200, body: `got ${body.length} bytes` }));
    const client = await RawClient.open(server.port);
    client.write('POST /upload HTTP/1.1\r\nHost: lab\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await client.waitFor((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 3000, '100 Continue');
    client.write('hello');
    await client.waitFor((t) => t.includes('got 5 bytes'));
    client.close();
  }));

  it('reads a chunked body in full and routes it', () => withLab({}, async (server) => {
    server.router.add('POST', '/upload', ({ body }) => ({ status: 200, body: Buffer.from(body).toString() }));
    const client = await RawClient.open(server.port);
    client.write('POST /upload HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    await client.waitFor((t) => parseResponses(t).length === 1);
    assert.equal(parseResponses(client.text)[0]!.body, 'hello world');
    client.close();
  }));

  it('answers an HTTP/1.2 request as HTTP/1.1, keep-alive included (RFC 9110 §2.5)', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write('GET /healthz HTTP/1.2\r\nHost: lab\r\n\r\n');
    await client.waitFor((t) => parseResponses(t).length === 1);
    assert.ok(client.text.startsWith('HTTP/1.1 200 '), client.text);
    assert.equal(parseResponses(client.text)[0]!.body, 'ok\n');
    // Persistent, as a 1.1 connection is by default.
    client.write(GET('/healthz'));
    await client.waitFor((t) => parseResponses(t).length === 2);
    assert.ok(!client.ended);
    client.close();
  }));

  it('answers a request with 100 and with 1000 header fields (bounded by headerBytes, not by a count)', () => withLab({}, async (server) => {
    for (const count of [100, 1000]) {
      let fields = '';
      for (let i = 1; i < count; i++) fields += `X-Field-${i}: v\r\n`;
      const client = await RawClient.open(server.port);
      client.write(GET('/healthz', fields));
      await client.waitFor((t) => parseResponses(t).length === 1);
      assert.ok(client.text.startsWith('HTTP/1.1 200 '), `${count} fields: ${client.text.slice(0, 40)}`);
      client.close();
    }
  }));

  it('answers Transfer-Encoding: gzip, chunked with 501 whatever the route, and closes (RFC 9112 §6.1)', () => withLab({}, async (server) => {
    let routed = false;
    server.router.add('POST', '/upload', () => { routed = true; return { status: 200, body: 'routed' }; });
    const client = await RawClient.open(server.port);
    client.write('POST /upload HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    const text = await client.waitForEnd();
    assert.ok(text.startsWith('HTTP/1.1 501 '), text);
    assert.equal(parseResponses(text)[0]!.headers['connection'], 'close');
    assert.match(parseResponses(text)[0]!.body, /gzip/);
    assert.equal(routed, false, 'the route never sees the request');
  }));

  it('serves async route handlers in order and survives one that throws', () => withLab({}, async (server) => {
    server.router.get('/slow', async () => { await new Promise((r) => setTimeout(r, 30)); return { status: 200, body: 'slow' }; });
    server.router.get('/boom', () => { throw new Error('route bug'); });
    const client = await RawClient.open(server.port);
    client.write(GET('/slow') + GET('/healthz'));
    await client.waitFor((t) => parseResponses(t).length === 2);
    assert.deepEqual(parseResponses(client.text).map((r) => r.body), ['slow', 'ok\n']);
    const other = await RawClient.open(server.port);
    other.write(GET('/boom'));
    const text = await other.waitForEnd();
    assert.equal(parseResponses(text)[0]!.status, 500);
    client.write(GET('/healthz'));
    await client.waitFor((t) => parseResponses(t).length === 3);
    client.close();
  }));

  it('reports each client exactly as its own socket sees itself in /connections', () => withLab({}, async (server) => {
    const a = await RawClient.open(server.port);
    const b = await RawClient.open(server.port);
    a.write(GET('/connections'));
    await a.waitFor((t) => parseResponses(t).length === 1);
    const rows = JSON.parse(parseResponses(a.text)[0]!.body).connections as Array<Record<string, any>>;
    for (const client of [a, b]) {
      const row = rows.find((r) => r.remote.port === client.socket.localPort);
      assert.ok(row, `a row for client port ${client.socket.localPort}`);
      assert.equal(row.remote.address, client.socket.localAddress);
      assert.equal(row.local.port, server.port, 'same server port for every client');
      assert.equal(row.fiveTuple, `tcp 127.0.0.1:${server.port} 127.0.0.1:${client.socket.localPort}`);
    }
    assert.equal(rows.find((r) => r.self)!.remote.port, a.socket.localPort);
    a.close(); b.close();
    await eventually(() => server.table.size === 0, 3000, 'the table to empty');
  }));
});
