import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/errors.js';
import {
  FrameDecoder,
  Opcode,
  SINGLE_BUFFER_MAX_PAYLOAD_BYTES,
  encodeFrame,
  type Role,
} from '../../../src/protocols/websocket/frame-codec.js';
import { splits } from '../../helpers/split.js';
import { MASK, concat, decode, frame, hex, pattern, splitPlan, toHex, utf8 } from './wire.js';

/** Who receives a frame: masked frames go client → server, unmasked ones server → client (§5.1). */
const receiverOf = (masked: boolean): Role => (masked ? 'server' : 'client');

describe('RFC 6455 §5.7 examples', () => {
  const examples: Array<{ name: string; wire: string; role: Role; frames: Array<{ fin: boolean; opcode: number; payload: string }> }> = [
    { name: 'single-frame unmasked text', wire: '81 05 48 65 6c 6c 6f', role: 'client', frames: [{ fin: true, opcode: 1, payload: 'Hello' }] },
    { name: 'single-frame masked text', wire: '81 85 37 fa 21 3d 7f 9f 4d 51 58', role: 'server', frames: [{ fin: true, opcode: 1, payload: 'Hello' }] },
    {
      name: 'fragmented unmasked text',
      wire: '01 03 48 65 6c 80 02 6c 6f',
      role: 'client',
      frames: [
        { fin: false, opcode: 1, payload: 'Hel' },
        { fin: true, opcode: 0, payload: 'lo' },
      ],
    },
    { name: 'unmasked ping', wire: '89 05 48 65 6c 6c 6f', role: 'client', frames: [{ fin: true, opcode: 9, payload: 'Hello' }] },
    { name: 'masked pong', wire: '8a 85 37 fa 21 3d 7f 9f 4d 51 58', role: 'server', frames: [{ fin: true, opcode: 10, payload: 'Hello' }] },
  ];
  for (const example of examples) {
    it(`decodes the ${example.name} whole, split at every offset, byte by byte, and with a frame after it`, () => {
      const wire = hex(example.wire);
      const expected = example.frames.map((f) => ({ fin: f.fin, opcode: f.opcode, payload: toHex(utf8(f.payload)) }));
      const trailer = hex(example.role === 'server' ? '8a 80 01 02 03 04' : '8a 00');
      const trailerFrame = { fin: true, opcode: 10, payload: '' };
      for (const { label, chunks } of splits(wire)) {
        const result = decode(chunks, { role: example.role });
        assert.equal(result.error, undefined, label);
        assert.deepEqual(
          result.frames.map((f) => ({ fin: f.header.fin, opcode: f.header.opcode, payload: toHex(f.payload) })),
          expected,
          label,
        );
        assert.equal(result.buffered, 0);
      }
      for (const { label, chunks } of splits(concat(wire, trailer))) {
        const result = decode(chunks, { role: example.role });
        assert.equal(result.frames.length, expected.length + 1, label);
        const last = result.frames.at(-1)!;
        assert.deepEqual({ fin: last.header.fin, opcode: last.header.opcode, payload: toHex(last.payload) }, trailerFrame);
      }
    });
  }

  it('encodes the examples byte for byte', () => {
    const hello = utf8('Hello');
    assert.equal(toHex(encodeFrame({ opcode: Opcode.Text, payload: hello })[0]!), '810548656c6c6f');
    assert.equal(toHex(encodeFrame({ opcode: Opcode.Text, payload: hello, mask: MASK })[0]!), '818537fa213d7f9f4d5158');
    assert.equal(toHex(encodeFrame({ fin: false, opcode: Opcode.Text, payload: utf8('Hel') })[0]!), '010348656c');
    assert.equal(toHex(encodeFrame({ opcode: Opcode.Continuation, payload: utf8('lo') })[0]!), '80026c6f');
    assert.equal(toHex(encodeFrame({ opcode: Opcode.Ping, payload: hello })[0]!), '890548656c6c6f');
    assert.equal(toHex(encodeFrame({ opcode: Opcode.Pong, payload: hello, mask: MASK })[0]!), '8a8537fa213d7f9f4d5158');
    assert.equal(toHex(encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(256) })[0]!.subarray(0, 4)), '827e0100');
    const big = encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(65536) });
    assert.equal(toHex(big[0]!), '827f0000000000010000');
  });
});

