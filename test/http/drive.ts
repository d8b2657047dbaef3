/**
 * Drives a RequestParser over a list of chunks the way the accept loop does (receive, then `next()` until
 * it needs data), and sums up what came out in a plain object that tests compare with deepEqual.
 */
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Field, RequestHead } from '../../src/http/request-head.js';
import { RequestParser, type ParserEvent, type ParserLimits } from '../../src/http/request-parser.js';
import { splits, text } from '../helpers/split.js';

/** Bytes of a test string, one byte per char (latin1), so "\xe9" is the single byte 0xE9. */
export const bytesOf = (value: string): Uint8Array => Buffer.from(value, 'latin1');

export interface RequestSummary {
  readonly method: string;
  readonly target: string;
  readonly targetForm: string;
  readonly path: string;
  readonly query: string;
  readonly version: string;
  readonly fields: Field[];
  readonly host: string;
  readonly keepAlive: boolean;
  readonly connectionTokens: string[];
  readonly expectContinue: boolean;
  readonly body: RequestHead['body'];
  /** The body events' bytes joined, as latin1. */
  bodyText: string;
  trailers: Field[] | undefined;
}

export interface RunSummary {
  readonly requests: RequestSummary[];
  error: { code: string; status: number } | undefined;
  closed: boolean;
  /** What `takeBuffered()` returned at the end, as latin1 (only when asked for). */
  rest: string | undefined;
}

export interface RunOptions {
  readonly limits?: Partial<ParserLimits>;
  /** Call receiveEnd() after the last chunk. */
  readonly end?: boolean;
  /** Stop resuming after this many requests (the rest stays buffered); default: resume always. */
  readonly maxRequests?: number;
  /** Call takeBuffered() at the end and record it. */
  readonly takeRest?: boolean;
}

export function limitsWith(overrides: Partial<ParserLimits> = {}): ParserLimits {
  return { ...DEFAULT_LIMITS, ...overrides };
}

export function run(chunks: Uint8Array[], options: RunOptions = {}): RunSummary {
  const parser = new RequestParser(limitsWith(options.limits));
  const summary: RunSummary = { requests: [], error: undefined, closed: false, rest: undefined };
  const pump = (): void => {
    for (;;) {
      const event: ParserEvent = parser.next();
      switch (event.type) {
        case 'request': {
          const h = event.head;
          summary.requests.push({
            method: h.method, target: h.target, targetForm: h.targetForm, path: h.path, query: h.query,
            version: h.version, fields: h.fields.map(([n, v]) => [n, v] as const), host: h.host,
            keepAlive: h.keepAlive, connectionTokens: [...h.connectionTokens], expectContinue: h.expectContinue,
            body: h.body, bodyText: '', trailers: undefined,
          });
          break;
        }
        case 'body':
          assert.ok(event.data.length > 0, 'body events are never empty');
          summary.requests.at(-1)!.bodyText += text(event.data);
          break;
        case 'end':
          summary.requests.at(-1)!.trailers = event.trailers.map(([n, v]) => [n, v] as const);
          assert.equal(parser.next().type, 'paused', 'after end the parser pauses until resume()');
          if (options.maxRequests !== undefined && summary.requests.length >= options.maxRequests) return;
          parser.resume();
          break;
        case 'need-data':
        case 'paused':
          return;
        case 'closed':
          summary.closed = true;
          return;
        case 'error':
          summary.error = { code: event.error.code, status: event.error.status };
          assert.equal(parser.next(), event, 'errors are sticky');
          return;
      }
    }
  };
  for (const chunk of chunks) {
    parser.receive(chunk);
    pump();
  }
  if (options.end) {
    parser.receiveEnd();
    pump();
  }
  if (options.takeRest) summary.rest = text(parser.takeBuffered());
  return summary;
}

/**
 * The three-way rule: `input` whole, split at every offset, byte by byte — each run must satisfy `check`
 * and give the same summary as the whole run. Then the input followed by `trailing`, with parsing stopped
 * after the input's requests: the trailing bytes must come back untouched from takeBuffered().
 */
export function threeWays(
  input: string | Uint8Array,
  check: (summary: RunSummary) => void,
  options: RunOptions & { readonly trailing?: string; readonly everyOffset?: boolean } = {},
): RunSummary {
  const bytes = typeof input === 'string' ? bytesOf(input) : input;
  let whole: RunSummary | undefined;
  for (const { label, chunks } of splits(bytes)) {
    // For long inputs, a sample of the offsets (byte by byte still covers every boundary).
    if (options.everyOffset === false && label.startsWith('split at ') && Number(label.slice(9)) % 97 !== 1) continue;
    const summary = run(chunks, options);
    try {
      check(summary);
      if (whole === undefined) whole = summary;
      else assert.deepEqual(summary, whole);
    } catch (error) {
      (error as Error).message = `[${label}] ${(error as Error).message}`;
      throw error;
    }
  }
  const trailing = options.trailing ?? '\x00JUNK after the request\r\n\r\n';
  // Stop after the input's own requests so the trailing bytes stay buffered (unless the input fails).
  const maxRequests = options.maxRequests ?? (whole!.error === undefined ? whole!.requests.length : undefined);
  const withTrailing = run([bytes, bytesOf(trailing)], { ...options, maxRequests, takeRest: true });
  const oneChunk = new Uint8Array(bytes.length + trailing.length);
  oneChunk.set(bytes);
  oneChunk.set(bytesOf(trailing), bytes.length);
  const together = run([oneChunk], { ...options, maxRequests, takeRest: true });
  for (const [label, summary] of [['trailing chunk', withTrailing], ['trailing in one chunk', together]] as const) {
    try {
      assert.deepEqual({ ...summary, rest: undefined }, { ...whole!, closed: summary.closed, rest: undefined });
      if (whole!.error === undefined) assert.equal(summary.rest, trailing, 'trailing bytes come back untouched');
    } catch (error) {
      (error as Error).message = `[${label}] ${(error as Error).message}`;
      throw error;
    }
  }
  return whole!;
}
