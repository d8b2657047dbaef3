/**
 * Decodes a field section (the header section of a request, or the trailer section of a chunked body)
 * from latin1 text, one line at a time, up to and including the empty line that ends it.
 *
 * Each line is judged as a whole once its LF is in the text, in a fixed order: size limit, line ending,
 * end of section, then the line's content. The request parser relies on that order to give
 * the same verdict however the bytes were chunked: when it has to decide early (a limit reached before the
 * section ended) it runs this function on the complete lines it has, and gets the error the whole input
 * would have produced.
 */
import { ProtocolError } from '../errors.js';
import { CR, FIELD_VALUE_CHAR, HTAB, SP, TCHAR, WHITESPACE } from './grammar.js';
import type { Field } from './request-head.js';

/**
 * Bounded by bytes only, not by a count of lines. RFC 9110 §5.4 leaves the size of a field section to the
 * server ("larger than it wishes to process" → a 4xx; 431, RFC 6585 §5), and real clients send well over
 * 100 fields; the byte limit bounds the count anyway, as a field line takes at least 4 bytes ("a:" CRLF).
 */
export interface FieldSectionLimits {
  /** Bytes of the section, CRLFs (and the final empty line) included. */
  readonly headerBytes: number;
}

/**
 * Appends the field lines of text[pos...] to `into` and returns the index just past the empty line that
 * ends the section, -1 when the text ends before that line (nothing wrong so far), or the ProtocolError of
 * the first bad line.
 */
export function decodeFieldLines(
  text: string,
  pos: number,
  limits: FieldSectionLimits,
  into: Field[],
): number | ProtocolError {
  const sectionStart = pos;
  for (;;) {
    const lf = text.indexOf('\n', pos);
    if (lf < 0) return -1;
    if (lf + 1 - sectionStart > limits.headerBytes) {
      return new ProtocolError(
        'ERR_HEADER_SECTION_TOO_LARGE',
        `field section larger than ${limits.headerBytes} bytes`,
        { status: 431 },
      );
    }
    // RFC 9112 §2.2: a recipient MAY accept a bare LF as a line terminator; we do not (smuggling defence:
    // every intermediary must agree where a line ends).
    if (lf === pos || text.charCodeAt(lf - 1) !== CR) {
      return new ProtocolError('ERR_BARE_LF', 'line ended by LF without CR', { status: 400 });
    }
    const end = lf - 1;
    if (end === pos) return lf + 1;
    const error = decodeFieldLine(text, pos, end, into);
    if (error !== undefined) return error;
    pos = lf + 1;
  }
}

/** field-line = field-name ":" OWS field-value OWS (RFC 9112 §5), text[pos, end) without its CRLF. */
function decodeFieldLine(text: string, pos: number, end: number, into: Field[]): ProtocolError | undefined {
  let c = text.charCodeAt(pos);
  // RFC 9112 §5.2: obs-fold (a line starting with SP or HTAB continues the previous one) — "a server that
  // receives an obs-fold in a request message ... MUST either reject the message by sending a 400" or
  // unfold it. We reject. (Before the first field, RFC 9112 §2.2 allows the same rejection.)
  if (c === SP || c === HTAB) {
    return new ProtocolError('ERR_OBS_FOLD', 'field line starts with whitespace (obs-fold)', { status: 400 });
  }
  let i = pos;
  while (i < end && TCHAR[text.charCodeAt(i)] === 1) i++;
  c = i < end ? text.charCodeAt(i) : -1;
  if (c !== 0x3a /* : */ || i === pos) {
    // RFC 9112 §5.1: "No whitespace is allowed between the field name and colon ... A server MUST reject,
    // with a response status code of 400 (Bad Request), any received request message that contains
    // whitespace between a header field name and colon."
    if (c === SP || c === HTAB) {
      return new ProtocolError('ERR_SPACE_BEFORE_COLON', 'whitespace between field name and colon', { status: 400 });
    }
    if (c === CR) return bareCr();
    return new ProtocolError('ERR_INVALID_FIELD_NAME', 'field name is not a token followed by ":"', { status: 400 });
  }
  // RFC 9110 §5.5: leading and trailing OWS is not part of the value.
  let a = i + 1;
  let b = end;
  while (a < b && WHITESPACE[text.charCodeAt(a)] === 1) a++;
  while (b > a && WHITESPACE[text.charCodeAt(b - 1)] === 1) b--;
  for (let k = a; k < b; k++) {
    c = text.charCodeAt(k);
    if (FIELD_VALUE_CHAR[c] !== 1) {
      // RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are invalid and dangerous ... a
      // recipient ... MUST either reject the message or replace each of those characters with SP"; other
      // CTLs are not field-vchar either. We reject.
      if (c === CR) return bareCr();
      return new ProtocolError('ERR_INVALID_FIELD_VALUE', `field value contains control character 0x${c.toString(16).padStart(2, '0')}`, { status: 400 });
    }
  }
  into.push([text.slice(pos, i), text.slice(a, b)]);
  return undefined;
}

/** RFC 9112 §2.2: "A sender MUST NOT generate a bare CR ... outside of the content"; we reject one. */
export function bareCr(): ProtocolError {
  return new ProtocolError('ERR_BARE_CR', 'CR not followed by LF', { status: 400 });
}
