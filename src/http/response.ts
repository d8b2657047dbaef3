/**
 * Encoding responses (RFC 9112 §4 status-line, §5 field lines, §7.1 chunked). The header values come
 * from local code, not the peer, so bad input here is a bug: it throws a UsageError. What it refuses is
 * what would let one response be read as two (response splitting): CR, LF or NUL in a value, a field name
 * that is not a token, a reason phrase with control characters.
 */
import { UsageError } from '../errors.js';
import { isToken } from './grammar.js';

export interface ResponseHead {
  readonly status: number;
  /** Defaults to the standard reason for `status` (or none for an unknown status). */
  readonly reason?: string;
  readonly headers: Iterable<readonly [string, string]>;
}

/** RFC 9110 §15: the reason phrases of the status codes this project can send, and the usual others. */
const REASONS: Readonly<Record<number, string>> = Object.freeze({
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
});

/** The standard reason phrase for `status`, or '' when it has none here. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? '';
}

/**
 * Characters a field value or reason phrase must not contain: RFC 9110 §5.5 (field-vchar / SP / HTAB only;
 * CR, LF and NUL are "invalid and dangerous") and RFC 9112 §4 (reason-phrase = 1*( HTAB / SP / VCHAR /
 * obs-text )); and anything above U+00FF, which latin1 cannot carry. One regex test per value.
 */
const FORBIDDEN = /[\0-\x08\x0a-\x1f\x7f\u0100-\uffff]/;

/**
 * `HTTP/1.1 <status> <reason>\r\n`, then `name: value\r\n` per header, then `\r\n`, as latin1 bytes.
 * Throws UsageError for a status outside 100–999, a name that is not a token, or a value or reason with
 * CR, LF, NUL or another control character.
 */
export function encodeResponseHead(head: ResponseHead): Uint8Array {
  return Buffer.from(formatResponseHead(head), 'latin1');
}

/** The same head as text whose every character is one latin1 byte: for writers that send a string. */
export function formatResponseHead(head: ResponseHead): string {
  const status = head.status;
  let text: string;
  if (head.reason === undefined && STATUS_LINES[status] !== undefined) {
    text = STATUS_LINES[status]!;
  } else {
    // RFC 9110 §15: status-code = 3DIGIT
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      throw new UsageError('ERR_INVALID_STATUS', `status must be a three-digit integer, got ${String(status)}`);
    }
    const reason = head.reason ?? reasonPhrase(status);
    if (FORBIDDEN.test(reason)) {
      throw new UsageError('ERR_INVALID_REASON', 'reason phrase contains a control character');
    }
    text = `HTTP/1.1 ${status} ${reason}\r\n`;
  }
  return text + encodeFields(head.headers, 'header') + '\r\n';
}

/** Status lines of the statuses with a standard reason, built once. */
const STATUS_LINES: Readonly<Record<number, string>> = Object.freeze(Object.fromEntries(
  Object.entries(REASONS).map(([status, reason]) => [status, `HTTP/1.1 ${status} ${reason}\r\n`]),
));

/** `name: value\r\n` for each field, after the checks against response splitting. */
function encodeFields(fields: Iterable<readonly [string, string]>, kind: string): string {
  // Index the common array case: no iterator object, no destructuring per field.
  const list = Array.isArray(fields) ? (fields as ReadonlyArray<readonly [string, string]>) : [...fields];
  let text = '';
  for (let i = 0; i < list.length; i++) {
    const field = list[i]!;
    const name = field[0];
    const value = field[1];
    if (!isToken(name)) throw new UsageError('ERR_INVALID_HEADER_NAME', `${kind} name ${JSON.stringify(name)} is not a token`);
    if (FORBIDDEN.test(value)) {
      throw new UsageError('ERR_INVALID_HEADER_VALUE', `value of ${kind} "${name}" contains CR, LF, NUL or another control character`);
    }
    text += name + ': ' + value + '\r\n';
  }
  return text;
}

/**
 * One chunk of a chunked body (RFC 9112 §7.1): `<hex size>\r\n<data>\r\n`, in one buffer. An empty `data`
 * gives empty bytes, not a zero-size chunk: a zero-size chunk would end the body.
 */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const n = data.byteLength;
  if (n === 0) return new Uint8Array(0);
  const size = n.toString(16);
  const out = Buffer.allocUnsafe(size.length + n + 4);
  let at = out.write(size, 0, 'latin1');
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  out.set(data, at);
  at += n;
  out[at++] = 0x0d;
  out[at] = 0x0a;
  return out;
}

/**
 * Just the chunk-size line for `length` bytes, for writers that send the data separately (writev, cork)
 * instead of copying it: write this, the data, then CRLF. `length` must be positive.
 */
export function encodeChunkHeader(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length <= 0) {
    throw new UsageError('ERR_INVALID_CHUNK_LENGTH', `chunk length must be a positive integer, got ${String(length)}`);
  }
  return Buffer.from(length.toString(16) + '\r\n', 'latin1');
}

/** CRLF, to follow chunk data written after `encodeChunkHeader`. */
export const CHUNK_END: Uint8Array = Buffer.from('\r\n', 'latin1');

/**
 * The end of a chunked body: last-chunk `0\r\n`, optional trailer fields (same checks as headers), and
 * the final `\r\n` (RFC 9112 §7.1, §7.1.2).
 */
export function encodeLastChunk(trailers: Iterable<readonly [string, string]> = []): Uint8Array {
  return Buffer.from('0\r\n' + encodeFields(trailers, 'trailer') + '\r\n', 'latin1');
}