describe('payload sizes at the length-encoding edges', () => {
  const sizes = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20];
  const headerHex = (size: number): string =>
    size < 126 ? size.toString(16).padStart(2, '0') : size < 65536 ? '7e' + size.toString(16).padStart(4, '0') : '7f' + size.toString(16).padStart(16, '0');

  for (const size of sizes) {
    for (const masked of [false, true]) {
      it(`${size} bytes, ${masked ? 'masked' : 'unmasked'}: exact header, round trip in every split, trailing bytes kept`, () => {
        const payload = pattern(size);
        const encoded = encodeFrame(masked ? { opcode: Opcode.Binary, payload, mask: MASK } : { opcode: Opcode.Binary, payload });
        const maskBit = masked ? 0x80 : 0;
        const lengthHex = headerHex(size);
        const expectedHeader =
          '82' + (parseInt(lengthHex.slice(0, 2), 16) | maskBit).toString(16).padStart(2, '0') + lengthHex.slice(2) + (masked ? '37fa213d' : '');
        const headerLength = expectedHeader.length / 2;
        assert.equal(toHex(encoded[0]!.subarray(0, headerLength)), expectedHeader);
        // One buffer when small or masked; header and the caller's own payload buffer when large.
        if (!masked && size > SINGLE_BUFFER_MAX_PAYLOAD_BYTES) {
          assert.equal(encoded.length, 2);
          assert.equal(encoded[1], payload);
        } else {
          assert.equal(encoded.length, 1);
        }
        const wire = concat(...encoded);
        assert.equal(wire.length, headerLength + size);
        // The reference builder agrees on every byte.
        assert.ok(Buffer.from(wire).equals(frame({ opcode: 2, payload, ...(masked ? { mask: MASK } : {}) })));
        assert.ok(Buffer.from(payload).equals(pattern(size)), 'masking must not touch the caller payload');

        const role = receiverOf(masked);
        for (const { label, chunks } of splitPlan(wire)) {
          const result = decode(chunks, { role, maxPayloadBytes: 1 << 20 });
          assert.equal(result.error, undefined, label);
          assert.equal(result.frames.length, 1, label);
          const [decoded] = result.frames;
          assert.equal(decoded!.header.payloadLength, size);
          assert.equal(decoded!.header.headerLength, headerLength);
          assert.ok(Buffer.from(decoded!.payload).equals(payload), label);
        }
        // Whole + trailing: a complete next frame is decoded; an incomplete one stays buffered.
        const next = frame({ opcode: 9, payload: utf8('after'), ...(masked ? { mask: MASK } : {}) });
        const withNext = decode([concat(wire, next)], { role, maxPayloadBytes: 1 << 20 });
        assert.equal(withNext.frames.length, 2);
        assert.equal(Buffer.from(withNext.frames[1]!.payload).toString(), 'after');
        // (An incomplete header: 1 byte, or 5 of a masked frame's 6.)
        const partialHeader = next.subarray(0, masked ? 5 : 1);
        const withPartial = decode([concat(wire, partialHeader)], { role, maxPayloadBytes: 1 << 20 });
        assert.equal(withPartial.frames.length, 1);
        assert.equal(withPartial.error, undefined);
        assert.equal(withPartial.partial, undefined);
        assert.equal(withPartial.buffered, partialHeader.length);
      });
    }
  }

  it('hands out payload as views of the received chunk, with no copy', () => {
    const payload = pattern(70_000);
    const wire = concat(...encodeFrame({ opcode: Opcode.Binary, payload }));
    const decoder = new FrameDecoder({ role: 'client' });
    decoder.receive(wire);
    assert.equal(decoder.next().type, 'header');
    const event = decoder.next();
    assert.equal(event.type, 'payload');
    if (event.type !== 'payload') return;
    assert.equal(event.data.buffer, wire.buffer);
    assert.equal(event.data.length, payload.length);
    assert.equal(decoder.next().type, 'frame-end');
    assert.equal(decoder.next().type, 'need-data');
  });

  it('streams payload as it arrives, before the frame is complete', () => {
    const wire = frame({ opcode: 2, payload: pattern(1000), mask: MASK });
    const decoder = new FrameDecoder({ role: 'server' });
    decoder.receive(wire.slice(0, 100));
    assert.equal(decoder.next().type, 'header');
    const piece = decoder.next();
    assert.ok(piece.type === 'payload' && Buffer.from(piece.data).equals(pattern(1000).subarray(0, 92)));
    assert.equal(decoder.next().type, 'need-data');
  });

  it('decodes many queued one-byte chunks (chunk-list compaction)', () => {
    const wire = concat(...Array.from({ length: 20 }, (_, i) => frame({ opcode: 2, payload: pattern(50 + i), mask: MASK })));
    const decoder = new FrameDecoder({ role: 'server' });
    for (let i = 0; i < wire.length; i++) decoder.receive(wire.slice(i, i + 1));
    const result = decode([new Uint8Array(0)], { role: 'server' }, decoder); // drains everything queued
    assert.equal(result.frames.length, 20);
    result.frames.forEach((f, i) => assert.ok(Buffer.from(f.payload).equals(pattern(50 + i))));
  });
});

