/**
 * RESP2, the Redis serialization protocol, by hand and sans-IO: `encodeCommand` turns a command into
 * bytes, `RespDecoder` turns the bytes a server sends into typed values. No socket, no timer.
 * (Spec: https://redis.io/docs/latest/develop/reference/protocol-spec/, cited below as "spec §…".)
 *
 * How decoding works: every RESP2 value starts with a line, a type byte and text up to CRLF (spec §"RESP
 * protocol description"). Simple strings, errors and integers are that line alone; a bulk string's line
 * gives the length of the bytes that follow (plus their CRLF); an array's line gives how many values
 * follow. The decoder keeps the unconsumed bytes in a `ReceiveBuffer` (the chunks as received, no
 * concatenation), searches for the CRLF resumably (where the last search stopped), waits for a bulk
 * body until all of it is there, and keeps the arrays it is filling on a stack, so a value that arrives
 * one byte at a time is read in O(n), never re-parsed from its start.
 *
 * Limits: every length is checked the moment it is read, before any byte of it is buffered — a line
 * longer than `maxLineBytes`, a bulk string over `maxBulkBytes`, an array over `maxArrayLength` values
 * or nested deeper than `maxDepth`, or one top-level value over `maxValueBytes` in all — so the verdict
 * is the same however the bytes were chunked and the decoder's memory stays bounded. A caller that
 * drains `next()` after each `receive()` holds at most one line or one bulk body plus the last chunk.
 *
 * An error *reply* (`-ERR ...`, spec §"Simple errors") is a value like any other: the server answered.
 * A protocol error (the bytes are not RESP2, or break a limit) is a `ProtocolError`, sticky.
 */
import { ProtocolError, UsageError } from '../../errors.js';
import { ReceiveBuffer } from '../../http/receive-buffer.js';

export type RespValue =
  | { readonly type: 'simple-string'; readonly value: string }
  /** The server's answer `-PREFIX message` (spec §"Simple errors"): not a protocol error. */
  | { readonly type: 'error-reply'; readonly message: string }
  | { readonly type: 'integer'; readonly value: number }
  /** `null` for the null bulk string `$-1` (spec §"Null bulk strings"). */
  | { readonly type: 'bulk-string'; readonly value: Uint8Array | null }
  /** `null` for the null array `*-1` (spec §"Null arrays"). */
  | { readonly type: 'array'; readonly value: readonly RespValue[] | null };

export type RespEvent =
  | { readonly type: 'value'; readonly value: RespValue }
  | { readonly type: 'need-data' }
  | { readonly type: 'error'; readonly error: ProtocolError };

export interface RespLimits {
  /** Longest line (type byte and text, CRLF excluded): simple strings, error replies, lengths. */
  readonly maxLineBytes: number;
  /** Longest bulk string (Redis's own `proto-max-bulk-len` is 512 MiB; a chat message is far less). */
  readonly maxBulkBytes: number;
  /** Most values in one array. */
  readonly maxArrayLength: number;
  /** Deepest nesting of arrays (a pub/sub message is one level). */
  readonly maxDepth: number;
  /** Most bytes one top-level value may span on the wire, all nested values included. */
  readonly maxValueBytes: number;
}

export const DEFAULT_RESP_LIMITS: RespLimits = {
  maxLineBytes: 64 * 1024,
  maxBulkBytes: 1024 * 1024,
  maxArrayLength: 1024,
  maxDepth: 8,
  maxValueBytes: 4 * 1024 * 1024,
};

const CRLF = new Uint8Array([13, 10]);
const LENGTH = /^(?:-1|\d+)$/;
const INTEGER = /^[+-]?\d+$/;

