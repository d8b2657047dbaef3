import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAddressBytes, parseIpv6, parseTrustedProxies, TrustProxyError } from '../../src/accept-loop/trusted-proxies.js';

describe('parseTrustedProxies', () => {
  const t = parseTrustedProxies('127.0.0.1, 10.0.0.0/8,2001:db8::/32,::1');
  it('bare addresses are /32 and /128; CIDRs match their range only', () => {
    assert.ok(t.isTrusted('127.0.0.1'));
    assert.ok(!t.isTrusted('127.0.0.2'));
    assert.ok(t.isTrusted('10.255.1.2'));
    assert.ok(!t.isTrusted('11.0.0.1'));
    assert.ok(t.isTrusted('2001:db8:ffff::1'));
    assert.ok(!t.isTrusted('2001:db9::1'));
    assert.ok(t.isTrusted('::1'));
    assert.ok(!t.isTrusted('::2'));
  });
  it('an IPv4-mapped peer matches an IPv4 rule', () => {
    assert.ok(t.isTrusted('::ffff:10.0.0.1'));
    assert.ok(!t.isTrusted('::ffff:11.0.0.1'));
    assert.ok(parseTrustedProxies('::ffff:10.0.0.0/104').isTrusted('10.1.2.3'));
  });
  it('non-addresses are never trusted', () => {
    for (const a of ['', '?', 'localhost', '10.0.0', 'fe80::1::2']) assert.ok(!t.isTrusted(a), a);
  });
  it('/0 trusts its whole family only', () => {
    const all4 = parseTrustedProxies('0.0.0.0/0');
    assert.ok(all4.isTrusted('8.8.8.8'));
    assert.ok(!all4.isTrusted('2001:db8::1'));
  });
  for (const bad of ['', '1.2.3.4,,5.6.7.8', '1.2.3', '1.2.3.4/33', '1.2.3.4/08', '::1/129', '10.0.0.1/8', 'example.com', 'fe80::1%eth0']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseTrustedProxies(bad), (e: unknown) => e instanceof TrustProxyError && e.code === 'ERR_BAD_TRUST_PROXY');
    });
  }
});

describe('IPv6 text', () => {
  for (const [input, canonical] of [['2001:DB8:0:0:0:0:0:1', '2001:db8::1'], ['::', '::'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1']] as const) {
    it(`${input} → ${canonical} (RFC 5952)`, () => assert.equal(formatAddressBytes(parseIpv6(input)!), canonical));
  }
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', '1.2.3.4::', ':1:2', '12345::', '1:2:3:4:5:6:7']) {
    it(`rejects ${bad}`, () => assert.equal(parseIpv6(bad), undefined));
  }
});
