import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIELD_VALUE_CHAR, isToken, parseHost, parseList, TCHAR } from '../../src/http/grammar.js';

describe('grammar', () => {
  it('TCHAR is exactly the RFC 9110 §5.6.2 set', () => {
    const expected = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (let c = 0; c < 256; c++) assert.equal(TCHAR[c] === 1, expected.includes(String.fromCharCode(c)), `0x${c.toString(16)}`);
  });

  it('FIELD_VALUE_CHAR allows VCHAR, obs-text, SP, HTAB and no other control', () => {
    for (let c = 0; c < 256; c++) {
      const allowed = c === 0x09 || c === 0x20 || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
      assert.equal(FIELD_VALUE_CHAR[c] === 1, allowed, `0x${c.toString(16)}`);
    }
  });

  it('isToken', () => {
    assert.equal(isToken('websocket'), true);
    assert.equal(isToken("a!#$%&'*+-.^_`|~9"), true);
    assert.equal(isToken(''), false);
    assert.equal(isToken('a b'), false);
    assert.equal(isToken('a/b'), false);
    assert.equal(isToken('caf\xe9'), false);
  });

  it('parseList ignores empty elements and trims OWS (RFC 9110 §5.6.1)', () => {
    assert.deepEqual(parseList('a, b ,\tc'), ['a', 'b', 'c']);
    assert.deepEqual(parseList(', ,a,,b,'), ['a', 'b']);
    assert.deepEqual(parseList(''), []);
    assert.deepEqual(parseList(' , '), []);
    assert.deepEqual(parseList('one'), ['one']);
  });

  it('parseHost accepts reg-name, IPv4, [IPv6], [IPvFuture], with an optional port', () => {
    assert.deepEqual(parseHost('example.com'), { hostname: 'example.com', kind: 'reg-name', port: undefined });
    assert.deepEqual(parseHost('example.com:8080'), { hostname: 'example.com', kind: 'reg-name', port: 8080 });
    assert.deepEqual(parseHost('10.0.0.1:80'), { hostname: '10.0.0.1', kind: 'ipv4', port: 80 });
    assert.deepEqual(parseHost('[::1]:443'), { hostname: '[::1]', kind: 'ipv6', port: 443 });
    assert.deepEqual(parseHost('[v1.x:y]'), { hostname: '[v1.x:y]', kind: 'ipvfuture', port: undefined });
    assert.deepEqual(parseHost('h:'), { hostname: 'h', kind: 'reg-name', port: undefined });
    assert.deepEqual(parseHost(''), { hostname: '', kind: 'reg-name', port: undefined });
    assert.equal(parseHost('h:65535')?.port, 65535);
    assert.equal(parseHost('h%41')?.hostname, 'h%41');
    assert.equal(parseHost('a,b')?.kind, 'reg-name', 'sub-delims are allowed in a reg-name');
    // Dotted numbers that are not an IPv4address are a (valid) reg-name, RFC 3986 §3.2.2.
    assert.equal(parseHost('256.1.1.1')?.kind, 'reg-name');
    assert.equal(parseHost('01.1.1.1')?.kind, 'reg-name');
    for (const ipv6 of ['::', '1::', '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', 'fe80::abcd:1']) {
      assert.equal(parseHost(`[${ipv6}]`)?.kind, 'ipv6', ipv6);
    }
  });

  it('parseHost rejects what is not uri-host [":" port]', () => {
    for (const bad of [
      'a b', 'h:65536', 'h:8o', 'h:-1', 'u@h', 'h/x', '[::1', '::1', '[::1]x', '[1::2::3]', '[1:2:3:4:5:6:7:8:9]',
      '[1:2:3:4:5:6:7]', '[12345::]', '[:1]', '[1:]', '[::1.2.3]', '[v.x]', '[vg.x]', 'h%4', 'h%zz', 'a, b', 'h:80:80',
      'caf\xe9',
    ]) {
      assert.equal(parseHost(bad), undefined, bad);
    }
  });
});
