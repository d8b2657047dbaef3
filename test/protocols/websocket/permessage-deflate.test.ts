/**
 * permessage-deflate on the wire (RFC 7692 §6-7.2): the RFC's own byte examples (§7.2.3) decoded every
 * way the split rule asks and produced byte for byte, context takeover kept and reset exactly as agreed,
 * the RSV1 rules, and inflation capped while it runs. The frames come from the independent builder in
 * wire.ts; compressed payloads that are not the RFC's come from node:zlib directly, not from the codec.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import type { DeflateParams } from '../../../src/protocols/websocket/deflate-negotiation.js';
import { PerMessageDeflate, type DeflateSetup } from '../../../src/protocols/websocket/permessage-deflate.js';
import { WebSocketProtocol } from '../../../src/protocols/websocket/protocol.js';
import { MASK, concat, frame, hex, run, splitPlan, summarize, toHex, utf8 } from './wire.js';

const TAKEOVER: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const setup = (params: Partial<DeflateParams> = {}, thresholdBytes = 0, maxBytes = 1 << 20): DeflateSetup => ({ params: { ...TAKEOVER, ...params }, level: 6, memLevel: 8, thresholdBytes, maxBytes });
const TEXT = 1;
const BINARY = 2;
const CONT = 0;
const PING = 9;

/** All three ways of the split rule, one outcome. */
function assertAllWays(wire: Uint8Array, expected: unknown[], options: ConstructorParameters<typeof WebSocketProtocol>[0]): void {
  for (const { label, chunks } of splitPlan(wire)) assert.deepEqual(summarize(run(chunks, options)), expected, label);
}

/** A compressed payload as RFC 7692 §7.2.1 says a sender makes it, straight from node:zlib. */
function deflated(data: Uint8Array, dictionary?: Uint8Array): Uint8Array {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) });
  return out.subarray(0, out.length - 4);
}

describe('RFC 7692 §7.2.3: the examples, received (a client reads the server\'s unmasked frames)', () => {
  const client = { role: 'client', deflate: setup() } as const;

  it('§7.2.3.1 "Hello" compressed in one frame, and the same fragmented in two', () => {
    assertAllWays(hex('c1 07 f2 48 cd c9 c9 07 00'), [{ type: 'text', text: 'Hello' }], client);
    // RSV1 on the first fragment only; the continuation carries the rest of the compressed bytes.
    assertAllWays(hex('41 03 f2 48 cd 80 04 c9 c9 07 00'), [{ type: 'text', text: 'Hello' }], client);
  });

  it('§7.2.3.2 the second "Hello" refers back into the first: context takeover', () => {
    const both = hex('c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00');
    assertAllWays(both, [{ type: 'text', text: 'Hello' }, { type: 'text', text: 'Hello' }], client);
    // With server_no_context_takeover agreed, the second message cannot refer back: invalid data, 1007.
    const reset = { role: 'client', deflate: setup({ serverNoContextTakeover: true }) } as const;
    assert.deepEqual(summarize(run([both], reset)), [
      { type: 'text', text: 'Hello' },
      { type: 'error', code: 'ERR_INVALID_COMPRESSED_DATA', closeCode: 1007 },
    ]);
  });

  it('§7.2.3.3 a DEFLATE block with no compression, §7.2.3.4 one with BFINAL set, §7.2.3.5 two blocks', () => {
    assertAllWays(hex('c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00'), [{ type: 'text', text: 'Hello' }], client);
    assertAllWays(hex('c1 08 f3 48 cd c9 c9 07 00 00'), [{ type: 'text', text: 'Hello' }], client);
    assertAllWays(hex('c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00'), [{ type: 'text', text: 'Hello' }], client);
  });

  it('§7.2.3.6 an empty message: compressed, it is a single 0x00 or nothing at all', () => {
    assertAllWays(hex('c1 01 00'), [{ type: 'text', text: '' }], client);
    assertAllWays(hex('c1 00'), [{ type: 'text', text: '' }], client);
  });
});

