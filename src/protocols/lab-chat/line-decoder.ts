/**
 * A sans-IO line splitter for `lab-chat/1`: bytes in with `receive`, lines out of `next`. No socket, no
 * timer: the session file owns those.
 *
 * How this works. A line ends at LF; a CR right before the LF belongs to the terminator, so `\n` and
 * `\r\n` both work (what `nc` and `telnet` send). Unconsumed input is kept as the chunks it arrived in;
 * the bytes of a line that has not ended yet are kept as views into those chunks, never copied until the
 * line is complete. The length cap is judged on the line's content (terminator excluded) the moment it
 * is exceeded: a CR at the very end of an unfinished line might still be half of a CRLF, so it is not
 * counted until the next byte shows what it is. That makes the verdict a function of the bytes alone,
 * the same whether they came in one chunk or one at a time, and the decoder never holds more than
 * `maxLineBytes + 1` bytes of an unfinished line. Each line must be valid UTF-8 (checked once it is
 * whole, so a character split across reads is fine). Errors are sticky.
 */
import { isUtf8 } from 'node:buffer';
import { ProtocolError } from '../../errors.js';

export type LineEvent =
  | { readonly type: 'line'; readonly text: string }
  | { readonly type: 'need-data' }
  /** The peer closed and every line (including an unterminated last one) has been handed out. */
  | { readonly type: 'end' }
  | { readonly type: 'error'; readonly error: ProtocolError };

export const LineErrorCode = {
  TooLong: 'ERR_LINE_TOO_LONG',
  NotUtf8: 'ERR_LINE_NOT_UTF8',
} as const;
export type LineErrorCode = (typeof LineErrorCode)[keyof typeof LineErrorCode];

const LF = 0x0a;
const CR = 0x0d;
const NEED_DATA: LineEvent = Object.freeze({ type: 'need-data' });
const END: LineEvent = Object.freeze({ type: 'end' });

export class LineDecoder {
  readonly #maxLineBytes: number;
  /** Received chunks not yet scanned; the first one from `#offset`. */
  #input: Uint8Array[] = [];
  #offset = 0;
  /** Pieces of the current, unfinished line (views, not copies). */
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  #ended = false;
  #error: LineEvent | undefined;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Bytes received but not yet handed out as lines. */
  get bufferedBytes(): number {
    let total = this.#partialBytes - this.#offset;
    for (const chunk of this.#input) total += chunk.length;
    return total;
  }

  /** Keeps a view of `chunk`: the caller must not reuse its memory. */
  receive(chunk: Uint8Array): void {
    if (this.#error || this.#ended || chunk.length === 0) return;
    this.#input.push(chunk);
  }

  /** The peer sent its FIN: an unterminated last line still counts as a line. */
  receiveEnd(): void {
    this.#ended = true;
  }

  next(): LineEvent {
    if (this.#error) return this.#error;
    while (this.#input.length > 0) {
      const chunk = this.#input[0]!;
      const start = this.#offset;
      const lf = chunk.indexOf(LF, start);
      if (lf === -1) {
        const piece = chunk.subarray(start);
        this.#input.shift();
        this.#offset = 0;
        const bytes = this.#partialBytes + piece.length;
        // A trailing CR may be the first half of CRLF: not content until the next byte says so.
        const content = piece[piece.length - 1] === CR ? bytes - 1 : bytes;
        if (content > this.#maxLineBytes) return this.#tooLong();
        this.#partial.push(piece);
        this.#partialBytes = bytes;
        continue;
      }
      this.#offset = lf + 1;
      if (this.#offset === chunk.length) {
        this.#input.shift();
        this.#offset = 0;
      }
      this.#partial.push(chunk.subarray(start, lf));
      return this.#finishLine(this.#partialBytes + lf - start, true);
    }
    if (this.#ended) {
      if (this.#partialBytes === 0) return END;
      return this.#finishLine(this.#partialBytes, false);
    }
    return NEED_DATA;
  }

  #finishLine(bytes: number, terminated: boolean): LineEvent {
    const pieces = this.#partial;
    this.#partial = [];
    this.#partialBytes = 0;
    let line = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, bytes);
    // CRLF ends a line as well as LF; at the end of input a lone trailing CR is taken the same way.
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > this.#maxLineBytes) return this.#tooLong();
    if (!isUtf8(line)) {
      return this.#fail(new ProtocolError(LineErrorCode.NotUtf8, `a ${terminated ? '' : 'final '}line is not valid UTF-8`));
    }
    return { type: 'line', text: Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8') };
  }

  #tooLong(): LineEvent {
    return this.#fail(new ProtocolError(LineErrorCode.TooLong, `a line is longer than ${this.#maxLineBytes} bytes`));
  }

  #fail(error: ProtocolError): LineEvent {
    this.#error = { type: 'error', error };
    this.#input = [];
    this.#partial = [];
    this.#partialBytes = 0;
    this.#offset = 0;
    return this.#error;
  }
}
