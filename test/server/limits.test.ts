import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { withLab, eventually } from '../helpers/lab.js';

describe('server limits, timeouts and shutdown', () => {
  it('answers 503 and closes for a connection over maxConnections, never a silent hang', () => withLab({ limits: { maxConnections: 2 } }, async (server, events) => {
    const a = await RawClient.open(server.port);
    const b = await RawClient.open(server.port);
    await eventually(() => server.table.size === 2);
    const c = await RawClient.open(server.port);
    const text = await c.waitForEnd();
    assert.equal(parseResponses(text)[0]!.status, 503);
    assert.ok(events.some((e) => e.type === 'refuse'));
    a.close(); b.close();
  }));

  it('applies maxConnectionsPerAddress', () => withLab({ limits: { maxConnectionsPerAddress: 1 } }, async (server) => {
    const a = await RawClient.open(server.port);
    await eventually(() => server.table.size === 1);
    const b = await RawClient.open(server.port);
    assert.equal(parseResponses(await b.waitForEnd())[0]!.status, 503);
    a.close();
  }));

  it('408 when the header section trickles in too slowly (slowloris)', () => withLab({ limits: { headersTimeoutMs: 200 } }, async (server) => {
    const client = await RawClient.open(server.port);
    client.write('GET / HTTP/1.1\r\n');
    const timer = setInterval(() => client.socket.writable && client.write('X: y\r\n'), 50);
    try {
      const text = await client.waitForEnd(3000);
      assert.equal(parseResponses(text)[0]!.status, 408);
    } finally {
      clearInterval(timer);
    }
  }));

  it('closes an idle keep-alive connection after keepAliveTimeoutMs', () => withLab({ limits: { keepAliveTimeoutMs: 150 } }, async (server, events) => {
    const client = await RawClient.open(server.port);
    client.write('GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n');
    await client.waitForEnd(3000);
    assert.equal(parseResponses(client.text).length, 1);
    await eventually(() => events.some((e) => e.type === 'close' && e.reason === 'keep-alive timeout'));
  }));

  it('rejects unknown limits', async () => {
    const { resolveLimits } = await import('../../src/limits.js');
    assert.throws(() => resolveLimits({ maxConection: 3 } as never), /unknown limit "maxConection"/);
    assert.throws(() => resolveLimits({ bodyBytes: -1 }), /non-negative integer/);
    assert.equal(resolveLimits({ bodyBytes: 10 }).bodyBytes, 10);
  });

  it('close(): idle keep-alive connections close, upgraded handlers see the signal, then it resolves', async () => {
    const { startLab } = await import('../../src/lab.js');
    const server = await startLab({ port: 0 });
    const idle = await RawClient.open(server.port);
    idle.write('GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n');
    await idle.waitFor((t) => parseResponses(t).length === 1);
    const echo = await RawClient.open(server.port);
    echo.write('GET / HTTP/1.1\r\nHost: lab\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n');
    await echo.waitFor((t) => t.includes('\r\n\r\n'));
    const started = Date.now();
    await server.close();
    assert.ok(Date.now() - started < server.limits.shutdownTimeoutMs, 'finished before the deadline');
    await idle.waitForEnd();
    await echo.waitForEnd();
    assert.equal(server.table.size, 0);
  });

  it('close() destroys what is still open at the deadline', async () => {
    const { startLab } = await import('../../src/lab.js');
    const server = await startLab({ port: 0, limits: { shutdownTimeoutMs: 100 } });
    server.registry.register({ token: 'stubborn', takeover: (ctx) => new Promise((resolve) => ctx.socket.on('close', resolve)) });
    const client = await RawClient.open(server.port);
    client.write('GET / HTTP/1.1\r\nHost: lab\r\nConnection: upgrade\r\nUpgrade: stubborn\r\n\r\n');
    await client.waitFor((t) => t.includes('\r\n\r\n'));
    await server.close();
    await client.waitForEnd();
    assert.equal(server.table.size, 0);
  });
});