describe('RFC 7692 §7.2.3: the examples, sent byte for byte', () => {
  it('"Hello", then "Hello" again with context takeover, then without', () => {
    const server = new WebSocketProtocol({ role: 'server', deflate: setup() });
    assert.equal(toHex(concat(...server.sendText('Hello'))), 'c107f248cdc9c90700');
    assert.equal(toHex(concat(...server.sendText('Hello'))), 'c105f200110000');
    const forgetful = new WebSocketProtocol({ role: 'server', deflate: setup({ serverNoContextTakeover: true }) });
    assert.equal(toHex(concat(...forgetful.sendText('Hello'))), 'c107f248cdc9c90700');
    assert.equal(toHex(concat(...forgetful.sendText('Hello'))), 'c107f248cdc9c90700', 'server_no_context_takeover: a fresh window per message');
  });

  it('a client masks the compressed payload; below the threshold a message goes out uncompressed (RSV1 clear)', () => {
    const key = hex('37 fa 21 3d');
    const client = new WebSocketProtocol({ role: 'client', deflate: setup({}, 6), randomMask: () => key });
    const short = concat(...client.sendText('Hello'));
    assert.equal(toHex(short), toHex(frame({ opcode: TEXT, payload: utf8('Hello'), mask: key })), 'under 6 bytes: plain §5.7 frame');
    const long = concat(...client.sendText('Hello!'));
    assert.equal(long[0], 0xc1, 'FIN, RSV1, text');
    assert.equal(toHex(long), toHex(frame({ opcode: TEXT, rsv: 4, payload: deflated(utf8('Hello!')), mask: key })));
    // Control frames are never compressed (§6.1), however long.
    assert.equal(client.ping(new Uint8Array(100).fill(1))[0]![0], 0x89);
  });

  it('round trip in both roles, 16 B to 128 KiB, compressible and random, with and without takeover', () => {
    for (const params of [TAKEOVER, { ...TAKEOVER, serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10 }]) {
      const server = new WebSocketProtocol({ role: 'server', deflate: setup(params, 64) });
      const client = new WebSocketProtocol({ role: 'client', deflate: setup(params, 64) });
      for (const size of [16, 100, 1024, 65536, 131072]) {
        for (const payload of [utf8('{"id":1,"name":"lab"} '.repeat(Math.ceil(size / 22))).subarray(0, size), randomBytes(size)]) {
          const toServer = run([concat(...client.sendBinary(payload))], { role: 'server' }, { protocol: server });
          assert.deepEqual(summarize(toServer), [{ type: 'binary', hex: toHex(payload) }], `client → server ${size}`);
          const toClient = run([concat(...server.sendBinary(payload))], { role: 'client' }, { protocol: client });
          assert.deepEqual(summarize(toClient), [{ type: 'binary', hex: toHex(payload) }], `server → client ${size}`);
        }
      }
    }
  });
});

describe('what is worth compressing', () => {
  it('a large message whose start does not deflate goes out uncompressed, and stays out of the window', () => {
    const server = new WebSocketProtocol({ role: 'server', deflate: setup({}, 64) });
    const client = new WebSocketProtocol({ role: 'client', deflate: setup({}, 64) });
    const random = randomBytes(64 * 1024);
    const frames = concat(...server.sendBinary(random));
    assert.equal(frames[0], 0x82, 'FIN, RSV1 clear, binary: sent as it is');
    assert.equal(server.lastMessageCompressed, false);
    assert.deepEqual(summarize(run([frames], { role: 'client' }, { protocol: client })), [{ type: 'binary', hex: toHex(random) }]);
    // Compressible data is still compressed, and both windows agree afterwards (the random one is in neither).
    const json = utf8('{"id":1,"name":"lab"} '.repeat(3000));
    const packed = concat(...server.sendBinary(json));
    assert.equal(packed[0], 0xc2, 'FIN, RSV1, binary');
    assert.ok(packed.length < json.length / 10);
    assert.deepEqual(summarize(run([packed], { role: 'client' }, { protocol: client })), [{ type: 'binary', hex: toHex(json) }]);
    const again = concat(...server.sendText('{"id":1,"name":"lab"} '.repeat(10)));
    assert.deepEqual(summarize(run([again], { role: 'client' }, { protocol: client })), [{ type: 'text', text: '{"id":1,"name":"lab"} '.repeat(10) }]);
  });
});

describe('what compression costs the rest of the process', () => {
  it('a message over maxBytes goes out uncompressed: no zlib call holds the event loop for long', () => {
    const server = new WebSocketProtocol({ role: 'server', deflate: setup({}, 64, 1 << 20) });
    const big = new Uint8Array((1 << 20) + 1).fill(0x61);
    assert.equal(concat(...server.sendBinary(big))[0], 0x82, 'over 1 MiB: RSV1 clear');
    assert.equal(concat(...server.sendBinary(big.subarray(1)))[0], 0xc2, 'exactly 1 MiB: compressed');
  });

  it('a small inflated message owns its memory (not a slice of zlib\'s 16 KiB output chunk)', () => {
    const codec = new PerMessageDeflate(setup(), 'server');
    const out = codec.decompress(deflated(utf8('small message')), 1000) as Uint8Array;
    assert.equal(Buffer.from(out).toString(), 'small message');
    assert.ok(out.buffer.byteLength <= 8192, `backed by ${out.buffer.byteLength} bytes`);
  });
});

