/**
 * The first bytes of a connection, each way, for the lab's byte view (`/_lab/connections/ID/bytes`, the
 * dashboard): what a learner compares with the RFC's diagrams. Bounded by `labBytesPerConnection` per
 * direction; past it bytes are only counted.
 *
 * Every connection keeps these for as long as it lives, so they are kept small: as latin1 strings (one
 * byte per character, inside V8's heap) rather than Buffers, whose ArrayBuffer and backing store cost a
 * few hundred bytes each before any data, more than an idle WebSocket's whole handshake. A copy is taken
 * either way: a writer may reuse its buffer after the write, and a slice would keep a large chunk alive.
 */
export type Direction = 'in' | 'out';

/** Appends between flattenings: V8 strings built by `+=` are ropes, a node per piece until flattened. */
const FLATTEN_EVERY = 64;

export class ConnectionBytes {
  readonly limit: number;
  /** Client → server (what the lab read) and server → client (what it wrote), the kept part. */
  #in = '';
  #out = '';
  #inTotal = 0;
  #outTotal = 0;
  /**
   * Per kept chunk: (offset × 2 + 1 for `out`), then when (ms since the epoch). Made by a literal at the
   * first chunk: an empty array that grows by push reserves 16 slots, most of which an idle connection
   * (one chunk each way) never fills.
   */
  #marks: number[] | undefined;

  constructor(limit: number) { this.limit = limit; }

  /** Keep what fits of `chunk` under the limit; count all of it. */
  add(direction: Direction, chunk: Uint8Array, at: number): void {
    const out = direction === 'out';
    if (out) this.#outTotal += chunk.length; else this.#inTotal += chunk.length;
    const kept = out ? this.#out : this.#in;
    const room = this.limit - kept.length;
    if (room <= 0) return;
    const piece = Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(room, chunk.length)).toString('latin1');
    const mark = kept.length * 2 + (out ? 1 : 0);
    if (this.#marks === undefined) this.#marks = [mark, at]; else this.#marks.push(mark, at);
    let grown = kept + piece;
    if ((this.#marks.length / 2) % FLATTEN_EVERY === 0) grown = Buffer.from(grown, 'latin1').toString('latin1');
    if (out) this.#out = grown; else this.#in = grown;
  }

  /** Every byte that went this way, kept or not. */
  total(direction: Direction): number { return direction === 'out' ? this.#outTotal : this.#inTotal; }
  keptBytes(direction: Direction): number { return (direction === 'out' ? this.#out : this.#in).length; }
  /** The kept bytes, as a new Buffer. */
  kept(direction: Direction): Buffer { return Buffer.from(direction === 'out' ? this.#out : this.#in, 'latin1'); }

  /** Chunk boundaries of one direction as [offset, atMs] pairs, oldest first. */
  chunks(direction: Direction): Array<[number, number]> {
    const bit = direction === 'out' ? 1 : 0;
    const found: Array<[number, number]> = [];
    const marks = this.#marks ?? [];
    for (let i = 0; i < marks.length; i += 2) {
      const mark = marks[i]!;
      if ((mark & 1) === bit) found.push([mark >>> 1, marks[i + 1]!]);
    }
    return found;
  }

  /** When the byte at `offset` of one direction was read or written. */
  timeOf(direction: Direction, offset: number): number | null {
    let found: number | null = null;
    for (const [start, at] of this.chunks(direction)) {
      if (start > offset) break;
      found = at;
    }
    return found;
  }
}
