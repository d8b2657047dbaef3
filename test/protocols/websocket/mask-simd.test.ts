import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSimdUnmasker } from '../../../src/protocols/websocket/mask-simd.js';
import { SIMD_MIN_BYTES, simdUnmaskAvailable, unmaskInPlace, unmaskScalar } from '../../../src/protocols/websocket/mask.js';
import { MASK, pattern } from './wire.js';

const simd = createSimdUnmasker();

function keyAt(mask: Uint8Array, offset: number): number {
  const p = offset & 3;
  return mask[p]! | (mask[(p + 1) & 3]! << 8) | (mask[(p + 2) & 3]! << 16) | (mask[(p + 3) & 3]! << 24);
}

/** Unmasks a fresh copy with both paths and checks they agree, and that the bytes around the view are untouched. */
function check(length: number, phase: number, align: number, run: (data: Uint8Array) => void): void {
  const fresh = (): Uint8Array => pattern(length + 16, length + phase);
  const expected = fresh();
  unmaskScalar(expected.subarray(align, align + length), MASK, phase);
  const backing = fresh();
  run(backing.subarray(align, align + length));
  assert.deepEqual(backing, expected, `length ${length} phase ${phase} align ${align}`);
}

describe('the SIMD unmasker (WebAssembly)', () => {
  it('is available on this Node (Node 20 ships WebAssembly SIMD)', () => {
    assert.ok(simd !== undefined);
    assert.equal(simdUnmaskAvailable, true);
  });

  it('matches the scalar XOR at every mask phase, length 0..200 and unaligned byteOffset', () => {
    for (let length = 0; length <= 200; length++) {
      for (let phase = 0; phase < 4; phase++) {
        for (let align = 0; align < 4; align++) {
          check(length, phase, align, (data) => simd!(data, 0, data.length, keyAt(MASK, phase)));
        }
      }
    }
  });

  it('matches across its 64 KiB block boundary, at lengths not a multiple of 4, 16 or 64', () => {
    for (const length of [65535, 65536, 65537, 65536 + 63, 3 * 65536 + 5, 1 << 20]) {
      for (let phase = 0; phase < 4; phase++) {
        check(length, phase, phase, (data) => simd!(data, 0, data.length, keyAt(MASK, phase)));
      }
    }
  });

  it('XORs only [start, end) of the array it is given', () => {
    const data = pattern(300);
    const expected = pattern(300);
    unmaskScalar(expected.subarray(17, 250), MASK, 2);
    simd!(data, 17, 250, keyAt(MASK, 2));
    assert.deepEqual(data, expected);
  });
});

describe('unmaskInPlace with the SIMD path', () => {
  it('equals the scalar path around the threshold, at every phase and alignment', () => {
    for (let length = SIMD_MIN_BYTES - 70; length <= SIMD_MIN_BYTES + 70; length++) {
      for (let phase = 0; phase < 8; phase++) {
        for (let align = 0; align < 4; align++) check(length, phase, align, (data) => unmaskInPlace(data, MASK, phase));
      }
    }
  });

  it('unmasking a large payload in pieces of every phase equals unmasking it whole', () => {
    const whole = pattern(300_000);
    unmaskScalar(whole, MASK, 0);
    const pieces = pattern(300_000);
    let at = 0;
    for (const size of [1, 5000, 3, 65537, 2, 100_001, 7, 4095]) {
      unmaskInPlace(pieces.subarray(at, at + size), MASK, at);
      at += size;
    }
    unmaskInPlace(pieces.subarray(at), MASK, at);
    assert.deepEqual(pieces, whole);
  });

  it('leaves the caller\'s other views of the same memory alone (no state kept between calls)', () => {
    const a = pattern(10_000, 1);
    const b = pattern(10_000, 2);
    unmaskInPlace(a, MASK, 0);
    unmaskInPlace(b, MASK, 3);
    const ea = pattern(10_000, 1);
    const eb = pattern(10_000, 2);
    unmaskScalar(ea, MASK, 0);
    unmaskScalar(eb, MASK, 3);
    assert.deepEqual(a, ea);
    assert.deepEqual(b, eb);
  });
});