/** A command as the server expects it from a client: an array of bulk strings (spec §"Sending commands"). */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Uint8Array {
  if (args.length === 0) throw new UsageError('ERR_RESP_EMPTY_COMMAND', 'a Redis command needs at least its name');
  const parts = args.map((arg) => (typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg));
  const heads = parts.map((part) => `$${part.length}\r\n`);
  const arrayHead = `*${parts.length}\r\n`;
  let size = arrayHead.length;
  for (let i = 0; i < parts.length; i++) size += heads[i]!.length + parts[i]!.length + 2;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(arrayHead, 0, 'latin1');
  for (let i = 0; i < parts.length; i++) {
    at += out.write(heads[i]!, at, 'latin1');
    out.set(parts[i]!, at);
    at += parts[i]!.length;
    at += out.write('\r\n', at, 'latin1');
  }
  return out;
}

interface OpenArray {
  readonly items: RespValue[];
  readonly expected: number;
}

export class RespDecoder {
  readonly #limits: RespLimits;
  readonly #buffer = new ReceiveBuffer();
  /** Arrays being filled, outermost first. */
  readonly #open: OpenArray[] = [];
  /** The length of the bulk body awaited (its line already read), or -1. */
  #bulkLength = -1;
  /** Where the search for the current line's CRLF resumes. */
  #searchFrom = 0;
  /** Wire bytes of the current top-level value consumed (or, for a bulk body, committed) so far. */
  #valueBytes = 0;
  #error: ProtocolError | undefined;

  constructor(limits: Partial<RespLimits> = {}) {
    for (const key of Object.keys(limits)) {
      if (!(key in DEFAULT_RESP_LIMITS)) throw new UsageError('ERR_UNKNOWN_LIMIT', `unknown RESP limit ${JSON.stringify(key)}`);
    }
    this.#limits = { ...DEFAULT_RESP_LIMITS, ...limits };
  }

