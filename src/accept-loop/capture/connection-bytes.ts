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

/**
 * Pieces gathered before they join the kept string. `+=` on a V8 string makes a rope node per piece
 * (about 32 bytes each): with one per 1-byte chunk a client could make 64 KiB of kept bytes cost 2 MB.
 * Joined every this many pieces, the rope has a node per batch instead, and nothing is ever re-copied.
 */
const PIECES_PER_JOIN = 64;
/** Chunk times kept per direction: past this, later frames show the time of the last one kept. */
const MAX_MARKS = 2 * 1024;

export class ConnectionBytes {
  readonly limit: number;
  /** Client → server (what the lab read) and server → client (what it wrote), the kept part. */
  #in = '';
  #out = '';
  #inPieces: string[] | undefined;
  #outPieces: string[] | undefined;
  #inKept = 0;
  #outKept = 0;
  #inTotal = 0;
  #outTotal = 0;
  #inMarks = 0;
  #outMarks = 0;
  /**
   * Per kept chunk: (offset × 2 + 1 for `out`), then when (ms since the epoch). Made by a literal at the
   * first chunk: an empty array that grows by push reserves 16 slots, most of which an idle connection
   * (one chunk each way) never fills.
   */
  #marks: number[] | undefined;

  constructor(limit: number) { this.limit = limit; }

  /**
   * Keep what fits of `chunk` under the limit; count all of it. A string is latin1 (one character per
   * byte, as a head is written) and is kept as it is, with no round trip through a Buffer.
   */
  add(direction: Direction, chunk: Uint8Array | string, at: number): void {
    const out = direction === 'out';
    if (out) this.#outTotal += chunk.length; else this.#inTotal += chunk.length;
    const kept = out ? this.#outKept : this.#inKept;
    const room = this.limit - kept;
    if (room <= 0) return;
    const taken = Math.min(room, chunk.length);
    // Part of a string goes through a Buffer: V8's slice of a string would keep all of it alive.
    const piece = typeof chunk === 'string' && taken === chunk.length ? chunk
      : typeof chunk === 'string' ? Buffer.from(chunk.slice(0, taken), 'latin1').toString('latin1')
        : Buffer.from(chunk.buffer, chunk.byteOffset, taken).toString('latin1');
    const mark = kept * 2 + (out ? 1 : 0);
    if ((out ? this.#outMarks++ : this.#inMarks++) < MAX_MARKS) {
      if (this.#marks === undefined) this.#marks = [mark, at]; else this.#marks.push(mark, at);
    }
    if (out) {
      this.#outKept += taken;
      if (this.#out === '') this.#out = piece;
      else if ((this.#outPieces ??= []).push(piece) === PIECES_PER_JOIN) this.#out += this.#takePieces('out');
    } else {
      this.#inKept += taken;
      if (this.#in === '') this.#in = piece;
      else if ((this.#inPieces ??= []).push(piece) === PIECES_PER_JOIN) this.#in += this.#takePieces('in');
    }
  }

  #takePieces(direction: Direction): string {
    const pieces = direction === 'out' ? this.#outPieces : this.#inPieces;
    if (direction === 'out') this.#outPieces = undefined; else this.#inPieces = undefined;
    return pieces === undefined ? '' : pieces.join('');
  }

  /** Every byte that went this way, kept or not. */
  total(direction: Direction): number { return direction === 'out' ? this.#outTotal : this.#inTotal; }
  keptBytes(direction: Direction): number { return direction === 'out' ? this.#outKept : this.#inKept; }
  /** The kept bytes, as a new Buffer. */
  kept(direction: Direction): Buffer {
    if (direction === 'out') this.#out += this.#takePieces('out'); else this.#in += this.#takePieces('in');
    return Buffer.from(direction === 'out' ? this.#out : this.#in, 'latin1');
  }

  /** Chunk boundaries of one direction as [offset, atMs] pairs, oldest first (at most MAX_MARKS). */
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

  /** When the byte at `offset` of one direction was read or written (the last kept chunk time past MAX_MARKS). */
  timeOf(direction: Direction, offset: number): number | null {
    let found: number | null = null;
    for (const [start, at] of this.chunks(direction)) {
      if (start > offset) break;
      found = at;
    }
    return found;
  }
}
