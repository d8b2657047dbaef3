/**
 * The line that starts each chunk of a chunked body (RFC 9112 §7.1):
 *   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-size     = 1*HEXDIG
 *   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-name = token
 *   chunk-ext-val  = token / quoted-string
 * Extensions are validated and skipped: RFC 9112 §7.1.1 says a recipient "MUST ignore unrecognized chunk
 * extensions", and we recognise none.
 */
import { ProtocolError } from '../errors.js';
import { HEXDIG, QDTEXT, QUOTED_PAIR_CHAR, TCHAR, WHITESPACE } from './grammar.js';

/**
 * At most 13 significant hex digits: 16^13 = 2^52 stays a safe integer. RFC 9112 §7.1: "Recipients MUST
 * anticipate potentially large hexadecimal numerals and prevent parsing errors due to integer conversion
 * overflows or precision loss due to integer representation."
 */
const MAX_SIZE_DIGITS = 13;

/** The chunk size declared by text (one chunk line without its CRLF), or the ProtocolError it earns. */
export function parseChunkLine(text: string): number | ProtocolError {
  const n = text.length;
  let i = 0;
  while (i < n && text.charCodeAt(i) === 0x30) i++;
  const significant = i;
  let size = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (HEXDIG[c] !== 1) break;
    if (i - significant === MAX_SIZE_DIGITS) {
      return new ProtocolError('ERR_CHUNK_SIZE_OVERFLOW', 'chunk size has too many hex digits', { status: 400 });
    }
    size = size * 16 + (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
  }
  if (i === 0) return invalidSize(text.charCodeAt(0));
  if (checkExtensions(text, i)) return size;
  return text.includes('\r') ? invalidSize(0x0d) : invalidExtension();
}

function invalidSize(c: number): ProtocolError {
  if (c === 0x0d) return new ProtocolError('ERR_BARE_CR', 'CR not followed by LF', { status: 400 });
  return new ProtocolError('ERR_INVALID_CHUNK_SIZE', 'chunk line must start with a hex chunk size', { status: 400 });
}

function invalidExtension(): ProtocolError {
  return new ProtocolError('ERR_INVALID_CHUNK_EXTENSION', 'malformed chunk extension', { status: 400 });
}

/** Whether text[i...] is a valid `chunk-ext`. */
function checkExtensions(text: string, i: number): boolean {
  const n = text.length;
  while (i < n) {
    while (i < n && WHITESPACE[text.charCodeAt(i)] === 1) i++;
    // BWS is allowed only before ";": trailing whitespace alone is not a chunk-ext.
    if (i === n || text.charCodeAt(i) !== 0x3b /* ; */) return false;
    i++;
    while (i < n && WHITESPACE[text.charCodeAt(i)] === 1) i++;
    const nameStart = i;
    while (i < n && TCHAR[text.charCodeAt(i)] === 1) i++;
    if (i === nameStart) return false;
    let j = i;
    while (j < n && WHITESPACE[text.charCodeAt(j)] === 1) j++;
    if (j < n && text.charCodeAt(j) === 0x3d /* = */) {
      j++;
      while (j < n && WHITESPACE[text.charCodeAt(j)] === 1) j++;
      if (j < n && text.charCodeAt(j) === 0x22 /* " */) {
        j = quotedStringEnd(text, j);
        if (j < 0) return false;
      } else {
        const valueStart = j;
        while (j < n && TCHAR[text.charCodeAt(j)] === 1) j++;
        if (j === valueStart) return false;
      }
      i = j;
    }
  }
  return true;
}

/** RFC 9110 §5.6.4: the index after the quoted-string opening at text[at], or -1 if it is malformed. */
function quotedStringEnd(text: string, at: number): number {
  const n = text.length;
  for (let i = at + 1; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c /* \ */) {
      i++;
      if (i === n || QUOTED_PAIR_CHAR[text.charCodeAt(i)] !== 1) return -1;
    } else if (QDTEXT[c] !== 1) {
      return -1;
    }
  }
  return -1;
}
