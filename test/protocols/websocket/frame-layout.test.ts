import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameLayoutReader, formatFrameLayout, layoutFrames, type FrameLayout, type FrameLayoutOptions } from '../../../src/protocols/websocket/frame-layout.js';
import { splits } from '../../helpers/split.js';

const bytes = (...parts: Array<number | readonly number[] | Uint8Array>): Uint8Array =>
  Uint8Array.from(parts.flatMap((part) => (typeof part === 'number' ? [part] : [...part])));
const ascii = (text: string): number[] => [...Buffer.from(text, 'latin1')];

/**
 * The three-way rule: the same layouts whether the bytes come whole, split at any offset or one by one,
 * and trailing bytes after the last frame come back as the partial frame, not mixed into the others.
 */
function layoutEveryWay(wire: Uint8Array, options?: FrameLayoutOptions): { frames: FrameLayout[]; partial: FrameLayout | null } {
  const expected = layoutFrames(wire, options);
  for (const { label, chunks } of splits(wire)) {
    const reader = new FrameLayoutReader(options);
    const frames = chunks.flatMap((chunk) => reader.receive(chunk));
    assert.deepEqual({ frames, partial: reader.end() }, expected, label);
  }
  return expected;
}

// RFC 6455 §5.7, "Examples".
const UNMASKED_HELLO = bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
const MASKED_HELLO = bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);

