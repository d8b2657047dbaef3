import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../../src/registry/registry.js';
import { parseUpgradeOffers } from '../../src/registry/upgrade-offers.js';
import { ProtocolError } from '../../src/errors.js';
import type { ProtocolHandler } from '../../src/registry/plugin.js';

const handler = (token: string, onClose?: () => void): ProtocolHandler => ({ token, takeover: () => {}, ...(onClose ? { close: onClose } : {}) });

describe('Registry', () => {
  it('registers, lists, refuses duplicates (case-insensitively) and bad tokens', () => {
    const registry = new Registry().register(handler('websocket')).register(handler('TLS/1.0'));
    assert.deepEqual(registry.list().map((e) => e.token), ['websocket', 'TLS/1.0']);
    assert.throws(() => registry.register(handler('WebSocket')), { code: 'ERR_DUPLICATE_TOKEN' });
    assert.throws(() => registry.register(handler('bad token')), { code: 'ERR_BAD_TOKEN' });
    assert.throws(() => registry.register(handler('a/b/c')), { code: 'ERR_BAD_TOKEN' });
  });

  it('unregisters at runtime and calls the close hook once', async () => {
    let closed = 0;
    const registry = new Registry().register(handler('echo', () => { closed++; }));
    const changes: string[] = [];
    registry.onChange((change, token) => changes.push(`${change} ${token}`));
    assert.equal(await registry.unregister('ECHO'), true);
    assert.equal(await registry.unregister('echo'), false);
    assert.equal(closed, 1);
    assert.deepEqual(changes, ['unregister echo']);
    assert.equal(registry.has('echo'), false);
  });

  it('resolves offers in the client order; a bare name matches any version, name/version only itself', () => {
    const registry = new Registry().register(handler('lab-chat')).register(handler('TLS/1.0')).register(handler('echo'));
    const offers = parseUpgradeOffers(['tls/1.1, TLS/1.0, echo', 'lab-chat/1, lab-chat/2']);
    assert.ok(!(offers instanceof ProtocolError));
    assert.deepEqual(registry.resolve(offers).map((m) => `${m.offer.token}→${m.handler.token}`), ['TLS/1.0→TLS/1.0', 'echo→echo', 'lab-chat/1→lab-chat']);
  });

  it('parses Upgrade lists per RFC 9110 §7.8 and rejects malformed protocols', () => {
    assert.deepEqual(parseUpgradeOffers(['HTTP/2.0, SHTTP/1.3, IRC/6.9, RTA/x11']), [
      { token: 'HTTP/2.0', name: 'HTTP', version: '2.0' },
      { token: 'SHTTP/1.3', name: 'SHTTP', version: '1.3' },
      { token: 'IRC/6.9', name: 'IRC', version: '6.9' },
      { token: 'RTA/x11', name: 'RTA', version: 'x11' },
    ]);
    assert.deepEqual(parseUpgradeOffers([' , websocket ,']), [{ token: 'websocket', name: 'websocket', version: undefined }]);
    for (const bad of ['echo/', '/1', 'a b', 'x/1/2']) assert.ok(parseUpgradeOffers([bad]) instanceof ProtocolError, bad);
  });
});
