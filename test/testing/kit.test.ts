/**
 * The kit's building blocks, and its place in the package: `switchyard/testing` resolves (the second
 * entry of "exports") to the same functions the tests import from src.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { echoProtocol } from '../../src/protocols/echo/echo.js';
import type { ProtocolHandler } from '../../src/registry/plugin.js';
import { openUpgraded, readWithTimeout, startPrivateServer, upgradeRequest } from '../../src/testing/index.js';

describe('switchyard/testing', { timeout: 60_000 }, () => {
  it('is an entry of the package, with the checks and the helpers', async () => {
    const kit = await import('switchyard/testing' as string) as Record<string, unknown>;
    for (const name of ['startPrivateServer', 'openUpgraded', 'readWithTimeout', 'runContractChecks', 'formatCheckLine', 'CONTRACT_CHECKS',
      'checkHandshake101', 'checkEarlyBytes', 'checkSlowReaderBounded', 'checkClientCloseReleases', 'checkShutdownEnds',
      'checkHandshakeThrowIsolated', 'checkTakeoverThrowIsolated', 'checkDecline', 'checkReject']) {
      assert.ok(kit[name] !== undefined, `switchyard/testing exports ${name}`);
    }
  });

  it('a private server, an upgraded connection with early bytes, and reads with a timeout', async () => {
    const server = await startPrivateServer(echoProtocol);
    try {
      const client = await openUpgraded(server.port, 'echo', { early: 'first|' });
      assert.equal(client.response?.status, 101);
      assert.equal(client.response?.headers['upgrade'], 'echo');
      assert.equal((await readWithTimeout(client, 'first|')).toString(), 'first|');
      client.write('second');
      assert.equal((await readWithTimeout(client, 6, 2_000, 6)).toString(), 'second', 'from an offset, a byte count');
      assert.equal(server.liveConnections(), 1);
      assert.ok(server.serverSocketOf(client.localPort), 'the server side of this connection');
      await assert.rejects(readWithTimeout(client, 'never sent', 100), /no "never sent" within 100 ms; received "first\|second"/);
      client.end();
      assert.equal(await client.waitForEnd(2_000), true);
    } finally {
      await server.close();
    }
    assert.ok(server.events.some((e) => e.type === 'upgrade'), 'the server\'s events are kept');
  });

  it('a refused upgrade is a response, not an error; a silent server is a timeout', async () => {
    const refusing: ProtocolHandler = { token: 'no/1', handshake: () => ({ action: 'reject', status: 403 }), takeover: () => {} };
    const silent: ProtocolHandler = { token: 'slow/1', handshake: () => new Promise(() => {}), takeover: () => {} };
    const server = await startPrivateServer([refusing, silent], { limits: { shutdownTimeoutMs: 300 } });
    try {
      const refused = await openUpgraded(server.port, 'no/1');
      assert.equal(refused.response?.status, 403);
      await assert.rejects(openUpgraded(server.port, 'slow/1', { timeoutMs: 200 }), /no response head within 200 ms/);
    } finally {
      await server.close();
    }
  });

  it('upgradeRequest is the request the kit sends', () => {
    assert.equal(upgradeRequest('x/1', { path: '/p', headers: [['A', 'b']] }),
      'GET /p HTTP/1.1\r\nHost: switchyard.test\r\nConnection: Upgrade\r\nUpgrade: x/1\r\nA: b\r\n\r\n');
  });
});
