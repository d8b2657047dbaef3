import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { withLab } from '../helpers/lab.js';

const GET = (path: string, method = 'GET'): string => `${method} ${path} HTTP/1.1\r\nHost: lab\r\n\r\n`;

/** The data block the server writes into the page: who the page's own connection is. */
function pageData(html: string): { page: { fiveTuple: string; remote: { port: number } }; server: { port: number } } {
  const match = /<script id="lab-data" type="application\/json">([^<]*)<\/script>/.exec(html);
  assert.ok(match, 'the page carries its data block');
  return JSON.parse(match[1]!);
}

/** Over the bytes as sent (parseResponses decodes latin1, one char per byte), as the browser hashes them. */
const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(Buffer.from(text, 'latin1')).digest('base64')}'`;

describe('the dashboard page, GET /', () => {
  it('is one self-contained HTML page that knows the 5-tuple of the connection it came over', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(GET('/') + GET('/', 'HEAD'));
    await client.waitFor((t) => parseResponses(t, new Set([1])).length === 2, 10_000, 'GET and HEAD answers');
    const [page, head] = parseResponses(client.text, new Set([1]));
    assert.equal(page!.status, 200);
    assert.equal(page!.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page!.headers['cache-control'], 'no-store');
    assert.match(page!.body, /^<!doctype html>/);
    // No external assets: nothing is loaded from anywhere but the page itself.
    assert.doesNotMatch(page!.body, /\b(src|href)="(https?:)?\/\//);
    const data = pageData(page!.body);
    assert.equal(data.page.fiveTuple, `tcp 127.0.0.1:${server.port} 127.0.0.1:${client.socket.localPort}`);
    assert.equal(data.server.port, server.port);
    assert.equal(head!.status, 200);
    assert.equal(head!.body, '');
    assert.equal(head!.headers['content-length'], page!.headers['content-length']);
    client.close();
  }));

  it('pins its inline script and style in the Content-Security-Policy, and allows connections to its own origin only', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(GET('/'));
    await client.waitFor((t) => parseResponses(t).length === 1, 10_000, 'the page');
    const { headers, body } = parseResponses(client.text)[0]!;
    const csp = headers['content-security-policy']!;
    const script = /<script>([\s\S]*?)<\/script>/.exec(body)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(body)![1]!;
    assert.ok(csp.includes(`script-src ${sha256(script)}`), 'the script that runs is the one the policy names');
    assert.ok(csp.includes(`style-src ${sha256(style)}`));
    assert.ok(csp.includes("connect-src 'self'"));
    assert.ok(csp.startsWith("default-src 'none'"));
    assert.equal(headers['x-content-type-options'], 'nosniff');
    // The page builds its WebSocket URLs from its own location, not from a host baked in by the server.
    assert.match(script, /new URL\(relative, location\.href\)/);
    assert.doesNotMatch(script, /127\.0\.0\.1|localhost/);
    client.close();
  }));

  it('/_lab/whoami answers each connection with its own 5-tuple: same server port, different client ports', () => withLab({}, async (server) => {
    const one = await RawClient.open(server.port);
    const two = await RawClient.open(server.port);
    one.write(GET('/_lab/whoami'));
    two.write(GET('/_lab/whoami'));
    await one.waitFor((t) => parseResponses(t).length === 1, 10_000, 'whoami');
    await two.waitFor((t) => parseResponses(t).length === 1, 10_000, 'whoami');
    const a = JSON.parse(parseResponses(one.text)[0]!.body);
    const b = JSON.parse(parseResponses(two.text)[0]!.body);
    assert.deepEqual(a.local, { address: '127.0.0.1', port: server.port });
    assert.deepEqual(b.local, a.local);
    assert.equal(a.remote.port, one.socket.localPort);
    assert.equal(b.remote.port, two.socket.localPort);
    assert.notEqual(a.remote.port, b.remote.port);
    assert.equal(a.fiveTuple, `tcp 127.0.0.1:${server.port} 127.0.0.1:${one.socket.localPort}`);
    assert.notEqual(a.id, b.id);
    one.close();
    two.close();
  }));

  it('answers a plain GET on /_lab/events with 426 naming websocket', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(GET('/_lab/events'));
    await client.waitFor((t) => parseResponses(t).length === 1, 10_000, 'the 426');
    const response = parseResponses(client.text)[0]!;
    assert.equal(response.status, 426);
    assert.equal(response.headers['upgrade'], 'websocket');
    client.close();
  }));

  it('carries the byte view: a panel, hidden until a row is opened, fed from _lab/connections/ID/bytes on its own origin', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(GET('/'));
    await client.waitFor((t) => parseResponses(t).length === 1, 10_000, 'the page');
    const { body } = parseResponses(client.text)[0]!;
    assert.match(body, /<section id="bytes-panel" hidden [^>]*>/);
    assert.match(body, /<button type="button" id="bytes-close" aria-label="close the byte view">/);
    const script = /<script>([\s\S]*?)<\/script>/.exec(body)![1]!;
    // Relative to the page, like the WebSocket URLs: same origin and path prefix, so the CSP's connect-src 'self' covers it.
    assert.match(script, /fetch\(new URL\('_lab\/connections\/' \+ id \+ '\/bytes', location\.href\)/);
    // Rows are opened by the keyboard too: each row's # is a button.
    assert.match(script, /el\('button', 'open-bytes', '#' \+ row\.id\)/);
    client.close();
  }));
});