  /** Bytes received and not yet consumed by a value (what follows the last value stays here untouched). */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Keeps a view of `chunk` (no copy): bulk strings may be views into it, so don't reuse its memory. */
  receive(chunk: Uint8Array): void {
    if (this.#error === undefined) this.#buffer.append(chunk);
  }

  /** The next complete value, `need-data` until one is complete, or the (sticky) protocol error. */
  next(): RespEvent {
    if (this.#error) return { type: 'error', error: this.#error };
    for (;;) {
      let value: RespValue;
      if (this.#bulkLength >= 0) {
        const length = this.#bulkLength;
        if (this.#buffer.length < length + 2) return { type: 'need-data' };
        const data = this.#buffer.take(length);
        // Spec §"Bulk strings": the data is followed by CRLF, whatever bytes the data itself holds.
        if (this.#buffer.byteAt(0) !== 13 || this.#buffer.byteAt(1) !== 10) return this.#fail('ERR_RESP_BAD_BULK_END', `a ${length}-byte bulk string is not followed by CRLF`);
        this.#buffer.skip(2);
        this.#bulkLength = -1;
        value = { type: 'bulk-string', value: data };
      } else {
        const line = this.#readLine();
        if (line === undefined) return { type: 'need-data' };
        if (line instanceof ProtocolError) return this.#fail(line.code, line.message);
        const parsed = this.#parseLine(line);
        if (parsed instanceof ProtocolError) return this.#fail(parsed.code, parsed.message);
        if (parsed === 'more') continue;
        value = parsed;
      }
      // A complete value fills its array; a full array is itself a value for the array around it.
      for (;;) {
        const top = this.#open.at(-1);
        if (top === undefined) {
          this.#valueBytes = 0;
          return { type: 'value', value };
        }
        top.items.push(value);
        if (top.items.length < top.expected) break;
        this.#open.pop();
        value = { type: 'array', value: top.items };
      }
    }
  }

  /** The line at the start of the unconsumed bytes, consumed with its CRLF; undefined when incomplete. */
  #readLine(): string | undefined | ProtocolError {
    const max = this.#limits.maxLineBytes;
    // Search only where a CRLF ending a line within the limit could lie.
    const end = this.#buffer.indexOf(CRLF, this.#searchFrom, max + 2);
    if (end === -1) {
      // The last byte may be the CR of a CRLF still to come, so the line is at least length - 1 bytes.
      if (this.#buffer.length - 1 > max) return new ProtocolError('ERR_RESP_LINE_TOO_LONG', `a RESP line over ${max} bytes`, { status: 502 });
      this.#searchFrom = Math.max(0, this.#buffer.length - 1);
      return undefined;
    }
    this.#searchFrom = 0;
    const bytes = this.#buffer.take(end);
    this.#buffer.skip(2);
    this.#valueBytes += end + 2;
    if (this.#valueBytes > this.#limits.maxValueBytes) return this.#tooLarge();
    const line = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    // Spec §"Simple strings": the text "must not contain a CR or LF character".
    if (/[\r\n]/.test(line)) return new ProtocolError('ERR_RESP_BAD_LINE', 'a bare CR or LF inside a RESP line', { status: 502 });
    return line;
  }

  /** A value, or 'more' when the line opened a bulk body or an array whose contents are still to come. */
  #parseLine(line: string): RespValue | 'more' | ProtocolError {
    const rest = line.slice(1);
    switch (line[0]) {
      case '+': return { type: 'simple-string', value: rest };
      case '-': return { type: 'error-reply', message: rest };
      case ':': {
        // Spec §"Integers": a signed, base-10, 64-bit integer; we keep those a JS number holds exactly.
        if (!INTEGER.test(rest)) return protocolError('ERR_RESP_BAD_INTEGER', `not a RESP integer: ${JSON.stringify(rest.slice(0, 40))}`);
        const value = Number(rest);
        if (!Number.isSafeInteger(value)) return protocolError('ERR_RESP_INTEGER_RANGE', `RESP integer ${rest} is beyond ±2^53`);
        return { type: 'integer', value };
      }
      case '$': {
        const length = parseLength(rest);
        if (length instanceof ProtocolError) return length;
        if (length === -1) return { type: 'bulk-string', value: null };
        if (length > this.#limits.maxBulkBytes) return protocolError('ERR_RESP_BULK_TOO_LARGE', `a ${length}-byte bulk string (limit ${this.#limits.maxBulkBytes})`);
        // Commit the body's bytes now, so a value over the limit fails before its body is buffered.
        this.#valueBytes += length + 2;
        if (this.#valueBytes > this.#limits.maxValueBytes) return this.#tooLarge();
        this.#bulkLength = length;
        return 'more';
      }
      case '*': {
        const length = parseLength(rest);
        if (length instanceof ProtocolError) return length;
        if (length === -1) return { type: 'array', value: null };
        if (length === 0) return { type: 'array', value: [] };
        if (length > this.#limits.maxArrayLength) return protocolError('ERR_RESP_ARRAY_TOO_LONG', `a ${length}-value array (limit ${this.#limits.maxArrayLength})`);
        if (this.#open.length + 1 > this.#limits.maxDepth) return protocolError('ERR_RESP_TOO_DEEP', `arrays nested over ${this.#limits.maxDepth} deep`);
        this.#open.push({ items: [], expected: length });
        return 'more';
      }
      default:
        // RESP3 types (`_`, `,`, `#`, `%`, `~`, `>`...) come only after HELLO 3, which we never send.
        return protocolError('ERR_RESP_UNKNOWN_TYPE', `not a RESP2 type byte: ${JSON.stringify(line.slice(0, 1))}`);
    }
  }

  #tooLarge(): ProtocolError {
    return protocolError('ERR_RESP_VALUE_TOO_LARGE', `a RESP value over ${this.#limits.maxValueBytes} bytes`);
  }

  #fail(code: string, message: string): RespEvent {
    this.#error = protocolError(code, message);
    this.#buffer.clear();
    this.#open.length = 0;
    return { type: 'error', error: this.#error };
  }
}

/** Spec §"Bulk strings" / §"Arrays": a non-negative length, or -1 for null. */
function parseLength(text: string): number | ProtocolError {
  if (!LENGTH.test(text)) return protocolError('ERR_RESP_BAD_LENGTH', `not a RESP length: ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

/** 502: the peer that broke the protocol is the upstream server (the status is for symmetry only). */
function protocolError(code: string, message: string): ProtocolError {
  return new ProtocolError(code, message, { status: 502 });
}
