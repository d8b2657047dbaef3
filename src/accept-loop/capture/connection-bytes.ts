/**
 * The first bytes of a connection, each way, for the lab's byte view (`/_lab/connections/ID/bytes`, the
 * dashboard): what a learner compares with the RFC's diagrams. Bounded by `labBytesPerConnection` per
 * direction; past it bytes are only counted. Copies are taken because a writer may reuse its buffer after
 * the write, and a slice would keep a whole large chunk alive for a few bytes of it.
 */
export class DirectionBytes {
  #kept: Buffer = EMPTY;
  #keptBytes = 0;
  /** Every byte that went this way, kept or not. */
  total = 0;
  /** Pairs of (offset where a chunk began, when it was read or written in ms since the epoch). */
  readonly #marks: number[] = [];

  /** Keep what fits of `chunk` under `limit`; count all of it. True while there is room for more. */
  add(chunk: Uint8Array, at: number, limit: number): boolean {
    this.total += chunk.length;
    const room = limit - this.#keptBytes;
    if (room <= 0) return false;
    const taken = Math.min(room, chunk.length);
    if (this.#keptBytes + taken > this.#kept.length) {
      // Doubling keeps the copying linear; the first allocation fits the first chunk exactly (an idle
      // WebSocket keeps only its handshake).
      const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(this.#keptBytes + taken, this.#kept.length * 2)));
      this.#kept.copy(grown, 0, 0, this.#keptBytes);
      this.#kept = grown;
    }
    this.#kept.set(chunk.subarray(0, taken), this.#keptBytes);
    this.#marks.push(this.#keptBytes, at);
    this.#keptBytes += taken;
    return this.#keptBytes < limit;
  }

  get keptBytes(): number { return this.#keptBytes; }

  /** The kept bytes (a view: copy before keeping it past the next add). */
  bytes(): Buffer { return this.#kept.subarray(0, this.#keptBytes); }

  /** When the byte at `offset` was read or written. */
  timeOf(offset: number): number | null {
    const marks = this.#marks;
    let found: number | null = null;
    for (let i = 0; i < marks.length && marks[i]! <= offset; i += 2) found = marks[i + 1]!;
    return found;
  }

  /** Chunk boundaries as [offset, atMs] pairs, oldest first. */
  chunks(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.#marks.length; i += 2) out.push([this.#marks[i]!, this.#marks[i + 1]!]);
    return out;
  }
}

const EMPTY = Buffer.alloc(0);

/** Client → server (`in`, what the lab read) and server → client (`out`, what it wrote). */
export class ConnectionBytes {
  readonly in = new DirectionBytes();
  readonly out = new DirectionBytes();
  constructor(readonly limit: number) {}
}
