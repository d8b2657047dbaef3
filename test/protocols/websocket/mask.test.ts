import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMaskSource, unmaskInPlace } from '../../../src/protocols/websocket/mask.js';
import { MASK, pattern } from './wire.js';

function naive(data: Uint8Array, mask: Uint8Array, offset: number): Uint8Array {
  return data.map((byte, i) => byte ^ mask[(offset + i) % 4]!);
}

describe('unmaskInPlace', () => {
  it('matches byte-by-byte XOR for every length, masking phase and memory alignment', () => {
    for (let length = 0; length <= 80; length++) {
      for (let offset = 0; offset < 8; offset++) {
        for (let align = 0; align < 4; align++) {
          const backing = pattern(length + 8, length);
          const data = backing.subarray(align, align + length);
          const expected = naive(data, MASK, offset);
          unmaskInPlace(data, MASK, offset);
          assert.deepEqual(data, expected, `length ${length} offset ${offset} align ${align}`);
          // Bytes around the view are untouched.
          assert.deepEqual(backing.subarray(0, align), pattern(length + 8, length).subarray(0, align));
          assert.deepEqual(backing.subarray(align + length), pattern(length + 8, length).subarray(align + length));
        }
      }
    }
  });

  it('unmasking a payload in arbitrary pieces equals unmasking it whole', () => {
    const masked = naive(pattern(10_000), MASK, 0);
    const pieces = masked.slice();
    let at = 0;
    for (const size of [1, 3, 37, 4096, 2, 5000]) {
      const end = Math.min(at + size, pieces.length);
      unmaskInPlace(pieces.subarray(at, end), MASK, at);
      at = end;
    }
    unmaskInPlace(pieces.subarray(at), MASK, at);
    assert.deepEqual(pieces, pattern(10_000));
  });

  it('is its own inverse', () => {
    const data = pattern(1000);
    unmaskInPlace(data, MASK, 1);
    unmaskInPlace(data, MASK, 1);
    assert.deepEqual(data, pattern(1000));
  });
});

describe('createMaskSource', () => {
  it('hands out 4-byte keys from the CSPRNG, refilling its pool', () => {
    const next = createMaskSource(8);
    const keys = Array.from({ length: 10 }, () => Uint8Array.from(next()));
    for (const key of keys) assert.equal(key.length, 4);
    assert.ok(new Set(keys.map((k) => k.join())).size > 5, 'keys should differ');
  });
});
