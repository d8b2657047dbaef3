/**
 * From a decoded request-line and field lines to a `RequestHead`: the fields whose meaning the connection
 * depends on — Host, message framing (Content-Length, Transfer-Encoding), Connection and Expect — are
 * checked here, with the smuggling defences of RFC 9112 §6 at the checks they justify.
 */
import { ProtocolError } from '../errors.js';
import { isToken, parseHost, parseList, WHITESPACE } from './grammar.js';
import type { BodyFraming, Field, RequestHead, TargetForm } from './request-head.js';
import type { RequestLine } from './request-line.js';

const NO_BODY: BodyFraming = Object.freeze({ kind: 'none' });
const CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked' });

/**
 * RFC 9112 §7 and the IANA HTTP Transfer Coding Registry: the codings we recognise. An unknown one is a 501
 * at once; a known one other than chunked is judged by where it stands (see checkTransferCodings). Only
 * chunked is decoded.
 */
const KNOWN_CODINGS = new Set(['chunked', 'gzip', 'x-gzip', 'deflate', 'compress', 'x-compress', 'identity']);

function bad(code: string, message: string, status = 400): ProtocolError {
  return new ProtocolError(code, message, { status });
}

/**
 * Whether `name` (a token) equals `lower`, an all-lowercase name of letters and "-" of the same length,
 * ignoring ASCII case. `c | 0x20` lower-cases a letter and leaves "-" alone; among token characters only
 * letters map onto letters, so the comparison is exact without allocating a lower-cased copy.
 */
function is(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Case-insensitive name equality for lookups, where `name` may be anything the caller passed. */
function sameName(fieldName: string, lower: string): boolean {
  return fieldName.length === lower.length && (fieldName === lower || fieldName.toLowerCase() === lower);
}

export function interpretHead(line: RequestLine, fields: Field[], bodyBytes: number): RequestHead | ProtocolError {
  let hostLines = 0;
  let hostValue = '';
  let contentLength = -1;
  let transferEncoding: string[] | undefined;
  let connectionTokens: string[] | undefined;
  let expectContinue = false;

  for (let f = 0; f < fields.length; f++) {
    const field = fields[f]!;
    const name = field[0];
    const value = field[1];
    switch (name.length) {
      case 4:
        if (is(name, 'host')) {
          hostLines++;
          hostValue = value;
        }
        break;
      case 6:
        if (is(name, 'expect')) {
          // RFC 9110 §10.1.1: 100-continue is the only expectation defined; "a server that receives an
          // Expect field value containing a member other than 100-continue MAY respond with a 417".
          for (const member of parseList(value)) {
            if (member.toLowerCase() !== '100-continue') {
              return bad('ERR_EXPECTATION_FAILED', `unsupported expectation "${member}"`, 417);
            }
            expectContinue = true;
          }
        }
        break;
      case 10:
        if (is(name, 'connection')) {
          // RFC 9110 §7.6.1: Connection = #connection-option; connection-option = token
          connectionTokens ??= [];
          for (const option of parseList(value)) {
            if (!isToken(option)) return bad('ERR_INVALID_CONNECTION', 'Connection options must be tokens');
            connectionTokens.push(option.toLowerCase());
          }
        }
        break;
      case 14:
        if (is(name, 'content-length')) {
          const length = parseContentLength(value);
          // RFC 9112 §6.3 (item 5): an invalid Content-Length, or a list of differing values, "the
          // recipient MUST treat it as an unrecoverable error ... the server MUST respond with a 400".
          if (length < 0) return bad('ERR_INVALID_CONTENT_LENGTH', `invalid Content-Length "${value}"`);
          if (contentLength >= 0 && length !== contentLength) {
            return bad('ERR_INVALID_CONTENT_LENGTH', 'several Content-Length fields with different values');
          }
          contentLength = length;
        }
        break;
      case 17:
        if (is(name, 'transfer-encoding')) {
          transferEncoding ??= [];
          for (const member of parseList(value)) transferEncoding.push(member);
        }
        break;
    }
  }

  // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
  // message that lacks a Host header field and to any request message that contains more than one Host
  // header field line or a Host header field with an invalid field value."
  if (hostLines === 0 && line.version === '1.1') return bad('ERR_MISSING_HOST', 'HTTP/1.1 request without Host');
  if (hostLines > 1) return bad('ERR_DUPLICATE_HOST', 'more than one Host field line');
  if (hostLines === 1 && parseHost(hostValue) === undefined) return bad('ERR_INVALID_HOST', `invalid Host "${hostValue}"`);

  let body: BodyFraming = NO_BODY;
  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a Transfer-Encoding
    // header field MUST treat the message as if the framing is faulty ... and close the connection".
    if (line.version === '1.0') {
      return bad('ERR_TRANSFER_ENCODING_IN_HTTP_1_0', 'Transfer-Encoding is not allowed in HTTP/1.0');
    }
    // RFC 9112 §6.1: a server MAY reject a request with both "as a potential request smuggling attack";
    // §6.3 (item 3) calls the pair "an attempt to perform request smuggling". We reject it.
    if (contentLength >= 0) {
      return bad('ERR_CONTENT_LENGTH_WITH_TRANSFER_ENCODING', 'both Content-Length and Transfer-Encoding');
    }
    const error = checkTransferCodings(transferEncoding);
    if (error !== undefined) return error;
    body = CHUNKED;
  } else if (contentLength >= 0) {
    // RFC 9110 §15.5.14: 413 when the content is larger than the server is willing to process; decided
    // from the declared length, before a byte of it is read.
    if (contentLength > bodyBytes) {
      return bad('ERR_BODY_TOO_LARGE', `Content-Length ${contentLength} exceeds the limit of ${bodyBytes} bytes`, 413);
    }
    body = { kind: 'length', length: contentLength };
  }

  const tokens = connectionTokens ?? [];
  // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive" (and never "close").
  const close = tokens.includes('close');
  const keepAlive = line.version === '1.1' ? !close : !close && tokens.includes('keep-alive');
  // RFC 9110 §10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0 request MUST
  // ignore that expectation."
  if (line.version === '1.0') expectContinue = false;

  return new ParsedRequestHead(
    line.method, line.target, line.targetForm, line.path, line.query, line.version, fields,
    line.authority ?? hostValue, keepAlive, tokens, expectContinue, body,
  );
}

