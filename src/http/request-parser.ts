/**
 * A sans-IO HTTP/1.1 request parser (RFC 9112): bytes go in with `receive`, events come out of `next`.
 * No socket, timer or EventEmitter; nothing a client sends makes it throw — every problem is an `error`
 * event carrying a ProtocolError with a stable code and the status to answer with, and it is sticky.
 *
 * How this works. The parser is a state machine over one ReceiveBuffer (the chunks as they arrived):
 *
 *   head ─┬─ no body ───────────────────────────────────────────────────────────────┐
 *         ├─ Content-Length ─▶ length-body ─────────────────────────────────────────┤
 *         └─ chunked ─▶ chunk-line ─▶ chunk-data ─▶ chunk-data-end ─▶ chunk-line …  │
 *                       chunk-line with size 0 ─▶ trailers ─────────────────────────┴─▶ end
 *   end ─('end' event)─▶ paused ─resume()─▶ head
 *   head at a message boundary after receiveEnd() ─▶ closed;  any state ─bad bytes─▶ error (sticky)
 *
 * The head. The common case is that a whole head sits in one chunk: one resumable search for CRLFCRLF
 * (bounded by the largest head the limits allow), one latin1 decode of exactly the head, then one pass
 * over its lines (request-line.ts, field-lines.ts) and the framing checks (head-semantics.ts). Lines are
 * judged in order, each once its LF is present, so the verdict is a function of the bytes alone. While the
 * head is incomplete the parser also scans the new bytes for LFs (resuming where it stopped), to learn
 * where the request-line ends and to notice a bare LF at once. When a limit is reached before the head
 * ends, it decodes the complete lines it has and reports their first error, else the limit: exactly what
 * the whole input would have produced, however it was chunked. Nothing past the largest legal head is
 * ever decoded, and the limits are decided as soon as that many bytes are in.
 *
 * The body is handed out as views into the received chunks (no copies), Content-Length or chunked, with
 * the size limit decided from the declared length or each chunk size before the data is read.
 */
import { ProtocolError } from '../errors.js';
import type { Limits } from '../limits.js';
import { parseChunkLine } from './chunk-line.js';
import { bareCr, decodeFieldLines } from './field-lines.js';
import { CR, LF } from './grammar.js';
import { interpretHead } from './head-semantics.js';
import { ReceiveBuffer } from './receive-buffer.js';
import type { Field, RequestHead } from './request-head.js';
import { parseRequestLine } from './request-line.js';

export type ParserLimits = Pick<Limits, 'requestLineBytes' | 'headerBytes' | 'bodyBytes' | 'chunkLineBytes'>;

export type ParserEvent =
  | { readonly type: 'request'; readonly head: RequestHead }
  | { readonly type: 'body'; readonly data: Uint8Array }
  | { readonly type: 'end'; readonly trailers: readonly Field[] }
  | { readonly type: 'need-data' }
  | { readonly type: 'paused' }
  | { readonly type: 'closed' }
  | { readonly type: 'error'; readonly error: ProtocolError };

const NEED_DATA: ParserEvent = Object.freeze({ type: 'need-data' });
const PAUSED_EVENT: ParserEvent = Object.freeze({ type: 'paused' });
const CLOSED_EVENT: ParserEvent = Object.freeze({ type: 'closed' });
const END_NO_TRAILERS: ParserEvent = Object.freeze({ type: 'end', trailers: Object.freeze([]) as readonly Field[] });

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

const HEAD = 0;
const LENGTH_BODY = 1;
const CHUNK_LINE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const END = 6;
const PAUSED = 7;
const CLOSED = 8;
const ERROR = 9;
type State = typeof HEAD | typeof LENGTH_BODY | typeof CHUNK_LINE | typeof CHUNK_DATA | typeof CHUNK_DATA_END
  | typeof TRAILERS | typeof END | typeof PAUSED | typeof CLOSED | typeof ERROR;

type DecodedHead = { readonly head: RequestHead; readonly end: number };

export class RequestParser {
  readonly #limits: ParserLimits;
  readonly #buffer = new ReceiveBuffer();
  #state: State = HEAD;
  #ended = false;
  #errorEvent: ParserEvent | undefined;

  /** A byte of the current head other than leading empty lines has arrived. */
  #headStarted = false;
  /** Where the resumable CRLFCRLF (or chunk-line LF) search starts next time. */
  #scan = 0;
  /** Where the resumable LF scan of an incomplete head or trailer section starts next time. */
  #lfScan = 0;
  /** Index of the request-line's LF once seen, else -1. */
  #lineEnd = -1;

  /** Content bytes still to deliver: of the Content-Length body or of the current chunk. */
  #remaining = 0;
  /** Sum of the chunk sizes declared so far, for the body limit. */
  #chunkedTotal = 0;
  #endEvent: ParserEvent = END_NO_TRAILERS;

