import { isUtf8 } from 'node:buffer';

/**
 * Incremental UTF-8 validation for text messages.
 *
 * How this works: a deterministic automaton in the style of Björn Höhrmann's decoder, but with one row
 * per state and 256 columns (no byte-class compression), built below straight from the table of
 * well-formed byte sequences in the Unicode Standard (§3.9, Table 3-7). Bytes can be fed in pieces of
 * any size; the state carries a partial character across pieces, so a character split across two
 * fragments or two TCP reads validates exactly as if it came whole. The reject state is reached on the
 * very byte that makes the input impossible to complete (an overlong lead `c0`, the `a0` after `ed` that
 * would start a surrogate, the `90` after `f4` that would pass U+10FFFF, ...), which is what RFC 6455
 * §8.1 asks for: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream
 * is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_", and what
 * Autobahn section 6 checks as "fail fast".
 *
 * Speed: ASCII runs are skipped with a tight loop while the automaton is between characters, and large
 * pieces are first handed to Node's native `isUtf8` (SIMD) from their first to their last character
 * boundary; only when that says "invalid" do we walk the automaton byte by byte to find the exact
 * offending byte.
 */

/** States, pre-multiplied by 256 so a transition is one table lookup: `next = TABLE[state + byte]`. */
const ACCEPT = 0;
const REJECT = 1 * 256;
const NEED_1 = 2 * 256; // one continuation byte 80..BF to go
const NEED_2 = 3 * 256; // two to go
const NEED_3 = 4 * 256; // three to go
const AFTER_E0 = 5 * 256; // next must be A0..BF (below is overlong)
const AFTER_ED = 6 * 256; // next must be 80..9F (above would encode a surrogate D800..DFFF)
const AFTER_F0 = 7 * 256; // next must be 90..BF (below is overlong)
const AFTER_F4 = 8 * 256; // next must be 80..8F (above is past U+10FFFF)
const STATE_COUNT = 9;

const TABLE = /* @__PURE__ */ buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(STATE_COUNT * 256).fill(REJECT);
  const edge = (from: number, lo: number, hi: number, to: number): void => {
    for (let byte = lo; byte <= hi; byte++) table[from + byte] = to;
  };
  // Unicode Table 3-7, one row per line: first byte, then what each following byte may be.
  edge(ACCEPT, 0x00, 0x7f, ACCEPT);
  edge(ACCEPT, 0xc2, 0xdf, NEED_1); // C0, C1 are never valid: they can only start overlongs.
  edge(ACCEPT, 0xe0, 0xe0, AFTER_E0);
  edge(ACCEPT, 0xe1, 0xec, NEED_2);
  edge(ACCEPT, 0xed, 0xed, AFTER_ED);
  edge(ACCEPT, 0xee, 0xef, NEED_2);
  edge(ACCEPT, 0xf0, 0xf0, AFTER_F0);
  edge(ACCEPT, 0xf1, 0xf3, NEED_3);
  edge(ACCEPT, 0xf4, 0xf4, AFTER_F4); // F5..FF would be past U+10FFFF.
  edge(NEED_1, 0x80, 0xbf, ACCEPT);
  edge(NEED_2, 0x80, 0xbf, NEED_1);
  edge(NEED_3, 0x80, 0xbf, NEED_2);
  edge(AFTER_E0, 0xa0, 0xbf, NEED_1);
  edge(AFTER_ED, 0x80, 0x9f, NEED_1);
  edge(AFTER_F0, 0x90, 0xbf, NEED_2);
  edge(AFTER_F4, 0x80, 0x8f, NEED_2);
  return table; // The REJECT row stays all REJECT: once invalid, always invalid.
}

/** Below this many bytes the native call costs more than the JS loop saves. */
const NATIVE_MIN_BYTES = 256;

export class Utf8Validator {
  #state = ACCEPT;
  /** Bytes accepted so far (the offset of the offending byte once invalid). */
  #offset = 0;

  /**
   * Feeds `bytes[start, end)`. Returns false as soon as anything fed so far is not a prefix of valid
   * UTF-8, and keeps returning false (sticky) until `reset()`.
   */
  write(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    let state = this.#state;
    if (state === REJECT) return false;
    let i = start;
    // A character split by the previous piece's end is finished first (at most 3 bytes), so the rest of
    // this piece can still go to the native check: otherwise every piece after such a split (a text
    // message arriving in 64 KiB socket reads) would be walked byte by byte.
    while (state !== ACCEPT && i < end) {
      state = TABLE[state + bytes[i]!]!;
      if (state === REJECT) return this.#reject(i - start);
      i++;
    }
    if (state === ACCEPT && end - i >= NATIVE_MIN_BYTES) {
      const boundary = lastCharStart(bytes, i, end);
      if (isUtf8(bytes.subarray(i, boundary))) i = boundary;
      // else: walk from `i` below to find the exact byte (only on the failure path).
    }
    while (i < end) {
      if (state === ACCEPT) {
        while (i < end && bytes[i]! < 0x80) i++; // ASCII run
        if (i === end) break;
      }
      state = TABLE[state + bytes[i]!]!;
      if (state === REJECT) return this.#reject(i - start);
      i++;
    }
    this.#state = state;
    this.#offset += end - start;
    return true;
  }

  /** The byte `validBytes` into the piece broke the encoding: sticky until reset(). */
  #reject(validBytes: number): false {
    this.#state = REJECT;
    this.#offset += validBytes;
    return false;
  }

  /** True when everything fed so far is valid and ends on a character boundary (nothing truncated). */
  get complete(): boolean {
    return this.#state === ACCEPT;
  }

  get failed(): boolean {
    return this.#state === REJECT;
  }

  /** Bytes fed before the first invalid one (or all bytes fed, while valid). */
  get offset(): number {
    return this.#offset;
  }

  reset(): void {
    this.#state = ACCEPT;
    this.#offset = 0;
  }
}

/** One-shot check of a complete byte string. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const validator = new Utf8Validator();
  return validator.write(bytes) && validator.complete;
}

/**
 * Where the last (possibly incomplete) character of `bytes[start, end)` begins, so that everything
 * before it can be checked as complete UTF-8. Only a heuristic: when it guesses wrong the native check
 * says "invalid" and the automaton walks the whole piece, so correctness never depends on it.
 */
function lastCharStart(bytes: Uint8Array, start: number, end: number): number {
  for (let back = 1; back <= 3 && end - back >= start; back++) {
    const byte = bytes[end - back]!;
    if (byte < 0x80) return end; // ASCII: the piece ends on a boundary.
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return length > back ? end - back : end;
    }
    // A continuation byte: keep looking for its lead.
  }
  return end;
}
