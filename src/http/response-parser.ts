/**
 * The client's side of the handshake: a sans-IO parser for one HTTP/1.1 response head (status line and
 * header section), as the WebSocket client, `connect --upgrade` and `probe` read a 101. Interim 1xx
 * responses other than 101 are skipped (RFC 9110 §15.2). Whatever follows the head — the first bytes of
 * the new protocol after a 101, or the body of a refusal — comes back untouched as `rest`.
 */
import { ProtocolError } from '../errors.js';
import type { Field } from './request-head.js';

export interface ResponseHead {
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  readonly fields: readonly Field[];
  /** Combined value of a field, case-insensitive; undefined when absent. */
  get(name: string): string | undefined;
  /** The raw head bytes as received, CRLFs included (for `probe` to print). */
  readonly raw: string;
}

export type ResponseHeadEvent =
  | { readonly type: 'need-data' }
  | { readonly type: 'head'; readonly head: ResponseHead; readonly rest: Uint8Array }
  | { readonly type: 'error'; readonly error: ProtocolError };

const CRLFCRLF = [13, 10, 13, 10] as const;
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/;

export class ResponseHeadParser {
  readonly #maxBytes: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #searchFrom = 0;
  #error: ProtocolError | undefined;
  #done = false;

  constructor(maxBytes = 16 * 1024) {
    this.#maxBytes = maxBytes;
  }

  receive(chunk: Uint8Array): ResponseHeadEvent {
    if (this.#error) return { type: 'error', error: this.#error };
    if (this.#done) throw new Error('ResponseHeadParser already produced its head');
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    this.#buffer = joined;
    for (;;) {
      const end = indexOfCrlfCrlf(this.#buffer, this.#searchFrom);
      if (end === -1) {
        if (this.#buffer.length > this.#maxBytes) return this.#fail('ERR_RESPONSE_HEAD_TOO_LARGE', `response head over ${this.#maxBytes} bytes`);
        this.#searchFrom = Math.max(0, this.#buffer.length - 3);
        return { type: 'need-data' };
      }
      const raw = Buffer.from(this.#buffer.buffer, this.#buffer.byteOffset, end + 4).toString('latin1');
      const rest = this.#buffer.subarray(end + 4);
      const parsed = parseHead(raw);
      if (parsed instanceof ProtocolError) return this.#fail(parsed.code, parsed.message);
      if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) {
        this.#buffer = rest;
        this.#searchFrom = 0;
        continue;
      }
      this.#done = true;
      this.#buffer = new Uint8Array(0);
      return { type: 'head', head: parsed, rest };
    }
  }

  #fail(code: string, message: string): ResponseHeadEvent {
    this.#error = new ProtocolError(code, message, { status: 502 });
    return { type: 'error', error: this.#error };
  }
}

function indexOfCrlfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === CRLFCRLF[0] && bytes[i + 1] === CRLFCRLF[1] && bytes[i + 2] === CRLFCRLF[2] && bytes[i + 3] === CRLFCRLF[3]) return i;
  }
  return -1;
}

function parseHead(raw: string): ResponseHead | ProtocolError {
  const lines = raw.slice(0, -4).split('\r\n');
  const match = STATUS_LINE.exec(lines[0] ?? '');
  if (!match) return new ProtocolError('ERR_BAD_STATUS_LINE', `not an HTTP/1.x status line: ${JSON.stringify(lines[0]?.slice(0, 80))}`);
  const fields: Field[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon))) return new ProtocolError('ERR_BAD_FIELD', `malformed response field line: ${JSON.stringify(line.slice(0, 80))}`);
    fields.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return {
    version: `${match[1]}.${match[2]}`,
    status: Number(match[3]),
    reason: match[4] ?? '',
    fields,
    raw,
    get(name: string): string | undefined {
      const wanted = name.toLowerCase();
      const values = fields.filter(([n]) => n.toLowerCase() === wanted).map(([, v]) => v);
      return values.length === 0 ? undefined : values.join(', ');
    },
  };
}