describe('protocol violations in frame headers', () => {
  // [name, role, wire, code, closeCode, bytes needed to decide]
  const cases: Array<[string, Role, Uint8Array, string, number, number]> = [
    ['RSV1 without an extension', 'client', frame({ rsv: 0b100, opcode: 1, payload: utf8('x') }), 'ERR_RESERVED_BITS', 1002, 1],
    ['RSV2', 'client', frame({ rsv: 0b010, opcode: 1, payload: utf8('x') }), 'ERR_RESERVED_BITS', 1002, 1],
    ['RSV3', 'server', frame({ rsv: 0b001, opcode: 2, payload: utf8('x'), mask: MASK }), 'ERR_RESERVED_BITS', 1002, 1],
    ['unmasked frame to a server (§5.1)', 'server', frame({ opcode: 1, payload: utf8('x') }), 'ERR_UNMASKED_FRAME', 1002, 2],
    ['masked frame to a client (§5.1)', 'client', frame({ opcode: 1, payload: utf8('x'), mask: MASK }), 'ERR_MASKED_FRAME', 1002, 2],
    ['fragmented ping (§5.5)', 'client', frame({ fin: false, opcode: 9, payload: utf8('x') }), 'ERR_FRAGMENTED_CONTROL_FRAME', 1002, 1],
    ['fragmented close', 'client', frame({ fin: false, opcode: 8 }), 'ERR_FRAGMENTED_CONTROL_FRAME', 1002, 1],
    ['ping of 126 bytes (§5.5)', 'client', frame({ opcode: 9, payload: pattern(126) }), 'ERR_CONTROL_FRAME_TOO_LONG', 1002, 2],
    ['close of 127 bytes', 'server', frame({ opcode: 8, payload: pattern(127), mask: MASK }), 'ERR_CONTROL_FRAME_TOO_LONG', 1002, 2],
    [
      '64-bit length with the MSB set',
      'client',
      concat(hex('82 7f 80 00 00 00 00 00 00 01'), pattern(8)),
      'ERR_LENGTH_MSB_SET',
      1002,
      10,
    ],
    ['125 in the 16-bit form (§5.2 minimal)', 'client', frame({ opcode: 2, payload: pattern(125), lengthForm: 16 }), 'ERR_NON_MINIMAL_LENGTH', 1002, 4],
    ['0 in the 16-bit form', 'client', frame({ opcode: 2, lengthForm: 16 }), 'ERR_NON_MINIMAL_LENGTH', 1002, 4],
    ['65535 in the 64-bit form', 'client', frame({ opcode: 2, payload: pattern(65535), lengthForm: 64 }), 'ERR_NON_MINIMAL_LENGTH', 1002, 10],
    ['1 in the 64-bit form', 'client', frame({ opcode: 2, payload: pattern(1), lengthForm: 64 }), 'ERR_NON_MINIMAL_LENGTH', 1002, 10],
  ];
  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    cases.push([`reserved opcode 0x${op.toString(16)}`, 'client', frame({ opcode: op }), 'ERR_RESERVED_OPCODE', 1002, 1]);
  }

  for (const [name, role, wire, code, closeCode, decidedAt] of cases) {
    it(`${name} → ${closeCode} ${code}, decided after ${decidedAt} byte(s), whatever the split`, () => {
      for (const { label, chunks } of splitPlan(wire)) {
        const result = decode(chunks, { role });
        assert.equal(result.error?.code, code, label);
        assert.equal(result.error?.closeCode, closeCode);
        assert.equal(result.frames.length, 0);
      }
      // Fail fast: the first `decidedAt` bytes are enough, and fewer are not.
      assert.equal(decode([wire.subarray(0, decidedAt)], { role }).error?.code, code);
      if (decidedAt > 1) assert.equal(decode([wire.subarray(0, decidedAt - 1)], { role }).error, undefined);
    });
  }

  it('a valid frame before a bad one is still delivered', () => {
    const wire = concat(frame({ opcode: 1, payload: utf8('ok') }), frame({ opcode: 3 }));
    for (const { label, chunks } of splits(wire)) {
      const result = decode(chunks, { role: 'client' });
      assert.equal(result.frames.length, 1, label);
      assert.equal(result.error?.code, 'ERR_RESERVED_OPCODE');
    }
  });

  it('errors are sticky and later bytes are ignored', () => {
    const decoder = new FrameDecoder({ role: 'server' });
    decoder.receive(hex('81 05 48 65 6c 6c 6f'));
    const first = decoder.next();
    assert.equal(first.type, 'error');
    decoder.receive(frame({ opcode: 1, payload: utf8('x'), mask: MASK }));
    assert.equal(decoder.next(), first);
    assert.equal(decoder.next(), first);
    assert.equal(decoder.bufferedBytes, 0);
  });
});

