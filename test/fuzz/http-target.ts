/**
 * The RequestParser's fuzz properties. For a generated (often mutated) request stream, fed whole, byte by
 * byte, in random pieces and cut once:
 *
 * 1. it never throws: every problem is an `error` event carrying a ProtocolError with a code and a 4xx/5xx
 *    status, and the error is sticky;
 * 2. it terminates: at most a few `next()` calls per byte and per chunk before it asks for more data;
 * 3. its memory is bounded: whenever it asks for more data it holds less than the largest head the limits
 *    allow (a body is handed out as it arrives, never accumulated);
 * 4. the verdict is a function of the bytes alone: the same requests, bodies, trailers, error and leftover
 *    bytes however the stream was split.
 */
import assert from 'node:assert/strict';
import { ProtocolError } from '../../src/errors.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { RequestParser, type ParserLimits } from '../../src/http/request-parser.js';
import { chunkings, type FuzzTarget, type Random } from './engine.js';
import { HTTP_DICTIONARY, httpStream } from './generators.js';
import { mutate } from './mutators.js';

export interface HttpParams {
  readonly limits: ParserLimits;
  /** Call receiveEnd() after the last chunk. */
  readonly end: boolean;
}

/** Small enough that mutations cross every limit, large enough that valid requests fit. */
const SMALL_LIMITS: ParserLimits = { requestLineBytes: 96, headerBytes: 320, bodyBytes: 200, chunkLineBytes: 24 };
const DEFAULT_PARSER_LIMITS: ParserLimits = {
  requestLineBytes: DEFAULT_LIMITS.requestLineBytes,
  headerBytes: DEFAULT_LIMITS.headerBytes,
  bodyBytes: DEFAULT_LIMITS.bodyBytes,
  chunkLineBytes: DEFAULT_LIMITS.chunkLineBytes,
};

interface RequestSummary {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly fields: ReadonlyArray<readonly [string, string]>;
  readonly host: string;
  readonly keepAlive: boolean;
  readonly body: unknown;
  bodyBytes: string;
  trailers: ReadonlyArray<readonly [string, string]> | undefined;
}

interface RunSummary {
  readonly requests: RequestSummary[];
  error: { code: string; status: number; message: string } | undefined;
  closed: boolean;
  /** Unconsumed bytes at the end (what takeBuffered() hands back), as latin1; '' after an error. */
  rest: string;
}

/** Feeds `chunks` and drains events after each, checking properties 1-3 as it goes. */
export function drive(chunks: readonly Uint8Array[], params: HttpParams): RunSummary {
  const { limits } = params;
  const parser = new RequestParser(limits);
  const maxHeld = limits.requestLineBytes + 2 + limits.headerBytes;
  const summary: RunSummary = { requests: [], error: undefined, closed: false, rest: '' };
  let bytes = 0;
  let calls = 0;
  let done = false;
  const pump = (): void => {
    for (;;) {
      calls++;
      // Property 2: each next() consumes bytes or moves the state on; a few calls per byte and chunk at most.
      assert.ok(calls <= 4 * (bytes + chunks.length) + 16, `next() called ${calls} times for ${bytes} bytes: the parser does not terminate`);
      const event = parser.next();
      switch (event.type) {
        case 'request': {
          const head = event.head;
          summary.requests.push({
            method: head.method, target: head.target, version: head.version,
            fields: head.fields.map(([n, v]) => [n, v] as const), host: head.host, keepAlive: head.keepAlive,
            body: head.body, bodyBytes: '', trailers: undefined,
          });
          break;
        }
        case 'body':
          assert.ok(event.data.length > 0, 'a body event is never empty');
          summary.requests.at(-1)!.bodyBytes += Buffer.from(event.data).toString('latin1');
          break;
        case 'end':
          summary.requests.at(-1)!.trailers = event.trailers.map(([n, v]) => [n, v] as const);
          parser.resume();
          break;
        case 'need-data':
          // Property 3: what the parser keeps while waiting is bounded by the limits, not by the input.
          assert.ok(parser.bufferedBytes <= maxHeld, `holds ${parser.bufferedBytes} bytes while waiting (limit ${maxHeld})`);
          return;
        case 'paused':
          assert.fail('paused although resume() was called after end');
          return;
        case 'closed':
          summary.closed = true;
          done = true;
          return;
        case 'error': {
          // Property 1: a typed error with an HTTP status, and sticky.
          assert.ok(event.error instanceof ProtocolError, 'errors are ProtocolErrors');
          assert.match(event.error.code, /^ERR_[A-Z0-9_]+$/);
          assert.ok(event.error.status >= 400 && event.error.status <= 599, `status ${event.error.status}`);
          assert.equal(parser.next(), event, 'errors are sticky');
          summary.error = { code: event.error.code, status: event.error.status, message: event.error.message };
          done = true;
          return;
        }
      }
    }
  };
  for (const chunk of chunks) {
    bytes += chunk.length;
    parser.receive(chunk);
    if (!done) pump();
  }
  if (params.end) {
    parser.receiveEnd();
    if (!done) pump();
  }
  // After an error the parser ignores further bytes, so what is left depends on when it failed: only a
  // stream that did not fail has a meaningful remainder.
  if (summary.error === undefined) summary.rest = Buffer.from(parser.takeBuffered()).toString('latin1');
  return summary;
}

/** A short label of the verdict: the error code, `closed`, `need-data`, or `ok:<requests, at most 3>`. */
function outcome(summary: RunSummary): string {
  if (summary.error) return summary.error.code;
  if (summary.closed) return 'closed';
  return summary.requests.length === 0 ? 'need-data' : `ok:${Math.min(summary.requests.length, 3)}`;
}

export const httpTarget: FuzzTarget<HttpParams> = {
  name: 'http',
  generate(random: Random) {
    const limits = random.chance(0.7) ? SMALL_LIMITS : DEFAULT_PARSER_LIMITS;
    const valid = httpStream(random);
    const edits = random.chance(0.15) ? 0 : random.range(1, 4);
    const input = mutate(valid, random, edits, {
      dictionary: HTTP_DICTIONARY,
      donor: () => httpStream(random),
      maxLength: 24 * 1024,
    });
    return { input, params: { limits, end: random.chance(0.4) } };
  },
  check(input, params, random) {
    let whole: RunSummary | undefined;
    for (const { label, chunks } of chunkings(input, random, 2048)) {
      let summary: RunSummary;
      try {
        summary = drive(chunks, params);
      } catch (error) {
        throw new Error(`[${label}] ${error instanceof Error ? error.message : String(error)}`);
      }
      if (whole === undefined) whole = summary;
      // Property 4.
      else assert.deepEqual(summary, whole, `[${label}] differs from the whole input`);
    }
    return outcome(whole!);
  },
};
