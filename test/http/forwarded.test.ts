import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseForwarded, parseXForwardedFor, resolveClient } from '../../src/http/forwarded.js';

const hops = (v: string | string[]) => { const r = parseForwarded(v); assert.ok(r.ok, r.ok ? '' : r.reason); return r.ok ? r.hops : []; };

describe('parseForwarded (RFC 7239)', () => {
  it('§4 examples', () => {
    assert.deepEqual(hops('for="_gazonk"')[0]!.for, { kind: 'obfuscated', address: '_gazonk', port: undefined });
    assert.deepEqual(hops('For="[2001:db8:cafe::17]:4711"')[0]!.for, { kind: 'ipv6', address: '2001:db8:cafe::17', port: '4711' });
    const h = hops('for=192.0.2.60;proto=http;by=203.0.113.43')[0]!;
    assert.equal(h.for?.address, '192.0.2.60');
    assert.equal(h.proto, 'http');
    assert.equal(h.by?.address, '203.0.113.43');
    assert.deepEqual(hops('for=192.0.2.43, for=198.51.100.17').map((x) => x.for?.address), ['192.0.2.43', '198.51.100.17']);
  });
  it('§7.1 examples: one list however the lines are split', () => {
    const want = ['192.0.2.43', '2001:db8:cafe::17', 'unknown'];
    assert.deepEqual(hops('for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown').map((x) => x.for?.address), want);
    assert.deepEqual(hops(['for=192.0.2.43', 'for="[2001:db8:cafe::17]", for=unknown']).map((x) => x.for?.address), want);
  });
  it('§7.5 chain with host and extensions; quoted-pair', () => {
    const h = hops('for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com;ext="a\\"b"');
    assert.equal(h[1]!.host, 'example.com');
    assert.deepEqual(h[1]!.extensions, [['ext', 'a"b']]);
    assert.equal(hops('for="_hidden:_port"')[0]!.for?.port, '_port');
  });
  for (const bad of ['for=2001:db8::1', 'for="[2001:db8::1"', 'for=1.2.3.4;for=5.6.7.8', 'for', 'for=a b', 'proto=1http', 'for="unterminated', 'for=notanode', 'for=_hidden:_port', '']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseForwarded(bad).ok, false));
  }
});

describe('parseXForwardedFor', () => {
  it('§7.4 transition example and ports', () => {
    const r = parseXForwardedFor('192.0.2.43, 2001:db8:cafe::17, [::1]:80, 10.0.0.1:5');
    assert.ok(r.ok);
    if (r.ok) assert.deepEqual(r.hops.map((h) => [h.for?.address, h.for?.port]), [['192.0.2.43', undefined], ['2001:db8:cafe::17', undefined], ['::1', '80'], ['10.0.0.1', '5']]);
    assert.equal(parseXForwardedFor('1.2.3.4, evil.example').ok, false);
  });
});

describe('resolveClient', () => {
  const trusted = (a: string) => a === '10.0.0.1' || a === '10.0.0.2';
  const chain = hops('for=6.6.6.6, for=192.0.2.43, for=10.0.0.2');
  it('an untrusted peer: the header is ignored', () => {
    const c = resolveClient('203.0.113.9', chain, trusted);
    assert.deepEqual(c, { node: { kind: 'ipv4', address: '203.0.113.9', port: undefined }, source: 'peer', hopIndex: undefined, trustedProxies: 0 });
  });
  it('a trusted peer: walk back past trusted hops to the first untrusted one (not the spoofed first)', () => {
    const c = resolveClient('10.0.0.1', chain, trusted);
    assert.equal(c.node.address, '192.0.2.43');
    assert.equal(c.hopIndex, 1);
    assert.equal(c.trustedProxies, 2);
  });
  it('all trusted: the first hop; a non-IP node stops the walk', () => {
    assert.equal(resolveClient('10.0.0.1', hops('for=10.0.0.2'), trusted).node.address, '10.0.0.2');
    assert.equal(resolveClient('10.0.0.1', hops('for=1.1.1.1, for=_hidden'), trusted).node.address, '_hidden');
  });
});
