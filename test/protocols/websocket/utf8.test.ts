import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Utf8Validator, isValidUtf8 } from '../../../src/protocols/websocket/utf8.js';
import { splits } from '../../helpers/split.js';
import { concat, hex, utf8 } from './wire.js';

const fatal = new TextDecoder('utf-8', { fatal: true });
function reference(bytes: Uint8Array): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Feeds the pieces; returns the message offset of the first bad byte, 'truncated', or 'valid'. */
function verdict(pieces: readonly Uint8Array[]): number | 'truncated' | 'valid' {
  const validator = new Utf8Validator();
  for (const piece of pieces) if (!validator.write(piece)) return validator.offset;
  return validator.complete ? 'valid' : 'truncated';
}

describe('Utf8Validator', () => {
  it('agrees with a fatal TextDecoder on every 1- and 2-byte sequence', () => {
    for (let a = 0; a < 256; a++) {
      assert.equal(isValidUtf8(Uint8Array.of(a)), reference(Uint8Array.of(a)), `byte ${a.toString(16)}`);
      for (let b = 0; b < 256; b++) {
        const bytes = Uint8Array.of(a, b);
        assert.equal(isValidUtf8(bytes), reference(bytes), `bytes ${a.toString(16)} ${b.toString(16)}`);
      }
    }
  });

  it('agrees with a fatal TextDecoder on 3- and 4-byte sequences around every range edge', () => {
    // Every lead byte and every second byte (where overlongs, surrogates and > U+10FFFF are decided),
    // then the edges of the continuation range for the rest.
    const edges = [0x7f, 0x80, 0xbf, 0xc0];
    for (let a = 0xc0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        for (const c of edges) {
          const three = Uint8Array.of(a, b, c);
          assert.equal(isValidUtf8(three), reference(three), `${a.toString(16)} ${b.toString(16)} ${c.toString(16)}`);
          if (a >= 0xf0) {
            for (const d of edges) {
              const four = Uint8Array.of(a, b, c, d);
              assert.equal(isValidUtf8(four), reference(four));
            }
          }
        }
      }
    }
  });

  it('accepts every scalar value U+0000..U+10FFFF, fed in uneven pieces', () => {
    const parts: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) if (cp < 0xd800 || cp > 0xdfff) parts.push(String.fromCodePoint(cp));
    const bytes = utf8(parts.join(''));
    for (const size of [1, 2, 3, 5, 255, 256, 257, 4097]) {
      const validator = new Utf8Validator();
      const limit = size < 5 ? 200_000 : bytes.length; // byte-by-byte over 4 MB would only test patience
      for (let at = 0; at < limit; at += size) assert.ok(validator.write(bytes, at, Math.min(at + size, limit)), `size ${size} at ${at}`);
      if (limit === bytes.length) assert.ok(validator.complete);
    }
  });

  // Autobahn section 6 style: the offset is that of the first byte that makes the input impossible.
  const invalid: Array<[string, string, number]> = [
    ['overlong slash (2 bytes)', 'c0 af', 0],
    ['overlong slash (3 bytes)', 'e0 80 af', 1],
    ['overlong slash (4 bytes)', 'f0 80 80 af', 1],
    ['overlong U+07FF in 3 bytes', 'e0 9f bf', 1],
    ['surrogate D800', 'ed a0 80', 1],
    ['surrogate DFFF', 'ed bf bf', 1],
    ['paired surrogates', 'ed a0 80 ed b0 80', 1],
    ['past U+10FFFF', 'f4 90 80 80', 1],
    ['5-byte form', 'f8 88 80 80 80', 0],
    ['fe', 'fe', 0],
    ['ff', 'ff', 0],
    ['lone continuation', '80', 0],
    ['lead then ASCII', 'c2 41', 1],
    ['κόσμε then surrogate (Autobahn 6.4.x)', 'ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64', 12],
    ['valid then f4 90', '48 65 6c 6c 6f f4 90 80 80', 6],
  ];
  for (const [name, bytesHex, offset] of invalid) {
    it(`fails fast on ${name} at byte ${offset}, however it is split`, () => {
      const bytes = hex(bytesHex);
      for (const { label, chunks } of splits(bytes)) assert.equal(verdict(chunks), offset, label);
    });
  }

  it('reports a message truncated inside a character as incomplete, not invalid', () => {
    for (const bytesHex of ['ce', 'e1 bd', 'f0 9f 98', 'f4 8f bf', '48 69 e2 82']) {
      for (const { label, chunks } of splits(hex(bytesHex))) assert.equal(verdict(chunks), 'truncated', `${bytesHex} ${label}`);
    }
  });

  it('validates multi-byte characters split at every offset', () => {
    const bytes = utf8('aé€😀ü\u{10ffff}z');
    for (const { label, chunks } of splits(bytes)) assert.equal(verdict(chunks), 'valid', label);
  });

  it('finds the exact byte in large pieces (native fast path), whatever the piece ends with', () => {
    const body = utf8('ab€'.repeat(300)); // 1500 bytes, multi-byte chars throughout
    for (const cut of [0, 1, 2, 3, 4, 5]) {
      // A valid piece ending inside a character, then the rest.
      const at = body.length - cut;
      assert.equal(verdict([body.subarray(0, at), body.subarray(at)]), 'valid', `cut ${cut}`);
    }
    for (const position of [0, 700, body.length - 1]) {
      const broken = concat(body.subarray(0, position), hex('ed a0 80'), body.subarray(position));
      // The bad byte is the a0 after ed, unless ed cut a character in half, which is caught at ed.
      const expected = verdict([broken.subarray(0, 200), broken.subarray(200)]);
      assert.equal(verdict([broken]), expected);
      assert.equal(typeof expected, 'number');
    }
    const withBadTail = concat(utf8('x'.repeat(1000)), hex('c0'));
    assert.equal(verdict([withBadTail]), 1000);
    const fourContinuations = concat(utf8('x'.repeat(1000)), hex('80 80 80 80'));
    assert.equal(verdict([fourContinuations]), 1000);
  });

  it('stays failed until reset', () => {
    const validator = new Utf8Validator();
    assert.equal(validator.write(hex('ff')), false);
    assert.equal(validator.write(utf8('fine')), false);
    assert.ok(validator.failed);
    validator.reset();
    assert.ok(validator.write(utf8('fine')) && validator.complete);
  });
});