describe('RSV1 rules (RFC 7692 §6, RFC 6455 §5.2)', () => {
  const server = { role: 'server', deflate: setup() } as const;
  const c = (spec: Parameters<typeof frame>[0]) => frame({ mask: MASK, ...spec });

  it('RSV1 on a continuation frame, on a ping, or RSV2 with the extension: 1002', () => {
    assertAllWays(concat(c({ opcode: TEXT, rsv: 4, fin: false, payload: hex('f2 48') }), c({ opcode: CONT, rsv: 4, payload: hex('cd c9 c9 07 00') })),
      [{ type: 'error', code: 'ERR_MISPLACED_RSV1', closeCode: 1002 }], server);
    assertAllWays(c({ opcode: PING, rsv: 4 }), [{ type: 'error', code: 'ERR_MISPLACED_RSV1', closeCode: 1002 }], server);
    assertAllWays(c({ opcode: TEXT, rsv: 2, payload: utf8('x') }), [{ type: 'error', code: 'ERR_RESERVED_BITS', closeCode: 1002 }], server);
  });

  it('RSV1 without the extension stays a 1002; an uncompressed message with the extension is fine', () => {
    assertAllWays(c({ opcode: TEXT, rsv: 4, payload: deflated(utf8('Hello')) }), [{ type: 'error', code: 'ERR_RESERVED_BITS', closeCode: 1002 }], { role: 'server' });
    assertAllWays(c({ opcode: TEXT, payload: utf8('plain') }), [{ type: 'text', text: 'plain' }], server);
  });

  it('a control frame between the fragments of a compressed message is answered in place', () => {
    const body = deflated(utf8('fragmented and compressed'));
    const wire = concat(c({ opcode: BINARY, rsv: 4, fin: false, payload: body.subarray(0, 5) }), c({ opcode: PING, payload: utf8('p') }), c({ opcode: CONT, payload: body.subarray(5) }));
    assertAllWays(wire, [{ type: 'ping', hex: '70' }, { type: 'binary', hex: toHex(utf8('fragmented and compressed')) }], server);
  });
});

describe('inflation: checked and capped while it runs', () => {
  it('invalid compressed data is 1007, and so is a compressed text that inflates to invalid UTF-8', () => {
    const server = { role: 'server', deflate: setup() } as const;
    assertAllWays(frame({ opcode: TEXT, rsv: 4, mask: MASK, payload: hex('ff ff ff ff') }), [{ type: 'error', code: 'ERR_INVALID_COMPRESSED_DATA', closeCode: 1007 }], server);
    assertAllWays(frame({ opcode: TEXT, rsv: 4, mask: MASK, payload: deflated(hex('48 c3 28 6c')) }), [{ type: 'error', code: 'ERR_INVALID_UTF8', closeCode: 1007 }], server);
  });

  it('a message that inflates past the limit is a 1009, and no more than the limit is ever produced', () => {
    // 16 KiB of compressed zeros inflate to 16 MiB; the limit is 1 MiB.
    const bomb = deflated(new Uint8Array(16 << 20));
    const codec = new PerMessageDeflate(setup(), 'server');
    const refused = codec.decompress(bomb, 1 << 20);
    assert.ok(refused instanceof Error && refused.closeCode === 1009, String(refused));
    const server = { role: 'server', maxMessageBytes: 1 << 20, deflate: setup() } as const;
    assert.deepEqual(summarize(run([frame({ opcode: BINARY, rsv: 4, mask: MASK, payload: bomb })], server)), [{ type: 'error', code: 'ERR_MESSAGE_TOO_BIG', closeCode: 1009 }]);
    // Exactly at the limit is fine (the limit is inclusive, like the uncompressed one).
    const atLimit = deflated(new Uint8Array(1 << 20));
    const events = run([frame({ opcode: BINARY, rsv: 4, mask: MASK, payload: atLimit })], server);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type === 'binary' && events[0].data.length, 1 << 20);
  });

  it('a connection keeps no zlib state between messages, only its windows (2^bits bytes per direction used)', () => {
    const codec = new PerMessageDeflate(setup({ serverMaxWindowBits: 12, clientMaxWindowBits: 10 }), 'server');
    assert.equal(codec.retainedBytes, 0, 'nothing before the first message');
    codec.compress(utf8('x'.repeat(100)));
    assert.equal(codec.retainedBytes, 4096);
    codec.decompress(deflated(utf8('y'.repeat(100))), 1000);
    assert.equal(codec.retainedBytes, 4096 + 1024);
    const none = new PerMessageDeflate(setup({ serverNoContextTakeover: true, clientNoContextTakeover: true }), 'server');
    none.compress(utf8('x'.repeat(100)));
    none.decompress(deflated(utf8('y'.repeat(100))), 1000);
    assert.equal(none.retainedBytes, 0, 'no context takeover either way: nothing kept at all');
  });

  it('the window kept is the last 2^bits bytes across many small messages (the peer\'s view of it)', () => {
    // The client compresses with a real zlib stream's semantics (a dictionary of everything it sent so
    // far, at most 1024 bytes back); our side must inflate each with the same window.
    const server = new PerMessageDeflate(setup({ clientMaxWindowBits: 10 }), 'server');
    let sent: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 60; i++) {
      const message = utf8(`message ${i} ${'abcdefghij'.repeat(i % 7)} ${i * 7919}`);
      const dictionary = sent.length > 1024 ? sent.subarray(sent.length - 1024) : sent;
      const compressed = deflateRawSync(message, { windowBits: 10, finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary.length ? { dictionary } : {}) });
      const inflated = server.decompress(compressed.subarray(0, compressed.length - 4), 1 << 20);
      assert.equal(Buffer.from(inflated as Uint8Array).toString(), Buffer.from(message).toString(), `message ${i}`);
      sent = concat(sent, message);
    }
  });
});
