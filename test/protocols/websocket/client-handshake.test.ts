import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/errors.js';
import type { Field } from '../../../src/http/request-head.js';
import { buildClientHandshakeRequest, validateClientHandshake, verifyServerHandshake } from '../../../src/protocols/websocket/handshake.js';
import { requestHead } from './wire.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function response(overrides: Record<string, string | null> = {}): Field[] {
  const base: Record<string, string> = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Accept': ACCEPT };
  return Object.entries({ ...base, ...overrides }).flatMap(([n, v]) => (v === null ? [] : [[n, v] as const]));
}

describe('buildClientHandshakeRequest', () => {
  it('writes the §1.2 request', () => {
    const request = buildClientHandshakeRequest({
      host: 'server.example.com',
      path: '/chat',
      key: KEY,
      protocols: ['chat', 'superchat'],
      origin: 'http://example.com',
      headers: [['User-Agent', 'switchyard-test']],
    });
    assert.equal(
      request,
      'GET /chat HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        'Origin: http://example.com\r\n' +
        'User-Agent: switchyard-test\r\n' +
        '\r\n',
    );
  });

  it('produces a request our own server side accepts', () => {
    const text = buildClientHandshakeRequest({ host: 'h:8080', path: '/chat?x=1', key: KEY, protocols: ['superchat'] });
    const lines = text.split('\r\n').slice(1, -2);
    const fields = lines.map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()] as const);
    const result = validateClientHandshake(requestHead({ fields, target: '/chat?x=1' }), { protocols: ['chat', 'superchat'] });
    assert.ok(result.ok && result.accept === ACCEPT && result.protocol === 'superchat');
  });

  it('refuses header injection and bad input with UsageError', () => {
    const base = { host: 'h', path: '/', key: KEY };
    assert.throws(() => buildClientHandshakeRequest({ ...base, path: 'no-slash' }), UsageError);
    assert.throws(() => buildClientHandshakeRequest({ ...base, path: '/a b' }), UsageError);
    assert.throws(() => buildClientHandshakeRequest({ ...base, host: 'h\r\nX: y' }), UsageError);
    assert.throws(() => buildClientHandshakeRequest({ ...base, key: 'short' }), UsageError);
    assert.throws(() => buildClientHandshakeRequest({ ...base, protocols: ['a', 'a'] }), UsageError);
    assert.throws(() => buildClientHandshakeRequest({ ...base, protocols: ['a,b'] }), UsageError);
    assert.throws(() => buildClientHandshakeRequest({ ...base, origin: 'http://x\r\nEvil: 1' }), UsageError);
    assert.throws(() => buildClientHandshakeRequest({ ...base, headers: [['X-Ok', 'v\nEvil: 1']] }), UsageError);
    assert.throws(() => buildClientHandshakeRequest({ ...base, headers: [['Bad Name', 'v']] }), UsageError);
    assert.throws(() => buildClientHandshakeRequest({ ...base, headers: [['sec-websocket-key', KEY]] }), UsageError);
  });
});

describe('verifyServerHandshake', () => {
  it('accepts a good 101, with or without a chosen subprotocol', () => {
    assert.deepEqual(verifyServerHandshake(101, response(), { key: KEY }), { ok: true, protocol: undefined, deflate: undefined });
    const chosen = verifyServerHandshake(101, response({ 'Sec-WebSocket-Protocol': 'chat' }), { key: KEY, protocols: ['chat', 'superchat'] });
    assert.deepEqual(chosen, { ok: true, protocol: 'chat', deflate: undefined });
    const caseInsensitive = verifyServerHandshake(101, response({ Upgrade: 'WebSocket', Connection: 'upgrade' }), { key: KEY });
    assert.ok(caseInsensitive.ok);
  });

  const failures: Array<[string, number, Field[], string]> = [
    ['a status other than 101', 200, response(), 'ERR_HANDSHAKE_STATUS'],
    ['a wrong accept value', 101, response({ 'Sec-WebSocket-Accept': 'HSmrc0sMlYUkAGmm5OPpG2HaGWk=' }), 'ERR_ACCEPT_MISMATCH'],
    ['no accept value', 101, response({ 'Sec-WebSocket-Accept': null }), 'ERR_ACCEPT_MISMATCH'],
    ['a differently-cased accept value', 101, response({ 'Sec-WebSocket-Accept': ACCEPT.toLowerCase() }), 'ERR_ACCEPT_MISMATCH'],
    ['no Upgrade', 101, response({ Upgrade: null }), 'ERR_MISSING_UPGRADE'],
    ['no Connection: upgrade', 101, response({ Connection: 'keep-alive' }), 'ERR_MISSING_CONNECTION_UPGRADE'],
    ['a subprotocol we did not offer', 101, response({ 'Sec-WebSocket-Protocol': 'mqtt' }), 'ERR_UNEXPECTED_SUBPROTOCOL'],
    ['two subprotocols', 101, response({ 'Sec-WebSocket-Protocol': 'chat, superchat' }), 'ERR_UNEXPECTED_SUBPROTOCOL'],
    ['an extension we did not offer', 101, response({ 'Sec-WebSocket-Extensions': 'permessage-deflate' }), 'ERR_UNEXPECTED_EXTENSION'],
  ];
  it('offers permessage-deflate as browsers do, and takes the parameters the server agreed (RFC 7692 §7.1)', () => {
    const request = buildClientHandshakeRequest({ host: 'h', path: '/', key: KEY, deflate: true });
    assert.match(request, /\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n/);
    const agreed = verifyServerHandshake(101, response({ 'Sec-WebSocket-Extensions': 'permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9' }), { key: KEY, deflate: true });
    assert.ok(agreed.ok);
    assert.deepEqual(agreed.deflate, { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 10, clientMaxWindowBits: 9 });
    const defaults = verifyServerHandshake(101, response({ 'Sec-WebSocket-Extensions': 'permessage-deflate' }), { key: KEY, deflate: true });
    assert.ok(defaults.ok);
    assert.deepEqual(defaults.deflate, { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 });
    const declined = verifyServerHandshake(101, response(), { key: KEY, deflate: true });
    assert.ok(declined.ok && declined.deflate === undefined);
  });

  for (const [answer, reason] of [
    ['permessage-deflate; client_max_window_bits', /needs a value in a response/],
    ['permessage-deflate; client_max_window_bits=8', /cannot compress with an 8-bit window/],
    ['permessage-deflate; server_max_window_bits=16', /8\.\.15/],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', /duplicate parameter/],
    ['permessage-deflate; mystery', /unknown parameter mystery/],
    ['permessage-deflate, permessage-deflate', /2 extensions/],
    ['x-webkit-deflate-frame', /did not offer/],
    ['permessage-deflate; =', /malformed/],
  ] as const) {
    it(`fails a permessage-deflate answer we cannot accept: ${answer}`, () => {
      const result = verifyServerHandshake(101, response({ 'Sec-WebSocket-Extensions': answer }), { key: KEY, deflate: true });
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.error.code, 'ERR_INVALID_EXTENSION_RESPONSE');
      assert.match(!result.ok ? result.error.message : '', reason);
    });
  }

  for (const [name, status, fields, code] of failures) {
    it(`fails on ${name}`, () => {
      const result = verifyServerHandshake(status, fields, { key: KEY, protocols: ['chat', 'superchat'] });
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.error.code, code);
    });
  }
});
