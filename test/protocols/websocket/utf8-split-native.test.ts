/**
 * Regression for issue #17: after a piece that ended inside a character, the next piece used to be walked
 * byte by byte in JS (the native `isUtf8` was only tried between characters). It now finishes the split
 * character first and hands the rest to the native check; the verdicts and the offending offsets must
 * be exactly those of feeding the bytes whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Utf8Validator } from '../../../src/protocols/websocket/utf8.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

function verdict(bytes: Uint8Array, splitAt: number): { ok: boolean; complete: boolean; offset: number } {
  const v = new Utf8Validator();
  const ok = v.write(bytes, 0, splitAt) && v.write(bytes, splitAt, bytes.length);
  return { ok, complete: v.complete, offset: v.offset };
}

describe('Utf8Validator: a character split between pieces, then a large piece', () => {
  const body = 'aé€😀'.repeat(200); // 1, 2, 3 and 4-byte characters, well over the native threshold
  for (const lead of ['é', '€', '😀']) {
    it(`splits inside ${lead} at every byte, valid and with an error after the split`, () => {
      const valid = encode(lead + body);
      const broken = Uint8Array.from(valid);
      broken[700] = 0xff; // never valid in UTF-8
      const whole = (bytes: Uint8Array): { ok: boolean; complete: boolean; offset: number } => verdict(bytes, bytes.length);
      for (let at = 1; at < encode(lead).length; at++) {
        assert.deepEqual(verdict(valid, at), whole(valid), `valid, split at ${at}`);
        assert.deepEqual(verdict(broken, at), { ok: false, complete: false, offset: 700 }, `0xff at 700, split at ${at}`);
      }
    });
  }

  it('rejects at the carried character itself when its continuation is wrong', () => {
    const bytes = Uint8Array.from([0xe2, 0x82, 0x41, ...encode('x'.repeat(1000))]);
    assert.deepEqual(verdict(bytes, 2), { ok: false, complete: false, offset: 2 });
  });

  it('a message that ends inside a character is incomplete, not invalid', () => {
    const bytes = encode('x'.repeat(1000) + '€').subarray(0, 1002);
    assert.deepEqual(verdict(bytes, 1), { ok: true, complete: false, offset: 1002 });
  });
});