  constructor(limits: ParserLimits) {
    // A frozen object (the server's resolved limits) is shared as is; anything else is copied, so a
    // caller changing its object later cannot change a parser's limits mid-request.
    this.#limits = Object.isFrozen(limits) ? limits : {
      requestLineBytes: limits.requestLineBytes,
      headerBytes: limits.headerBytes,
      bodyBytes: limits.bodyBytes,
      chunkLineBytes: limits.chunkLineBytes,
    };
  }

  /** Bytes received and not yet consumed. */
  get bufferedBytes(): number {
    return this.#buffer.length;
  }

  /** Adds bytes from the peer. Keeps a reference to `chunk` (no copy). Ignored after an error or close. */
  receive(chunk: Uint8Array): void {
    if (this.#state === ERROR || this.#state === CLOSED) return;
    this.#buffer.append(chunk);
  }

  /** The peer half-closed: no more bytes will come. */
  receiveEnd(): void {
    this.#ended = true;
  }

  /** Starts the next request after an `end` event (pipelining). A no-op in any other state. */
  resume(): void {
    if (this.#state !== PAUSED) return;
    this.#state = HEAD;
    this.#resetScan();
  }

  /**
   * Removes and returns every unconsumed byte: after an upgrade request, the bytes the client sent behind
   * it belong to the new protocol (nothing lost, nothing doubled).
   */
  takeBuffered(): Uint8Array {
    this.#resetScan();
    return this.#buffer.takeAll();
  }

  next(): ParserEvent {
    for (;;) {
      let event: ParserEvent | undefined;
      switch (this.#state) {
        case HEAD: return this.#readHead();
        case LENGTH_BODY: return this.#readLengthBody();
        case CHUNK_LINE: event = this.#readChunkLine(); break;
        case CHUNK_DATA: return this.#readChunkData();
        case CHUNK_DATA_END: event = this.#readChunkDataEnd(); break;
        case TRAILERS: event = this.#readTrailers(); break;
        case END:
          this.#state = PAUSED;
          event = this.#endEvent;
          this.#endEvent = END_NO_TRAILERS;
          return event;
        case PAUSED: return PAUSED_EVENT;
        case CLOSED: return CLOSED_EVENT;
        case ERROR: return this.#errorEvent!;
      }
      if (event !== undefined) return event;
    }
  }

  // ── head ────────────────────────────────────────────────────────────────────────────────────────────

  #readHead(): ParserEvent {
    const buffer = this.#buffer;
    if (!this.#headStarted) {
      // RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD ignore at
      // least one empty line (CRLF) received prior to the request-line."
      for (;;) {
        if (buffer.length === 0) return this.#ended ? this.#close() : NEED_DATA;
        const first = buffer.byteAt(0);
        if (first === LF) return this.#fail(new ProtocolError('ERR_BARE_LF', 'line ended by LF without CR', { status: 400 }));
        if (first !== CR) break;
        if (buffer.length < 2) return this.#needData();
        if (buffer.byteAt(1) !== LF) return this.#fail(bareCr());
        buffer.skip(2);
      }
      this.#headStarted = true;
    }

    const limits = this.#limits;
    const maxHead = limits.requestLineBytes + 2 + limits.headerBytes;
    const length = buffer.length;
    const bound = length < maxHead ? length : maxHead;
    const at = buffer.indexOf(CRLFCRLF, this.#scan, bound);
    if (at >= 0) {
      const decoded = this.#decodeHead(buffer.latin1(at + 4));
      if (decoded instanceof ProtocolError) return this.#fail(decoded);
      // A text holding CRLFCRLF always ends its field section there (or fails before); see field-lines.ts.
      buffer.skip(decoded!.end);
      return this.#startBody(decoded!.head);
    }
    this.#scan = bound > 3 ? bound - 3 : 0;
    return this.#headIncomplete(bound);
  }

  /** No CRLFCRLF in the first `bound` bytes: decide early what a limit or a bare LF already decides. */
  #headIncomplete(bound: number): ParserEvent {
    const buffer = this.#buffer;
    const limits = this.#limits;
    for (let p = this.#lfScan; p < bound;) {
      const lf = buffer.indexOf(LF, p, bound);
      if (lf < 0) break;
      // Index 0 is never LF here (leading empty lines were skipped above).
      if (buffer.byteAt(lf - 1) !== CR) return this.#failHeadPrefix(bound);
      if (this.#lineEnd < 0) {
        this.#lineEnd = lf;
        if (lf - 1 > limits.requestLineBytes) return this.#failHeadPrefix(bound);
      }
      p = lf + 1;
    }
    this.#lfScan = bound;
    if (this.#lineEnd < 0) {
      // The request-line is still open; its length so far (a final CR may yet be part of CRLF) is a lower
      // bound. RFC 9112 §3: a server receiving a request-target longer than it wishes to parse "MUST
      // respond with a 414 (URI Too Long)". Decided as soon as the limit is passed, never buffering more.
      const known = bound - (buffer.byteAt(bound - 1) === CR ? 1 : 0);
      if (known > limits.requestLineBytes) return this.#fail(requestLineTooLong(limits.requestLineBytes));
    } else if (bound - (this.#lineEnd + 1) >= limits.headerBytes) {
      // The open field line will end past the limit (RFC 6585 §5: 431), unless an earlier line is bad.
      return this.#failHeadPrefix(bound);
    }
    return this.#needData();
  }

  /** An error is certain within the first `n` bytes: report the one the complete lines there give. */
  #failHeadPrefix(n: number): ParserEvent {
    const decoded = this.#decodeHead(this.#buffer.latin1(n));
    if (decoded instanceof ProtocolError) return this.#fail(decoded);
    return this.#fail(headerSectionTooLarge(this.#limits.headerBytes));
  }

  /** Decodes a head from `text`: the head and where it ends, a ProtocolError, or undefined if incomplete. */
  #decodeHead(text: string): DecodedHead | ProtocolError | undefined {
    const limits = this.#limits;
    const lf = text.indexOf('\n');
    if (lf < 0) return undefined;
    const lineEnd = text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
    if (lineEnd > limits.requestLineBytes) return requestLineTooLong(limits.requestLineBytes);
    if (lineEnd === lf) return new ProtocolError('ERR_BARE_LF', 'line ended by LF without CR', { status: 400 });
    const line = parseRequestLine(text, lineEnd);
    if (line instanceof ProtocolError) return line;
    const fields: Field[] = [];
    const end = decodeFieldLines(text, lf + 1, limits, fields);
    if (end instanceof ProtocolError) return end;
    if (end < 0) return undefined;
    const head = interpretHead(line, fields, limits.bodyBytes);
    if (head instanceof ProtocolError) return head;
    return { head, end };
  }

  #startBody(head: RequestHead): ParserEvent {
    this.#resetScan();
    const body = head.body;
    if (body.kind === 'length' && body.length > 0) {
      this.#remaining = body.length;
      this.#state = LENGTH_BODY;
    } else if (body.kind === 'chunked') {
      this.#chunkedTotal = 0;
      this.#state = CHUNK_LINE;
    } else {
      this.#state = END;
    }
    return { type: 'request', head };
  }

  // ── Content-Length body (RFC 9112 §6.2) ────────────────────────────────────────────────────────────

  #readLengthBody(): ParserEvent {
    if (this.#buffer.length === 0) return this.#needData();
    const data = this.#buffer.takeUpTo(this.#remaining);
    this.#remaining -= data.length;
    if (this.#remaining === 0) this.#state = END;
    return { type: 'body', data };
  }

  // ── chunked body (RFC 9112 §7.1) ────────────────────────────────────────────────────────────────────

  #readChunkLine(): ParserEvent | undefined {
    const buffer = this.#buffer;
    const limits = this.#limits;
    const length = buffer.length;
    if (length === 0) return this.#needData();
    const max = limits.chunkLineBytes;
    const bound = length < max + 2 ? length : max + 2;
    const lf = buffer.indexOf(LF, this.#scan, bound);
    if (lf < 0) {
      this.#scan = bound;
      // Same early decision as for the request-line: the line so far already passes the limit.
      const known = bound - (buffer.byteAt(bound - 1) === CR ? 1 : 0);
      if (known > max) return this.#fail(chunkLineTooLong(max));
      return this.#needData();
    }
    const lineEnd = lf > 0 && buffer.byteAt(lf - 1) === CR ? lf - 1 : lf;
    if (lineEnd > max) return this.#fail(chunkLineTooLong(max));
    if (lineEnd === lf) return this.#fail(new ProtocolError('ERR_BARE_LF', 'line ended by LF without CR', { status: 400 }));
    const size = parseChunkLine(buffer.latin1(lineEnd));
    if (size instanceof ProtocolError) return this.#fail(size);
    buffer.skip(lf + 1);
    this.#scan = 0;
    // RFC 9110 §15.5.14 (413), decided from the chunk size before any of its data is read.
    if (size > limits.bodyBytes - this.#chunkedTotal) {
      return this.#fail(new ProtocolError(
        'ERR_BODY_TOO_LARGE', `chunked body exceeds the limit of ${limits.bodyBytes} bytes`, { status: 413 },
      ));
    }
    this.#chunkedTotal += size;
    if (size === 0) {
      // last-chunk = 1*("0") [ chunk-ext ] CRLF, then trailer-section CRLF
      this.#state = TRAILERS;
      this.#lfScan = 0;
    } else {
      this.#remaining = size;
      this.#state = CHUNK_DATA;
    }
    return undefined;
  }

  #readChunkData(): ParserEvent {
    if (this.#buffer.length === 0) return this.#needData();
    const data = this.#buffer.takeUpTo(this.#remaining);
    this.#remaining -= data.length;
    if (this.#remaining === 0) this.#state = CHUNK_DATA_END;
    return { type: 'body', data };
  }

  /** RFC 9112 §7.1: chunk-data is followed by exactly CRLF; anything else means the framing is wrong. */
  #readChunkDataEnd(): ParserEvent | undefined {
    const buffer = this.#buffer;
    if (buffer.length === 0) return this.#needData();
    if (buffer.byteAt(0) !== CR) return this.#fail(missingChunkCrlf());
    if (buffer.length < 2) return this.#needData();
    if (buffer.byteAt(1) !== LF) return this.#fail(missingChunkCrlf());
    buffer.skip(2);
    this.#state = CHUNK_LINE;
    return undefined;
  }

  /**
   * RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), then the final CRLF. Trailer fields follow the
   * header rules and limits; they are delivered with `end`, never merged into the head (RFC 9110 §6.5.1).
   */
  #readTrailers(): ParserEvent | undefined {
    const buffer = this.#buffer;
    const length = buffer.length;
    if (length === 0) return this.#needData();
    if (buffer.byteAt(0) === CR) {
      if (length < 2) return this.#needData();
      if (buffer.byteAt(1) === LF) {
        buffer.skip(2);
        this.#state = END;
        return undefined;
      }
    }
    const limits = this.#limits;
    const bound = length < limits.headerBytes ? length : limits.headerBytes;
    const at = buffer.indexOf(CRLFCRLF, this.#scan, bound);
    if (at >= 0) {
      const trailers: Field[] = [];
      const end = decodeFieldLines(buffer.latin1(at + 4), 0, limits, trailers);
      if (end instanceof ProtocolError) return this.#fail(end);
      buffer.skip(end);
      this.#endEvent = { type: 'end', trailers };
      this.#state = END;
      return undefined;
    }
    this.#scan = bound > 3 ? bound - 3 : 0;
    let bad = false;
    for (let p = this.#lfScan; p < bound;) {
      const lf = buffer.indexOf(LF, p, bound);
      if (lf < 0) break;
      if (lf === 0 || buffer.byteAt(lf - 1) !== CR) {
        bad = true;
        break;
      }
      p = lf + 1;
    }
    this.#lfScan = bound;
    if (bad || bound >= limits.headerBytes) {
      const error = decodeFieldLines(buffer.latin1(bound), 0, limits, []);
      return this.#fail(error instanceof ProtocolError ? error : headerSectionTooLarge(limits.headerBytes));
    }
    return this.#needData();
  }

  // ── bookkeeping ─────────────────────────────────────────────────────────────────────────────────────

  #resetScan(): void {
    this.#headStarted = false;
    this.#scan = 0;
    this.#lfScan = 0;
    this.#lineEnd = -1;
  }

  /** Out of bytes mid-message: wait, unless the peer has half-closed (then the message is truncated). */
  #needData(): ParserEvent {
    if (!this.#ended) return NEED_DATA;
    return this.#fail(new ProtocolError('ERR_INCOMPLETE_MESSAGE', 'connection closed in the middle of a request', { status: 400 }));
  }

  #close(): ParserEvent {
    this.#state = CLOSED;
    return CLOSED_EVENT;
  }

  #fail(error: ProtocolError): ParserEvent {
    this.#state = ERROR;
    this.#errorEvent = { type: 'error', error };
    return this.#errorEvent;
  }
}

function requestLineTooLong(limit: number): ProtocolError {
  return new ProtocolError('ERR_REQUEST_LINE_TOO_LONG', `request-line longer than ${limit} bytes`, { status: 414 });
}

function headerSectionTooLarge(limit: number): ProtocolError {
  return new ProtocolError('ERR_HEADER_SECTION_TOO_LARGE', `field section larger than ${limit} bytes`, { status: 431 });
}

function chunkLineTooLong(limit: number): ProtocolError {
  return new ProtocolError('ERR_CHUNK_LINE_TOO_LONG', `chunk line longer than ${limit} bytes`, { status: 400 });
}

function missingChunkCrlf(): ProtocolError {
  return new ProtocolError('ERR_MISSING_CHUNK_CRLF', 'chunk data not followed by CRLF', { status: 400 });
}
