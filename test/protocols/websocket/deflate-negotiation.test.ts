import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { negotiateDeflate, type DeflatePolicy } from '../../../src/protocols/websocket/deflate-negotiation.js';
import { parseExtensions } from '../../../src/protocols/websocket/handshake-fields.js';

const GENEROUS: DeflatePolicy = { serverMaxWindowBits: 15, clientMaxWindowBits: 15, serverNoContextTakeover: false, clientNoContextTakeover: false };
const offers = (...lines: string[]) => parseExtensions(lines)!;
const answer = (policy: DeflatePolicy, ...lines: string[]) => {
  const result = negotiateDeflate(offers(...lines), policy);
  return result.kind === 'accepted' ? result.response : `none: ${result.declined.map((d) => `#${d.offer} ${d.reason}`).join('; ')}`;
};

describe('negotiateDeflate (RFC 7692 §5-7, server role)', () => {
  it("a browser's offer, accepted as it is", () => {
    assert.equal(answer(GENEROUS, 'permessage-deflate; client_max_window_bits'), 'permessage-deflate');
  });

  it('the server shrinks its own window unasked (§7.1.2.1), the client only when it offered client_max_window_bits (§7.1.2.2)', () => {
    const small: DeflatePolicy = { ...GENEROUS, serverMaxWindowBits: 12, clientMaxWindowBits: 12 };
    assert.equal(answer(small, 'permessage-deflate; client_max_window_bits'), 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    assert.equal(answer(small, 'permessage-deflate'), 'permessage-deflate; server_max_window_bits=12');
    assert.equal(answer(small, 'permessage-deflate; client_max_window_bits=10'), 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=10');
    assert.equal(answer(GENEROUS, 'permessage-deflate; server_max_window_bits=10'), 'permessage-deflate; server_max_window_bits=10');
  });

  it('context takeover: what the client asks is granted, what the policy asks is added (§7.1.1)', () => {
    assert.equal(answer(GENEROUS, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    assert.equal(answer({ ...GENEROUS, clientNoContextTakeover: true }, 'permessage-deflate'), 'permessage-deflate; client_no_context_takeover');
  });

  it('an invalid or duplicate parameter declines that offer only; the first acceptable one wins, across header lines', () => {
    assert.equal(answer(GENEROUS, 'permessage-deflate; server_max_window_bits=16, permessage-deflate; server_no_context_takeover'),
      'permessage-deflate; server_no_context_takeover');
    assert.equal(answer(GENEROUS, 'permessage-deflate; foo', 'permessage-deflate; client_max_window_bits=9'), 'permessage-deflate; client_max_window_bits=9');
    for (const [line, reason] of [
      ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', /duplicate parameter server_no_context_takeover/],
      ['permessage-deflate; server_max_window_bits', /8\.\.15, got no value/],
      ['permessage-deflate; server_max_window_bits=08', /8\.\.15/],
      ['permessage-deflate; client_max_window_bits=7', /8\.\.15/],
      ['permessage-deflate; client_no_context_takeover=1', /takes no value/],
      ['permessage-deflate; x', /unknown parameter x/],
    ] as const) {
      assert.match(answer(GENEROUS, line), reason, line);
      assert.match(answer(GENEROUS, line), /^none: #0 /, line);
    }
  });

  it('other extensions are skipped, not declined; no offer at all is none', () => {
    assert.equal(answer(GENEROUS, 'x-webkit-deflate-frame, permessage-deflate'), 'permessage-deflate');
    assert.equal(answer(GENEROUS, 'x-webkit-deflate-frame'), 'none: ');
    const agreed = negotiateDeflate(offers('permessage-deflate; client_max_window_bits=11; server_no_context_takeover'), GENEROUS);
    assert.deepEqual(agreed, {
      kind: 'accepted', offer: 0, response: 'permessage-deflate; server_no_context_takeover; client_max_window_bits=11',
      params: { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 11 },
    });
  });
});
