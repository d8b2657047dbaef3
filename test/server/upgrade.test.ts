import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { withLab, eventually } from '../helpers/lab.js';
import { accept, decline, reject, type ProtocolHandler } from '../../src/registry/plugin.js';

const upgrade = (token: string, path = '/', extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: ${token}\r\n${extra}\r\n`;

const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\n';

describe('Upgrade dispatch', () => {
  it('echo: payload in the same write as the request comes back first, nothing lost or doubled', () => withLab({}, async (server, events) => {
    const client = await RawClient.open(server.port);
    client.write(upgrade('echo') + 'first bytes|');
    await client.waitFor((t) => t.endsWith('first bytes|'), 3000, 'the echo of the head bytes');
    const text = client.text;
    assert.ok(text.startsWith(SWITCHED));
    assert.match(text, /\r\nConnection: Upgrade\r\n/);
    assert.match(text, /\r\nUpgrade: echo\r\n/);
    assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4), 'first bytes|');
    client.write('second');
    await client.waitFor((t) => t.endsWith('first bytes|second'));
    const up = events.find((e) => e.type === 'upgrade');
    assert.equal(up?.type === 'upgrade' && up.headBytes, 'first bytes|'.length);
    client.socket.end();
    await client.waitForEnd();
    await eventually(() => server.table.size === 0);
  }));

  it('a request body belongs to HTTP: only the bytes after it reach the new protocol', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(upgrade('echo', '/', 'Content-Length: 5\r\n') + 'BODY!after');
    await client.waitFor((t) => t.endsWith('\r\n\r\nafter'), 3000, 'echo of the bytes after the body');
    client.close();
    const chunked = await RawClient.open(server.port);
    chunked.write(upgrade('echo', '/', 'Transfer-Encoding: chunked\r\n') + '3\r\nabc\r\n0\r\n\r\nafter');
    await chunked.waitFor((t) => t.endsWith('\r\n\r\nafter'), 3000, 'echo after a chunked body');
    chunked.close();
  }));

  it('serves a keep-alive HTTP client and an upgraded client on the same port at the same time', () => withLab({}, async (server) => {
    const http = await RawClient.open(server.port);
    const echo = await RawClient.open(server.port);
    echo.write(upgrade('echo'));
    await echo.waitFor((t) => t.includes('\r\n\r\n'));
    for (let i = 1; i <= 3; i++) {
      http.write(`GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n`);
      echo.write(`ping ${i};`);
      await http.waitFor((t) => parseResponses(t).length === i);
      await echo.waitFor((t) => t.endsWith(`ping ${i};`));
    }
    http.write('GET /connections HTTP/1.1\r\nHost: lab\r\n\r\n');
    await http.waitFor((t) => parseResponses(t).length === 4);
    const rows = JSON.parse(parseResponses(http.text)[3]!.body).connections as Array<Record<string, any>>;
    const echoRow = rows.find((r) => r.remote.port === echo.socket.localPort)!;
    const httpRow = rows.find((r) => r.remote.port === http.socket.localPort)!;
    assert.equal(echoRow.state, 'upgraded');
    assert.equal(echoRow.protocol, 'echo');
    assert.equal(httpRow.state, 'http');
    assert.equal(echoRow.local.port, httpRow.local.port, 'one server port');
    assert.notEqual(echoRow.remote.port, httpRow.remote.port, 'told apart by the client port');
    assert.ok(echoRow.bytesIn > 0 && echoRow.bytesOut > 0);
    http.close(); echo.close();
  }));

  it('treats unknown tokens, HTTP/1.0 and a missing Connection: upgrade as plain HTTP', () => withLab({}, async (server) => {
    const requests = [
      upgrade('nobody-speaks-this', '/healthz'),
      'GET /healthz HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: lab\r\nUpgrade: echo\r\nConnection: close\r\n\r\n',
    ];
    for (const request of requests) {
      const client = await RawClient.open(server.port);
      client.write(request);
      await client.waitFor((t) => parseResponses(t).length === 1);
      assert.equal(parseResponses(client.text)[0]!.status, 200, request);
      client.close();
    }
  }));

  it('tries offers in the client order: decline falls through, the first accept wins, names are case-insensitive', () => withLab({}, async (server) => {
    const seen: string[] = [];
    const picky: ProtocolHandler = { token: 'picky', handshake: (ctx) => { seen.push(ctx.offered); return decline(); }, takeover: () => {} };
    server.registry.register(picky);
    const client = await RawClient.open(server.port);
    client.write(upgrade('PICKY/2, unknown, ECHO'));
    await client.waitFor((t) => t.includes('\r\n\r\n'));
    assert.ok(client.text.startsWith(SWITCHED));
    assert.match(client.text, /Upgrade: echo\r\n/);
    assert.deepEqual(seen, ['PICKY/2']);
    client.close();
  }));

  it('a route can require an upgrade: plain requests get 426 naming the tokens', () => withLab({}, async (server) => {
    server.router.requireUpgrade('/only-echo', ['echo']);
    const client = await RawClient.open(server.port);
    client.write('GET /only-echo HTTP/1.1\r\nHost: lab\r\n\r\n');
    await client.waitFor((t) => parseResponses(t).length === 1);
    const [response] = parseResponses(client.text);
    assert.equal(response!.status, 426);
    assert.equal(response!.headers['upgrade'], 'echo');
    client.close();
  }));

  it('a handler may reject with its own status and headers', () => withLab({}, async (server) => {
    server.registry.register({ token: 'guarded', handshake: () => reject(403, [['X-Why', 'not on the list']]), takeover: () => {} });
    const client = await RawClient.open(server.port);
    client.write(upgrade('guarded'));
    const text = await client.waitForEnd();
    assert.equal(parseResponses(text)[0]!.status, 403);
    assert.equal(parseResponses(text)[0]!.headers['x-why'], 'not on the list');
  }));

  it('a handler adds its own 101 headers and passes state to takeover', () => withLab({}, async (server) => {
    server.registry.register({
      token: 'stateful/1',
      handshake: () => accept([['X-Session', 'abc']], 'carried'),
      takeover: (ctx) => { ctx.socket.end(`state=${ctx.state} protocol=${ctx.protocol}`); },
    } as ProtocolHandler<string> as any);
    const client = await RawClient.open(server.port);
    client.write(upgrade('stateful/1'));
    const text = await client.waitForEnd();
    assert.match(text, /X-Session: abc\r\n/);
    assert.ok(text.endsWith('state=carried protocol=stateful/1'));
  }));

  it('a throwing handshake costs its request a 500; a throwing takeover costs only its connection', () => withLab({}, async (server, events) => {
    server.registry.register({ token: 'bad-handshake', handshake: () => { throw new Error('plugin bug'); }, takeover: () => {} });
    server.registry.register({ token: 'bad-takeover', takeover: async () => { throw new Error('later bug'); } });
    const a = await RawClient.open(server.port);
    a.write(upgrade('bad-handshake'));
    assert.equal(parseResponses(await a.waitForEnd())[0]!.status, 500);
    const b = await RawClient.open(server.port);
    b.write(upgrade('bad-takeover'));
    const text = await b.waitForEnd();
    assert.ok(text.startsWith(SWITCHED));
    const healthy = await RawClient.open(server.port);
    healthy.write('GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n');
    await healthy.waitFor((t) => parseResponses(t).length === 1);
    healthy.close();
    const codes = events.filter((e) => e.type === 'error').map((e) => e.type === 'error' && e.code);
    assert.ok(codes.includes('ERR_PLUGIN_HANDSHAKE'));
    assert.ok(codes.includes('ERR_PLUGIN_TAKEOVER'));
  }));

  it('a handler whose decision never comes gets 503 after handshakeTimeoutMs', () => withLab({ limits: { handshakeTimeoutMs: 100 } }, async (server) => {
    server.registry.register({ token: 'slow', handshake: () => new Promise(() => {}), takeover: () => {} });
    const client = await RawClient.open(server.port);
    client.write(upgrade('slow'));
    assert.equal(parseResponses(await client.waitForEnd())[0]!.status, 503);
  }));

  it('a handler that returns without closing has its socket destroyed by the loop', () => withLab({}, async (server) => {
    server.registry.register({ token: 'leaky', takeover: () => { /* forgets the socket */ } });
    const client = await RawClient.open(server.port);
    client.write(upgrade('leaky'));
    await client.waitForEnd();
    await eventually(() => server.table.size === 0);
  }));

  it('a malformed Upgrade list is a 400', () => withLab({}, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(upgrade('echo/'));
    assert.equal(parseResponses(await client.waitForEnd())[0]!.status, 400);
  }));
});
