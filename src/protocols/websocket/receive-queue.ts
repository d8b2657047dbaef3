/**
 * The bytes received and not yet consumed, kept as the list of chunks they arrived in (as ws and undici
 * do). Nothing is ever concatenated: a reader peeks at a few header bytes across chunk boundaries, skips
 * them, and takes payload as zero-copy views of one chunk at a time. Consumed chunks are dropped, so a
 * long stream costs memory for the unread bytes only.
 *
 * Ownership: a chunk handed to `push` belongs to the queue; views of it are handed out as-is.
 */
export class ReceiveQueue {
  #chunks: Array<Uint8Array | undefined> = [];
  /** Index of the first chunk with unread bytes. */
  #first = 0;
  /** Bytes already read from `#chunks[#first]`. */
  #offset = 0;
  #length = 0;

  /** Unread bytes. */
  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The unread byte at `index` (which must be < length). */
  byteAt(index: number): number {
    let i = this.#first;
    let at = index + this.#offset;
    for (;;) {
      const chunk = this.#chunks[i]!;
      if (at < chunk.length) return chunk[at]!;
      at -= chunk.length;
      i++;
    }
  }

  /** Copies the first `count` unread bytes (count <= length) into `target` without consuming them. */
  peek(target: Uint8Array, count: number): void {
    let i = this.#first;
    let from = this.#offset;
    let copied = 0;
    // Byte by byte: this is for headers (at most 14 bytes), where a subarray per chunk costs more.
    while (copied < count) {
      const chunk = this.#chunks[i]!;
      const end = Math.min(chunk.length, from + count - copied);
      for (let at = from; at < end; at++) target[copied++] = chunk[at]!;
      from = 0;
      i++;
    }
  }

  /** Consumes `count` bytes (count <= length). */
  skip(count: number): void {
    if (count === 0) return;
    this.#length -= count;
    let offset = this.#offset + count;
    for (;;) {
      const chunk = this.#chunks[this.#first]!;
      if (offset < chunk.length) break;
      offset -= chunk.length;
      this.#drop();
      if (offset === 0) break;
    }
    this.#offset = offset;
  }

  /** Consumes and returns up to `max` bytes (max >= 1, length >= 1): a view of the first chunk, no copy. */
  take(max: number): Uint8Array {
    const chunk = this.#chunks[this.#first]!;
    const start = this.#offset;
    const available = chunk.length - start;
    if (max >= available) {
      this.#drop();
      this.#offset = 0;
      this.#length -= available;
      return start === 0 ? chunk : chunk.subarray(start);
    }
    this.#offset = start + max;
    this.#length -= max;
    return chunk.subarray(start, start + max);
  }

  /** Forgets everything unread. */
  clear(): void {
    this.#chunks = [];
    this.#first = 0;
    this.#offset = 0;
    this.#length = 0;
  }

  #drop(): void {
    this.#chunks[this.#first] = undefined;
    this.#first++;
    if (this.#first === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#first = 0;
    } else if (this.#first >= 64 && this.#first * 2 >= this.#chunks.length) {
      // Compact now and then, so the array does not grow without bound while always partly unread.
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }
}