describe('frame layout: RFC 6455 §5.7 examples', () => {
  it('a single-frame unmasked text message', () => {
    const { frames, partial } = layoutEveryWay(UNMASKED_HELLO);
    assert.equal(partial, null);
    assert.equal(frames.length, 1);
    const f = frames[0]!;
    assert.deepEqual(
      { offset: f.offset, headerBytes: f.headerBytes, fin: f.fin, rsv1: f.rsv1, rsv2: f.rsv2, rsv3: f.rsv3, opcode: f.opcode, opcodeName: f.opcodeName },
      { offset: 0, headerBytes: 2, fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 1, opcodeName: 'text' },
    );
    assert.deepEqual(
      { masked: f.masked, lengthField: f.lengthField, lengthForm: f.lengthForm, payloadLength: f.payloadLength, maskingKey: f.maskingKey },
      { masked: false, lengthField: 5, lengthForm: '7-bit', payloadLength: 5, maskingKey: null },
    );
    assert.equal(f.shownBytes, 5);
    assert.equal(f.maskedHex, null);
    assert.equal(f.payloadHex, '48 65 6c 6c 6f');
    assert.equal(f.text, 'Hello');
    assert.equal(f.closeCode, null);
    assert.equal(f.complete, true);
    assert.match(f.diagram, /0 0 0 1/, 'the opcode bits under the ruler');
    assert.match(f.diagram, /opcode=0001 \(%x1 text\)/);
    assert.match(f.diagram, /MASK=0/);
    assert.match(f.diagram, /\|0 0 0 0 1 0 1\|/, 'payload len 5 as 7 bits');
    assert.match(f.diagram, /"Hello"/);
    assert.equal(formatFrameLayout(f, '<-').split('\n')[0], '<- text fin=1 masked=0 len=5 "Hello"');
  });

  it('a single-frame masked text message: key, the bytes as sent and unmasked', () => {
    const [f] = layoutEveryWay(MASKED_HELLO).frames;
    assert.ok(f);
    assert.equal(f.masked, true);
    assert.equal(f.headerBytes, 6);
    assert.equal(f.maskingKey, '37fa213d');
    assert.equal(f.maskedHex, '7f 9f 4d 51 58');
    assert.equal(f.payloadHex, '48 65 6c 6c 6f');
    assert.equal(f.text, 'Hello');
    assert.match(f.diagram, /MASK=1/);
    assert.match(f.diagram, /\|1\|0 0 0 0 1 0 1\|/, 'the MASK bit set, then the length');
    assert.match(f.diagram, /Masking-key=37fa213d/);
    assert.match(f.diagram, /37 fa/);
    assert.match(f.diagram, /21 3d/);
    assert.match(f.diagram, /masked +7f 9f 4d 51 58/);
    assert.match(f.diagram, /unmasked 48 65 6c 6c 6f/);
    assert.equal(formatFrameLayout(f, '->').split('\n')[0], '-> text fin=1 masked=1 key=37fa213d len=5 "Hello"');
  });

  it('a fragmented unmasked text message: two frames, the continuation shown as text too', () => {
    const wire = bytes(0x01, 0x03, ascii('Hel'), 0x80, 0x02, ascii('lo'));
    const { frames, partial } = layoutEveryWay(wire);
    assert.equal(partial, null);
    assert.deepEqual(frames.map((f) => [f.offset, f.opcodeName, f.fin, f.payloadLength, f.text]), [
      [0, 'text', false, 3, 'Hel'],
      [5, 'continuation', true, 2, 'lo'],
    ]);
    assert.match(frames[0]!.diagram, /FIN=0 \(more fragments follow\)/);
    assert.match(frames[1]!.diagram, /opcode=0000 \(%x0 continuation\)/);
  });

  it('an unmasked ping and a masked pong', () => {
    const wire = bytes(0x89, 0x05, ascii('Hello'), 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
    const { frames } = layoutEveryWay(wire);
    assert.deepEqual(frames.map((f) => [f.offset, f.opcode, f.opcodeName, f.masked, f.maskingKey, f.text]), [
      [0, 9, 'ping', false, null, 'Hello'],
      [7, 10, 'pong', true, '37fa213d', 'Hello'],
    ]);
    assert.match(frames[0]!.diagram, /%x9 ping/);
    assert.match(frames[1]!.diagram, /%xA pong/);
  });

  it('a ping whose payload is not UTF-8 has no text', () => {
    const [f] = layoutEveryWay(bytes(0x89, 0x02, 0xff, 0xfe)).frames;
    assert.equal(f!.text, null);
    assert.equal(f!.payloadHex, 'ff fe');
  });

  it('256 bytes of binary in one unmasked frame: the 16-bit extended length', () => {
    const payload = Array.from({ length: 256 }, (_, i) => i);
    const { frames, partial } = layoutEveryWay(bytes(0x82, 0x7e, 0x01, 0x00, payload));
    assert.equal(partial, null);
    const f = frames[0]!;
    assert.equal(f.headerBytes, 4);
    assert.equal(f.lengthField, 126);
    assert.equal(f.lengthForm, '7+16-bit');
    assert.equal(f.payloadLength, 256);
    assert.equal(f.shownBytes, 64, 'the default preview');
    assert.equal(f.payloadHex.split(' ').length, 64);
    assert.ok(f.payloadHex.startsWith('00 01 02 03'));
    assert.equal(f.text, null);
    assert.equal(f.complete, true);
    assert.match(f.diagram, /%x2/);
    assert.match(f.diagram, /\|1 1 1 1 1 1 0\|/, 'Payload len 126 as bits');
    assert.match(f.diagram, /\| +126 +\|/, 'Payload len 126 in its box');
    assert.match(f.diagram, /Extended payload length \(16\)/);
    assert.match(f.diagram, /01 00/);
    assert.match(f.diagram, /= 256/);
    assert.match(f.diagram, /Payload len=126 \(7\+16-bit, Extended payload length=256\)/);
    assert.match(f.diagram, /192 more bytes not shown/);
  });

  it('64 KiB of binary in one unmasked frame: the 64-bit extended length, without buffering the payload', () => {
    const wire = new Uint8Array(10 + 65536);
    wire.set([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
    wire.fill(0xab, 10);
    const expected = layoutFrames(wire);
    const f = expected.frames[0]!;
    assert.equal(expected.partial, null);
    assert.equal(f.headerBytes, 10);
    assert.equal(f.lengthField, 127);
    assert.equal(f.lengthForm, '7+64-bit');
    assert.equal(f.payloadLength, 65536);
    assert.equal(f.shownBytes, 64);
    assert.equal(f.complete, true);
    assert.match(f.diagram, /= 65536/);
    assert.match(f.diagram, /Extended payload length \(64\)/);
    // Splitting 65546 bytes at every offset is 65545 runs; the header region and a sample of the rest
    // cover every state change (header, preview, counted tail).
    for (const at of [1, 2, 5, 9, 10, 11, 73, 74, 75, 40000, wire.length - 1]) {
      const reader = new FrameLayoutReader();
      const frames = [...reader.receive(wire.subarray(0, at)), ...reader.receive(wire.subarray(at))];
      assert.deepEqual({ frames, partial: reader.end() }, expected, `split at ${at}`);
    }
    const reader = new FrameLayoutReader();
    const frames: FrameLayout[] = [];
    for (let i = 0; i < wire.length; i += 997) frames.push(...reader.receive(wire.subarray(i, i + 997)));
    assert.deepEqual(frames, expected.frames, 'in 997-byte chunks');
  });

  it('payload sizes at the length-encoding edges', () => {
    for (const size of [0, 1, 125, 126, 127, 65535, 65536]) {
      const head = size < 126 ? [0x82, size] : size < 65536 ? [0x82, 126, size >> 8, size & 0xff] : [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
      const wire = bytes(head, new Uint8Array(size), 0x89, 0x00);
      const { frames, partial } = layoutFrames(wire, { maxShownBytes: 8 });
      assert.equal(partial, null, `size ${size}`);
      assert.deepEqual(frames.map((f) => [f.payloadLength, f.shownBytes, f.headerBytes, f.complete]), [[size, Math.min(size, 8), head.length, true], [0, 0, 2, true]], `size ${size}`);
      assert.equal(frames[1]!.offset, head.length + size);
    }
  });
});

describe('frame layout: what the validator would reject is shown', () => {
  it('a close frame with code 1000 and a reason', () => {
    const { frames } = layoutEveryWay(bytes(0x88, 0x85, 0x01, 0x02, 0x03, 0x04, 0x03 ^ 0x01, 0xe8 ^ 0x02, 0x62 ^ 0x03, 0x79 ^ 0x04, 0x65 ^ 0x01));
    const f = frames[0]!;
    assert.equal(f.opcodeName, 'close');
    assert.equal(f.closeCode, 1000);
    assert.equal(f.closeReason, 'bye');
    assert.equal(f.payloadHex, '03 e8 62 79 65');
    assert.match(f.diagram, /code 1000, reason "bye"/);
    assert.match(formatFrameLayout(f, '<-'), /^<- close fin=1 masked=1 key=01020304 len=5 code=1000 reason="bye"$/m);
  });

  it('a close frame keeps its code and reason even with a tiny preview', () => {
    const { frames } = layoutEveryWay(bytes(0x88, 0x06, 0x03, 0xe9, ascii('away')), { maxShownBytes: 1 });
    assert.deepEqual([frames[0]!.closeCode, frames[0]!.closeReason, frames[0]!.shownBytes], [1001, 'away', 1]);
  });

  it('an empty close frame has no code', () => {
    const { frames } = layoutEveryWay(bytes(0x88, 0x00));
    assert.deepEqual([frames[0]!.closeCode, frames[0]!.closeReason], [null, null]);
  });

  it('RSV1 set (permessage-deflate): shown, and the compressed payload is not decoded as text', () => {
    const { frames } = layoutEveryWay(bytes(0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x80, 0x01, 0x00));
    assert.deepEqual(frames.map((f) => [f.opcodeName, f.rsv1, f.fin, f.text]), [['text', true, true, null], ['continuation', false, true, null]]);
    assert.match(frames[0]!.diagram, /RSV1=1 RSV2=0 RSV3=0/);
    assert.match(frames[0]!.diagram, /\|1\|1\|0\|0\|0 0 0 1\|/);
    assert.match(formatFrameLayout(frames[0]!), /^text fin=1 rsv1=1 masked=0 len=7 \(compressed, RFC 7692\)$/m);
  });

  it('a compressed fragmented message: its continuation frames are not decoded either', () => {
    const { frames } = layoutEveryWay(bytes(0x41, 0x01, 0xf2, 0x80, 0x01, 0x48));
    assert.deepEqual(frames.map((f) => [f.opcodeName, f.text]), [['text', null], ['continuation', null]]);
  });

  it('RSV2, RSV3 and a reserved opcode', () => {
    const { frames } = layoutEveryWay(bytes(0xb3, 0x01, 0x2a, 0x8b, 0x00));
    assert.deepEqual(frames.map((f) => [f.opcode, f.opcodeName, f.rsv1, f.rsv2, f.rsv3]), [[3, 'reserved (0x3)', false, true, true], [11, 'reserved (0xb)', false, false, false]]);
    assert.match(frames[0]!.diagram, /opcode=0011 \(%x3 reserved non-control\)/);
    assert.match(frames[1]!.diagram, /opcode=1011 \(%xB reserved control\)/);
  });

  it('a frame cut off at the end of the stream comes back from end(), incomplete', () => {
    const wire = bytes(UNMASKED_HELLO, 0x82, 0x7e, 0x01, 0x00, 0x01, 0x02, 0x03);
    const { frames, partial } = layoutEveryWay(wire);
    assert.equal(frames.length, 1);
    assert.ok(partial);
    assert.equal(partial.offset, 7);
    assert.equal(partial.complete, false);
    assert.equal(partial.payloadLength, 256);
    assert.equal(partial.shownBytes, 3);
    assert.equal(partial.payloadHex, '01 02 03');
    assert.equal(partial.receivedBytes, 7);
    assert.match(partial.diagram, /253 payload bytes short/);
    assert.match(formatFrameLayout(partial, '<-'), /^<- binary fin=1 masked=0 len=256 \(incomplete: 7 of 4\+256 bytes arrived\)$/m);
  });

  it('a stream that ends inside a header: what arrived, no payload', () => {
    for (const cut of [1, 3, 5]) {
      const { frames, partial } = layoutEveryWay(MASKED_HELLO.subarray(0, cut));
      assert.deepEqual(frames, []);
      assert.ok(partial, `cut at ${cut}`);
      assert.equal(partial.complete, false);
      assert.equal(partial.opcodeName, 'text');
      assert.equal(partial.text, null);
      assert.equal(partial.maskingKey, null);
      assert.equal(partial.receivedBytes, cut);
    }
    assert.match(layoutFrames(MASKED_HELLO.subarray(0, 1)).partial!.diagram, /\|\?\|\? \? \? \? \? \? \?\|/);
  });

  it('nothing left over: end() is null', () => {
    const reader = new FrameLayoutReader();
    assert.equal(reader.end(), null);
    reader.receive(UNMASKED_HELLO);
    assert.equal(reader.end(), null);
  });

  it('a 64-bit length past Number.MAX_SAFE_INTEGER: reported as sent, clamped, incomplete, and the rest is its payload', () => {
    const wire = bytes(0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, UNMASKED_HELLO);
    const { frames, partial } = layoutEveryWay(wire, { maxShownBytes: 4 });
    assert.equal(partial, null, 'reported once its preview was full, not again at the end');
    assert.equal(frames.length, 1, 'what follows is payload of the huge frame, not frames');
    const f = frames[0]!;
    assert.equal(f.complete, false);
    assert.equal(f.payloadLength, Number.MAX_SAFE_INTEGER);
    assert.equal(f.exactLength, '18446744073709551615');
    assert.equal(f.payloadHex, '01 02 03 04');
    assert.match(f.diagram, /= 18446744073709551615/);
    assert.match(f.diagram, /past 2\^53/);
  });

  it('a huge length whose preview never fills is the partial at the end', () => {
    const { frames, partial } = layoutEveryWay(bytes(0x82, 0x7f, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 9));
    assert.deepEqual(frames, []);
    assert.equal(partial?.exactLength, String(2n ** 53n));
    assert.equal(partial?.complete, false);
  });

  it('offsets run on across frames in one stream', () => {
    const { frames } = layoutEveryWay(bytes(UNMASKED_HELLO, MASKED_HELLO, 0x88, 0x00));
    assert.deepEqual(frames.map((f) => f.offset), [0, 7, 18]);
  });

  it('maxShownBytes bounds the hex and text; a cut-off preview drops a split UTF-8 character', () => {
    const euro = ascii('ab').concat([0xe2, 0x82, 0xac]);
    const { frames } = layoutEveryWay(bytes(0x81, 0x05, euro), { maxShownBytes: 3 });
    assert.deepEqual([frames[0]!.shownBytes, frames[0]!.payloadHex, frames[0]!.text], [3, '61 62 e2', 'ab']);
    assert.equal(formatFrameLayout(frames[0]!).split('\n')[0], 'text fin=1 masked=0 len=5 "ab"…');
    assert.throws(() => new FrameLayoutReader({ maxShownBytes: -1 }), RangeError);
  });

  it('control characters in text are escaped in the summary', () => {
    const { frames } = layoutEveryWay(bytes(0x81, 0x04, 0x1b, 0x5b, 0x32, 0x4a));
    assert.equal(frames[0]!.text, '\x1b[2J');
    assert.match(formatFrameLayout(frames[0]!), /"\\u001b\[2J"/);
    assert.doesNotMatch(formatFrameLayout(frames[0]!), /\x1b/);
  });
});
