import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/errors.js';
import { createTcpTunnelProtocol } from '../../../src/protocols/tcp-tunnel/plugin.js';
import { parseTunnelSpec, tunnelNameFromPath, tunnelTable } from '../../../src/protocols/tcp-tunnel/targets.js';

describe('tunnel targets', () => {
  it('parses name=host:port, with IPv6 in brackets', () => {
    assert.deepEqual(parseTunnelSpec('redis=127.0.0.1:6379'), { name: 'redis', target: { host: '127.0.0.1', port: 6379 } });
    assert.deepEqual(parseTunnelSpec('db=[::1]:5432'), { name: 'db', target: { host: '::1', port: 5432 } });
    assert.deepEqual(parseTunnelSpec('a.b_c~d-e=backend.internal:1'), { name: 'a.b_c~d-e', target: { host: 'backend.internal', port: 1 } });
  });

  it('refuses malformed specs with a message naming the problem', () => {
    const cases: Array<[string, RegExp]> = [
      ['redis', /expected name=host:port/],
      ['redis=127.0.0.1', /expected name=host:port/],
      ['=127.0.0.1:1', /invalid tunnel name ""/],
      ['../x=127.0.0.1:1', /invalid tunnel name/],
      ['.hidden=127.0.0.1:1', /invalid tunnel name/],
      ['a/b=127.0.0.1:1', /invalid tunnel name/],
      ['x=:80', /invalid tunnel host ""/],
      ['x=bad host:80', /invalid tunnel host/],
      ['x=127.0.0.1:0', /invalid tunnel port "0"/],
      ['x=127.0.0.1:65536', /invalid tunnel port/],
      ['x=127.0.0.1:http', /invalid tunnel port/],
    ];
    for (const [spec, message] of cases) {
      assert.throws(() => parseTunnelSpec(spec), (error: unknown) => error instanceof UsageError && message.test(error.message), spec);
    }
  });

  it('reads a name only from exactly /tunnel/<name>, never decoding or normalising', () => {
    assert.equal(tunnelNameFromPath('/tunnel/redis'), 'redis');
    for (const path of ['/tunnel/', '/tunnel', '/tunnel/../x', '/tunnel/./x', '/tunnel/a/b', '/tunnel/%61', '/tunnel/..', '/x/tunnel/a', '/tunnel/a?b']) {
      assert.equal(tunnelNameFromPath(path), undefined, path);
    }
  });

  it('checks a library-given table, and inherited keys are never names in it', () => {
    const table = tunnelTable({ echo: { host: 'localhost', port: 7 } });
    assert.equal(table.get('echo')?.port, 7);
    assert.equal(table.get('constructor'), undefined);
    assert.equal(table.get('__proto__'), undefined);
    assert.throws(() => tunnelTable({ 'no/slash': { host: 'localhost', port: 7 } }), UsageError);
    assert.throws(() => tunnelTable({ x: { host: '', port: 7 } }), UsageError);
    assert.throws(() => tunnelTable({ x: { host: 'localhost', port: 70000 } }), UsageError);
  });

  it('refuses tunnel timeouts that would make no sense', () => {
    for (const bad of [{ connectTimeoutMs: 0 }, { idleTimeoutMs: -1 }, { lingerMs: 0.5 }]) {
      assert.throws(() => createTcpTunnelProtocol({ tunnels: {}, ...bad }), (error: unknown) => error instanceof UsageError && /must be an integer/.test(error.message));
    }
  });
});