/**
 * RFC 9112 §6.1 and §7: Transfer-Encoding = #transfer-coding; transfer-coding = token *( OWS ";" OWS
 * transfer-parameter ). Names are case-insensitive (§7). The only coding this server decodes is chunked.
 * In order: a member that is not a token is a 400; a coding we do not know at all is a 501; chunked must
 * be applied once and last, else the length cannot be determined and it is a 400 (§6.3 item 4); and a
 * coding we know but do not decode, applied before chunked ("gzip, chunked"), is a 501: its content would
 * reach the route still encoded. Every one of these closes the connection (the framing is not understood).
 */
function checkTransferCodings(members: string[]): ProtocolError | undefined {
  if (members.length === 0) return bad('ERR_INVALID_TRANSFER_ENCODING', 'empty Transfer-Encoding');
  let chunked = 0;
  let coding = '';
  let notDecoded: string | undefined;
  for (const member of members) {
    const semicolon = member.indexOf(';');
    coding = semicolon < 0 ? member : member.slice(0, semicolon);
    let end = coding.length;
    while (end > 0 && WHITESPACE[coding.charCodeAt(end - 1)] === 1) end--;
    coding = coding.slice(0, end).toLowerCase();
    if (!isToken(coding)) return bad('ERR_INVALID_TRANSFER_ENCODING', `invalid transfer coding "${member}"`);
    // RFC 9112 §6.1: "A server that receives a request message with a transfer coding it does not
    // understand SHOULD respond with 501 (Not Implemented)."
    if (!KNOWN_CODINGS.has(coding)) {
      return bad('ERR_UNSUPPORTED_TRANSFER_CODING', `unsupported transfer coding "${coding}"`, 501);
    }
    if (coding === 'chunked') chunked++;
    else notDecoded ??= coding;
  }
  // RFC 9112 §6.1: "A sender MUST NOT apply the chunked transfer coding more than once to a message body".
  if (chunked > 1) return bad('ERR_INVALID_TRANSFER_ENCODING', 'chunked applied more than once');
  // RFC 9112 §6.3 item 4: "If a Transfer-Encoding header field is present in a request and the chunked
  // transfer coding is not the final encoding, ... the server MUST respond with the 400 (Bad Request)".
  if (coding !== 'chunked') {
    return bad('ERR_INVALID_TRANSFER_ENCODING', 'chunked must be the final transfer coding of a request');
  }
  // RFC 9112 §6.1 again (SHOULD 501): the framing is chunked, but we do not decode the coding under it,
  // and handing any route a body still in that coding would be wrong, whatever the route would answer.
  if (notDecoded !== undefined) {
    return bad('ERR_UNSUPPORTED_TRANSFER_CODING', `transfer coding "${notDecoded}" is not implemented; only chunked is`, 501);
  }
  return undefined;
}

/**
 * RFC 9112 §6.3 / RFC 9110 §8.6: Content-Length = 1*DIGIT, possibly sent as a list of identical values
 * ("Content-Length: 42, 42", which a recipient MAY accept as one). Returns the length, or -1 when any
 * element is malformed (empty, a sign, non-digits, beyond Number.MAX_SAFE_INTEGER) or the elements differ.
 */
export function parseContentLength(value: string): number {
  let result = -1;
  let i = 0;
  const n = value.length;
  for (;;) {
    while (i < n && WHITESPACE[value.charCodeAt(i)] === 1) i++;
    const start = i;
    let length = 0;
    while (i < n) {
      const d = value.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      length = length * 10 + d;
      i++;
    }
    // 16 digits may already exceed 2^53; the safe-integer check then catches the rest.
    if (i === start || i - start > 16 || !Number.isSafeInteger(length)) return -1;
    if (result >= 0 && length !== result) return -1;
    result = length;
    while (i < n && WHITESPACE[value.charCodeAt(i)] === 1) i++;
    if (i === n) return result;
    if (value.charCodeAt(i) !== 0x2c /* , */) return -1;
    i++;
  }
}

/** The parser's `RequestHead`: plain fields plus case-insensitive lookups over the field lines. */
export class ParsedRequestHead implements RequestHead {
  constructor(
    readonly method: string,
    readonly target: string,
    readonly targetForm: TargetForm,
    readonly path: string,
    readonly query: string,
    readonly version: RequestHead['version'],
    readonly fields: readonly Field[],
    readonly host: string,
    readonly keepAlive: boolean,
    readonly connectionTokens: readonly string[],
    readonly expectContinue: boolean,
    readonly body: BodyFraming,
  ) {}

  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    const fields = this.fields;
    let combined: string | undefined;
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      if (sameName(field[0], lower)) combined = combined === undefined ? field[1] : `${combined}, ${field[1]}`;
    }
    return combined;
  }

  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const fields = this.fields;
    const values: string[] = [];
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      if (sameName(field[0], lower)) values.push(field[1]);
    }
    return values;
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    const fields = this.fields;
    for (let i = 0; i < fields.length; i++) {
      if (sameName(fields[i]![0], lower)) return true;
    }
    return false;
  }
}
