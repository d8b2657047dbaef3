import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/errors.js';
import { computeAcceptKey, generateClientKey, isValidClientKey } from '../../../src/protocols/websocket/accept-key.js';
import { parseExtensions } from '../../../src/protocols/websocket/handshake-fields.js';
import { validateClientHandshake, type HandshakeResult } from '../../../src/protocols/websocket/handshake.js';
import { requestHead, rfcHandshakeFields, type HeadSpec } from './wire.js';

const validate = (spec: HeadSpec, options: Parameters<typeof validateClientHandshake>[1] = {}): HandshakeResult =>
  validateClientHandshake(requestHead(spec), options);

function refusal(result: HandshakeResult): { code: string; status: number; headers: unknown } {
  assert.equal(result.ok, false);
  if (result.ok) throw new Error('unreachable');
  return { code: result.error.code, status: result.error.status, headers: result.error.headers };
}

describe('computeAcceptKey (§4.2.2)', () => {
  it('matches the RFC examples byte for byte', () => {
    assert.equal(computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.equal(computeAcceptKey('x3JJHMbDL1EzLkh9GBhXDw=='), 'HSmrc0sMlYUkAGmm5OPpG2HaGWk=');
  });
});

describe('client keys', () => {
  it('accepts only canonical base64 of exactly 16 bytes', () => {
    assert.ok(isValidClientKey('x3JJHMbDL1EzLkh9GBhXDw=='));
    assert.ok(isValidClientKey('dGhlIHNhbXBsZSBub25jZQ=='));
    assert.equal(isValidClientKey(Buffer.alloc(15).toString('base64')), false); // 20 chars
    assert.equal(isValidClientKey(Buffer.alloc(17).toString('base64')), false); // 24 chars, one '='
    assert.equal(isValidClientKey('x3JJHMbDL1EzLkh9GBhXDw='), false);
    assert.equal(isValidClientKey('x3JJHMbDL1EzLkh9GBhXD==='), false);
    assert.equal(isValidClientKey('x3JJHMbDL1EzLkh9GBhX!w=='), false);
    assert.equal(isValidClientKey('x3JJHMbDL1EzLkh9GBhXDx=='), false); // non-zero padding bits
    assert.equal(isValidClientKey(' x3JJHMbDL1EzLkh9GBhXDw=='), false);
  });

  it('generates a key from the injected random source', () => {
    const key = generateClientKey(() => new Uint8Array(16).fill(0xab));
    assert.equal(key, Buffer.alloc(16, 0xab).toString('base64'));
    assert.ok(isValidClientKey(generateClientKey()));
    assert.throws(() => generateClientKey(() => new Uint8Array(8)), UsageError);
  });
});

describe('validateClientHandshake', () => {
  it('accepts the RFC example: accept value, subprotocol by server preference, response headers', () => {
    const result = validate({ fields: rfcHandshakeFields() }, { protocols: ['chat', 'superchat'] });
    assert.ok(result.ok);
    assert.equal(result.accept, 'HSmrc0sMlYUkAGmm5OPpG2HaGWk=');
    assert.equal(result.protocol, 'chat');
    assert.deepEqual(result.extensionOffers, []);
    assert.deepEqual(result.responseHeaders, [
      ['Sec-WebSocket-Accept', 'HSmrc0sMlYUkAGmm5OPpG2HaGWk='],
      ['Sec-WebSocket-Protocol', 'chat'],
    ]);
  });

  it("picks the server's first preference the client offered, across several field lines", () => {
    const fields = rfcHandshakeFields({ 'Sec-WebSocket-Protocol': 'v1.json, ,chat' });
    fields.push(['Sec-WebSocket-Protocol', 'superchat']);
    const result = validate({ fields }, { protocols: ['superchat', 'chat'] });
    assert.ok(result.ok && result.protocol === 'superchat');
  });

  it('without agreement: no Sec-WebSocket-Protocol, or 400 ERR_NO_SUBPROTOCOL when required', () => {
    const plain = validate({ fields: rfcHandshakeFields() }, { protocols: ['mqtt'] });
    assert.ok(plain.ok && plain.protocol === undefined);
    assert.deepEqual(plain.responseHeaders.map(([name]) => name), ['Sec-WebSocket-Accept']);
    const none = validate({ fields: rfcHandshakeFields({ 'Sec-WebSocket-Protocol': null }) }, { protocols: ['chat'] });
    assert.ok(none.ok && none.protocol === undefined);
    const required = validate({ fields: rfcHandshakeFields() }, { protocols: ['mqtt'], requireProtocol: true });
    assert.deepEqual(refusal(required), { code: 'ERR_NO_SUBPROTOCOL', status: 400, headers: [] });
  });

  it('refuses subprotocol elements that are not tokens', () => {
    for (const bad of ['chat, sup/erchat', 'a b', 'chat, "quoted"']) {
      const result = validate({ fields: rfcHandshakeFields({ 'Sec-WebSocket-Protocol': bad }) }, { protocols: ['chat'] });
      assert.equal(refusal(result).code, 'ERR_INVALID_SUBPROTOCOL', bad);
    }
  });

  it('refuses a version other than 13 with 426 and Sec-WebSocket-Version: 13 (§4.4)', () => {
    for (const version of ['8', '12', '13, 8', '', null]) {
      const result = validate({ fields: rfcHandshakeFields({ 'Sec-WebSocket-Version': version }) });
      assert.deepEqual(refusal(result), {
        code: 'ERR_UNSUPPORTED_VERSION',
        status: 426,
        headers: [
          ['Sec-WebSocket-Version', '13'],
          ['Upgrade', 'websocket'],
        ],
      }, `version ${String(version)}`);
    }
  });

  it('refuses bad keys with 400', () => {
    const badKeys = [
      Buffer.alloc(15, 1).toString('base64'),
      Buffer.alloc(17, 1).toString('base64'),
      'not base64 at all!!!!!!!',
      '',
      null,
    ];
    for (const key of badKeys) {
      const result = validate({ fields: rfcHandshakeFields({ 'Sec-WebSocket-Key': key }) });
      assert.deepEqual(refusal(result), { code: 'ERR_INVALID_KEY', status: 400, headers: [] }, `key ${String(key)}`);
    }
    const twice = rfcHandshakeFields();
    twice.push(['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==']);
    assert.equal(refusal(validate({ fields: twice })).code, 'ERR_INVALID_KEY');
  });

  it('requires Upgrade: websocket and Connection: upgrade, case-insensitively, in list syntax', () => {
    assert.equal(refusal(validate({ fields: rfcHandshakeFields({ Upgrade: null }) })).code, 'ERR_MISSING_UPGRADE');
    assert.equal(refusal(validate({ fields: rfcHandshakeFields({ Upgrade: 'h2c' }) })).code, 'ERR_MISSING_UPGRADE');
    assert.equal(refusal(validate({ fields: rfcHandshakeFields({ Connection: null }) })).code, 'ERR_MISSING_CONNECTION_UPGRADE');
    assert.equal(refusal(validate({ fields: rfcHandshakeFields({ Connection: 'keep-alive' }) })).code, 'ERR_MISSING_CONNECTION_UPGRADE');
    const lenient = validate({ fields: rfcHandshakeFields({ Upgrade: 'foo/2, WebSocket', Connection: 'keep-alive, UPGRADE' }) });
    assert.ok(lenient.ok);
  });

  it('requires GET (405 with Allow), HTTP/1.1 and a Host', () => {
    assert.deepEqual(refusal(validate({ method: 'POST', fields: rfcHandshakeFields() })), {
      code: 'ERR_METHOD_NOT_ALLOWED',
      status: 405,
      headers: [['Allow', 'GET']],
    });
    assert.equal(refusal(validate({ version: '1.0', fields: rfcHandshakeFields() })).status, 400);
    assert.equal(refusal(validate({ fields: rfcHandshakeFields({ Host: null }) })).code, 'ERR_MISSING_HOST');
  });

  it('applies the Origin policy with 403', () => {
    const fields = rfcHandshakeFields();
    assert.ok(validate({ fields }, { allowedOrigins: ['http://EXAMPLE.com'] }).ok);
    assert.deepEqual(refusal(validate({ fields }, { allowedOrigins: ['https://example.com'] })), {
      code: 'ERR_ORIGIN_FORBIDDEN',
      status: 403,
      headers: [],
    });
    assert.ok(validate({ fields }, { allowedOrigins: (origin) => origin === 'http://example.com' }).ok);
    assert.equal(refusal(validate({ fields }, { allowedOrigins: () => false })).status, 403);
    // No Origin (not a browser): a list lets it through, a predicate decides.
    const noOrigin = rfcHandshakeFields({ Origin: null });
    assert.ok(validate({ fields: noOrigin }, { allowedOrigins: ['https://example.com'] }).ok);
    assert.equal(refusal(validate({ fields: noOrigin }, { allowedOrigins: (o) => o !== undefined })).status, 403);
  });

  it('parses extension offers and accepts none of them', () => {
    const fields = rfcHandshakeFields({ 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits, x-foo;a=1; b="two"' });
    const result = validate({ fields });
    assert.ok(result.ok);
    assert.deepEqual(result.extensionOffers, [
      { name: 'permessage-deflate', params: [['client_max_window_bits', undefined]] },
      { name: 'x-foo', params: [['a', '1'], ['b', 'two']] },
    ]);
    assert.ok(!result.responseHeaders.some(([name]) => name.toLowerCase() === 'sec-websocket-extensions'));
    const bad = rfcHandshakeFields({ 'Sec-WebSocket-Extensions': 'permessage-deflate; =1' });
    assert.equal(refusal(validate({ fields: bad })).code, 'ERR_INVALID_EXTENSIONS');
  });

  it('with a deflate policy, answers the first acceptable permessage-deflate offer with exactly the agreed parameters (RFC 7692 §5)', () => {
    const policy = { serverMaxWindowBits: 12, clientMaxWindowBits: 12, serverNoContextTakeover: false, clientNoContextTakeover: false };
    const fields = rfcHandshakeFields({ 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits' });
    const result = validate({ fields }, { deflate: policy });
    assert.ok(result.ok);
    assert.deepEqual(result.responseHeaders.at(-1), ['Sec-WebSocket-Extensions', 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12']);
    assert.deepEqual(result.deflate, { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 12, clientMaxWindowBits: 12 });
    // Every offer declined: the handshake still succeeds, without the extension, and says why.
    const none = validate({ fields: rfcHandshakeFields({ 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=8, permessage-deflate; foo' }) }, { deflate: policy });
    assert.ok(none.ok);
    assert.equal(none.deflate, undefined);
    assert.ok(!none.responseHeaders.some(([name]) => name === 'Sec-WebSocket-Extensions'));
    assert.deepEqual(none.declinedOffers.map((d) => d.reason), ['server_max_window_bits=8: zlib cannot compress with an 8-bit window', 'unknown parameter foo']);
    // Without a policy (the extension is off), an acceptable offer is declined too.
    const off = validate({ fields }, {});
    assert.ok(off.ok && off.deflate === undefined);
  });

  it('refuses a misconfigured server protocol list with UsageError', () => {
    assert.throws(() => validate({ fields: rfcHandshakeFields() }, { protocols: ['not a token'] }), UsageError);
  });
});

describe('parseExtensions (§9.1)', () => {
  it('parses lists over several lines, quoted values, whitespace and empty elements', () => {
    assert.deepEqual(parseExtensions(['foo', 'bar ; x = "a\\b" ,, baz;y']), [
      { name: 'foo', params: [] },
      { name: 'bar', params: [['x', 'ab']] },
      { name: 'baz', params: [['y', undefined]] },
    ]);
    assert.deepEqual(parseExtensions([]), []);
  });

  it('refuses broken syntax', () => {
    for (const bad of ['foo;', 'foo bar', 'foo; x="a b"', 'foo; x="unterminated', 'foo; x=', '"foo"', 'foo; x="a,b"', ';x']) {
      assert.equal(parseExtensions([bad]), undefined, bad);
    }
  });
});