describe('the payload cap', () => {
  it('accepts exactly maxPayloadBytes', () => {
    const result = decode([frame({ opcode: 2, payload: pattern(1000), mask: MASK })], { role: 'server', maxPayloadBytes: 1000 });
    assert.equal(result.error, undefined);
    assert.equal(result.frames[0]!.payload.length, 1000);
  });

  for (const [name, wire] of [
    ['7-bit', frame({ opcode: 2, payload: pattern(101), mask: MASK })],
    ['16-bit', frame({ opcode: 2, payload: pattern(1001), mask: MASK })],
    ['64-bit', concat(hex('82 ff 00 00 00 00 00 01 00 00'), MASK)],
    ['64-bit near 2^63', concat(hex('82 ff 7f ff ff ff ff ff ff ff'), MASK)],
  ] as const) {
    it(`rejects one byte more (${name} length) with 1009 as soon as the length field is complete`, () => {
      const max = name === '7-bit' ? 100 : 1000;
      const lengthEnd = wire[1]! & 0x7f;
      const needed = lengthEnd === 126 ? 4 : lengthEnd === 127 ? 10 : 2;
      const result = decode([wire.subarray(0, needed)], { role: 'server', maxPayloadBytes: max });
      assert.equal(result.error?.code, 'ERR_FRAME_TOO_BIG');
      assert.equal(result.error?.closeCode, 1009);
      assert.equal(decode([wire.subarray(0, needed - 1)], { role: 'server', maxPayloadBytes: max }).error, undefined);
    });
  }

  it('defaults to the 16 MiB message limit', () => {
    const header = hex('82 ff 00 00 00 00 01 00 00 01');
    assert.equal(decode([header], { role: 'server' }).error?.closeCode, 1009);
    const atLimit = hex('82 ff 00 00 00 00 01 00 00 00');
    assert.equal(decode([atLimit], { role: 'server' }).error, undefined);
  });
});

describe('encodeFrame refuses frames it must never send', () => {
  it('throws UsageError for bad control frames, masks and opcodes', () => {
    assert.throws(() => encodeFrame({ opcode: Opcode.Ping, payload: new Uint8Array(126) }), UsageError);
    assert.throws(() => encodeFrame({ opcode: Opcode.Close, fin: false }), UsageError);
    assert.throws(() => encodeFrame({ opcode: Opcode.Text, mask: new Uint8Array(3) }), UsageError);
    assert.throws(() => encodeFrame({ opcode: 3 as Opcode }), UsageError);
    assert.doesNotThrow(() => encodeFrame({ opcode: Opcode.Ping, payload: new Uint8Array(125) }));
  });

  it('sets RSV1 when asked (for a future extension)', () => {
    assert.equal(encodeFrame({ opcode: Opcode.Binary, rsv1: true })[0]![0], 0xc2);
  });
});
