/**
 * The bytes a parser has received but not yet consumed, kept as the list of chunks they arrived in.
 *
 * How this works: `append` stores a zero-copy view of each chunk. Positions in every method are offsets
 * into the unconsumed bytes (0 = the oldest unconsumed byte). `indexOf` searches across chunk boundaries
 * with the native `Buffer#indexOf` inside each chunk plus a byte-wise check of the few positions where a
 * needle could straddle two chunks; callers make a search resumable by passing where the last one stopped
 * (`length - needle.length + 1`), so finding the end of a head is O(n) however the bytes were chunked.
 * `take(n)` and `takeUpTo(max)` return views into the original chunk when the bytes lie in one chunk and
 * copy only when they span several; `takeAll` is the one concat, used when handing a connection over.
 * The WebSocket frame decoder uses the same buffer: `peek` for a header that straddles chunks, then
 * `takeUpTo` for payload, which hands a wholly consumed chunk back as itself, without even a view.
 */

const EMPTY = Buffer.alloc(0);

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class ReceiveBuffer {
  /** As received: Buffers from a socket; Buffer methods reach other Uint8Arrays through asBuffer. */
  #chunks: Uint8Array[] = [];
  /** Index in #chunks of the chunk holding the oldest unconsumed byte. */
  #first = 0;
  /** Bytes of #chunks[#first] already consumed. */
  #offset = 0;
  #length = 0;

  /** Unconsumed bytes. */
  get length(): number {
    return this.#length;
  }

  /** Keeps a reference to `chunk` (no copy): the caller must not reuse its memory. */
  append(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.byteLength;
  }

  /** The byte at `index` (0 ≤ index < length). */
  byteAt(index: number): number {
    const chunks = this.#chunks;
    const first = chunks[this.#first]!;
    const inFirst = first.length - this.#offset;
    if (index < inFirst) return first[this.#offset + index]!;
    // Positions near the end are the common case (checking the byte before a fresh match): walk back.
    let base = this.#length;
    for (let ci = chunks.length - 1; ; ci--) {
      const chunk = chunks[ci]!;
      base -= ci === this.#first ? inFirst : chunk.length;
      if (index >= base) return chunk[(ci === this.#first ? this.#offset : 0) + index - base]!;
    }
  }

  /**
   * The position of the first occurrence of `needle` (a byte value or a byte sequence) lying entirely in
   * [from, end), or -1. `end` defaults to `length`.
   */
  indexOf(needle: number | Uint8Array, from = 0, end = this.#length): number {
    if (end > this.#length) end = this.#length;
    if (from < 0) from = 0;
    const needleLength = typeof needle === 'number' ? 1 : needle.length;
    if (end - from < needleLength) return -1;
    const chunks = this.#chunks;
    // Find the chunk holding `from`, walking back from the end: resumed searches start near it.
    let ci = chunks.length - 1;
    let base = this.#length - this.#liveLength(ci);
    while (base > from) {
      ci--;
      base -= this.#liveLength(ci);
    }
    for (; ci < chunks.length && base < end; ci++) {
      const chunk = chunks[ci]!;
      const start = ci === this.#first ? this.#offset : 0;
      const live = chunk.length - start;
      const windowFrom = from > base ? from - base : 0;
      const windowEnd = end - base < live ? end - base : live;
      if (windowEnd - windowFrom >= needleLength) {
        // The native search may run on past `end` to the end of this chunk (never further): a hit there
        // means there is none before `end` in this chunk, and no view has to be allocated to stop it.
        const hit = asBuffer(chunk).indexOf(needle, start + windowFrom) - start;
        if (hit >= 0) return hit + needleLength <= windowEnd ? base + hit : -1;
      }
      if (needleLength > 1 && ci + 1 < chunks.length) {
        // Matches straddling this chunk's end: at most needleLength - 1 candidate positions.
        const chunkEnd = base + live;
        let p = chunkEnd - needleLength + 1;
        if (p < from) p = from;
        for (; p < chunkEnd && p + needleLength <= end; p++) {
          if (this.#matchesAt(needle as Uint8Array, ci, start + p - base)) return p;
        }
      }
      base += live;
    }
    return -1;
  }

  /** Copies the first `count` unconsumed bytes (count ≤ length) into `target` without consuming them. */
  peek(target: Uint8Array, count: number): void {
    let ci = this.#first;
    let from = this.#offset;
    let copied = 0;
    // Byte by byte: this is for frame headers (at most 14 bytes), where a view per chunk costs more.
    while (copied < count) {
      const chunk = this.#chunks[ci]!;
      const end = Math.min(chunk.length, from + count - copied);
      for (let at = from; at < end; at++) target[copied++] = chunk[at]!;
      from = 0;
      ci++;
    }
  }

  /** Decodes the first `n` unconsumed bytes as latin1 without consuming them (copies only across chunks). */
  latin1(n: number): string {
    if (n === 0) return '';
    const first = this.#chunks[this.#first]!;
    if (this.#offset + n <= first.length) return asBuffer(first).toString('latin1', this.#offset, this.#offset + n);
    return this.#gather(n).toString('latin1');
  }

  /** Drops the first `n` unconsumed bytes (n ≤ length). */
  skip(n: number): void {
    this.#length -= n;
    if (this.#length === 0) {
      this.#reset();
      return;
    }
    const chunks = this.#chunks;
    for (;;) {
      const live = chunks[this.#first]!.length - this.#offset;
      if (n < live) {
        this.#offset += n;
        break;
      }
      n -= live;
      chunks[this.#first] = EMPTY;
      this.#first++;
      this.#offset = 0;
    }
    // Drop consumed slots now and then so a long-lived buffer does not grow its array forever.
    if (this.#first >= 64 && this.#first * 2 >= chunks.length) {
      this.#chunks = chunks.slice(this.#first);
      this.#first = 0;
    }
  }

  /** Consumes and returns the first `n` bytes: a view when they lie in one chunk, else one copy. */
  take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const first = this.#chunks[this.#first]!;
    if (this.#offset + n <= first.length) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.skip(n);
      return view;
    }
    const copy = this.#gather(n);
    this.skip(n);
    return copy;
  }

  /** Consumes and returns up to `max` bytes from the first chunk only: always a view, never a copy. */
  takeUpTo(max: number): Uint8Array {
    if (this.#length === 0 || max === 0) return EMPTY;
    const first = this.#chunks[this.#first]!;
    const start = this.#offset;
    const live = first.length - start;
    const n = live < max ? live : max;
    const view = start === 0 && n === live ? first : first.subarray(start, start + n);
    this.skip(n);
    return view;
  }

  /** Consumes and returns every unconsumed byte (one concat unless they already lie in one chunk). */
  takeAll(): Uint8Array {
    return this.take(this.#length);
  }

  /** Forgets every unconsumed byte. */
  clear(): void {
    this.#length = 0;
    this.#reset();
  }

  #liveLength(ci: number): number {
    const chunk = this.#chunks[ci]!;
    return ci === this.#first ? chunk.length - this.#offset : ci < this.#first ? 0 : chunk.length;
  }

  /** Whether `needle` starts at index `at` of chunk `ci`, continuing into the following chunks. */
  #matchesAt(needle: Uint8Array, ci: number, at: number): boolean {
    const chunks = this.#chunks;
    let chunk = chunks[ci]!;
    for (let j = 0; j < needle.length; j++, at++) {
      while (at >= chunk.length) {
        if (++ci === chunks.length) return false;
        chunk = chunks[ci]!;
        at = 0;
      }
      if (chunk[at] !== needle[j]) return false;
    }
    return true;
  }

  /** Copies the first `n` unconsumed bytes (which span chunks) into a new Buffer. */
  #gather(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    for (let ci = this.#first; written < n; ci++) {
      const chunk = this.#chunks[ci]!;
      const start = ci === this.#first ? this.#offset : 0;
      const count = Math.min(chunk.length - start, n - written);
      asBuffer(chunk).copy(out, written, start, start + count);
      written += count;
    }
    return out;
  }

  #reset(): void {
    // Emptied in place: a WebSocket consumes every chunk whole, and a new array per chunk is garbage.
    this.#chunks.length = 0;
    this.#first = 0;
    this.#offset = 0;
  }
}
