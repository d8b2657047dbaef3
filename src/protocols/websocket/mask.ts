import { randomFillSync } from 'node:crypto';
import { createSimdUnmasker } from './mask-simd.js';

/**
 * Payload masking (RFC 6455 §5.3): byte i of the payload is XORed with byte (i mod 4) of the frame's
 * 4-byte masking key. Masking and unmasking are the same operation.
 *
 * How this works: a payload that arrives in pieces is unmasked piece by piece, so each call takes the
 * `offset` of its first byte within the frame's payload (only `offset mod 4` matters). Short inputs go
 * byte by byte. Longer ones go byte by byte up to the first 4-byte-aligned address, then a whole word at
 * a time through an Int32Array view (which requires alignment) with the key rotated to match the phase
 * at that point, then byte by byte for the last 0-3 bytes. The key word is assembled in a scratch buffer
 * and read back through an Int32Array, so it is in the platform's byte order, the same as the payload
 * words it is XORed with.
 *
 * From `SIMD_MIN_BYTES` up, the WebAssembly SIMD kernel (mask-simd.ts) does the work instead, ~3x faster
 * at 64 KiB on Node 20 even counting its two copies; the scalar loop stays exported so tests can hold
 * one against the other, and it is the only path where WebAssembly is unavailable.
 */

const WORD_MIN_BYTES = 32;
const keyBytes = new Uint8Array(4);
// Int32, not Uint32: a signed 32-bit XOR stays a small integer in V8, while Uint32 values above 2^31 do
// not, which measured ~1.5x slower. The loop is unrolled 8 words at a time (another ~2x on Node 20).
const keyWord = new Int32Array(keyBytes.buffer);

/** Below this the SIMD kernel's call and copies cost more than they save (measured: ~1.4x at 1 KiB, ~2.3x at 4 KiB). */
export const SIMD_MIN_BYTES = 2048;
const simdUnmask = createSimdUnmasker();

/** Whether large payloads are unmasked with WebAssembly SIMD in this process. */
export const simdUnmaskAvailable = simdUnmask !== undefined;

/** XORs `data` in place with `mask`, as bytes starting at position `offset` of the masked payload. */
export function unmaskInPlace(data: Uint8Array, mask: Uint8Array, offset = 0): void {
  if (simdUnmask !== undefined && data.length >= SIMD_MIN_BYTES) {
    const p = offset & 3;
    // WebAssembly memory is little-endian: byte 0 of the word is the key byte for data[0].
    simdUnmask(data, 0, data.length, mask[p]! | (mask[(p + 1) & 3]! << 8) | (mask[(p + 2) & 3]! << 16) | (mask[(p + 3) & 3]! << 24));
    return;
  }
  unmaskScalar(data, mask, offset);
}

/** The same XOR in plain JavaScript: the fallback, and the reference the SIMD path is tested against. */
export function unmaskScalar(data: Uint8Array, mask: Uint8Array, offset = 0): void {
  const length = data.length;
  const phase = offset & 3;
  let i = 0;
  if (length >= WORD_MIN_BYTES) {
    const lead = (4 - (data.byteOffset & 3)) & 3;
    for (; i < lead; i++) data[i]! ^= mask[(phase + i) & 3]!;
    const p = (phase + i) & 3;
    keyBytes[0] = mask[p]!;
    keyBytes[1] = mask[(p + 1) & 3]!;
    keyBytes[2] = mask[(p + 2) & 3]!;
    keyBytes[3] = mask[(p + 3) & 3]!;
    const key = keyWord[0]!;
    const wordCount = (length - i) >>> 2;
    const words = new Int32Array(data.buffer, data.byteOffset + i, wordCount);
    let w = 0;
    for (const unrolled = wordCount - 8; w <= unrolled; w += 8) {
      words[w]! ^= key;
      words[w + 1]! ^= key;
      words[w + 2]! ^= key;
      words[w + 3]! ^= key;
      words[w + 4]! ^= key;
      words[w + 5]! ^= key;
      words[w + 6]! ^= key;
      words[w + 7]! ^= key;
    }
    for (; w < wordCount; w++) words[w]! ^= key;
    i += wordCount * 4;
  }
  for (; i < length; i++) data[i]! ^= mask[(phase + i) & 3]!;
}

/**
 * The default source of client masking keys. RFC 6455 §5.3: the key "MUST be derived from a strong
 * source of entropy" and unpredictable per frame, so it comes from the CSPRNG; filling a pool and
 * handing out 4-byte slices avoids a system call per frame (ws does the same). The slice is only valid
 * until the next call: `encodeFrame` copies it into the header at once.
 */
export function createMaskSource(poolBytes = 4096): () => Uint8Array {
  const pool = new Uint8Array(poolBytes - (poolBytes % 4) || 4);
  let next = pool.length;
  return () => {
    if (next === pool.length) {
      randomFillSync(pool);
      next = 0;
    }
    const key = pool.subarray(next, next + 4);
    next += 4;
    return key;
  };
}
