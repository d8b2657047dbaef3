/**
 * The request-line (RFC 9112 §3) and the four forms of request-target (RFC 9112 §3.2), decoded from the
 * latin1 text of a head. Only the shape is judged here; which methods exist is the server's business.
 */
import { ProtocolError } from '../errors.js';
import { checkPercentEncoded, parseHost, PATH_CHAR, QUERY_CHAR, SP, TCHAR } from './grammar.js';
import { bareCr } from './field-lines.js';
import type { RequestHead, TargetForm } from './request-head.js';

/** The request-line's part of a RequestHead, plus the authority its target named, if any. */
export interface RequestLine extends Pick<RequestHead, 'method' | 'target' | 'targetForm' | 'path' | 'query' | 'version'> {
  /** host[:port] from an absolute-form or authority-form target, else undefined. */
  readonly authority: string | undefined;
}

function invalid(code: string, message: string, status = 400): ProtocolError {
  return new ProtocolError(code, message, { status });
}

/**
 * request-line = method SP request-target SP HTTP-version (RFC 9112 §3), in text[0, end) (end excludes
 * the CRLF). Exactly one SP between the parts: RFC 9112 §3 allows a server to accept other whitespace,
 * but a lenient split is how two parsers come to disagree about a request, so we do not.
 */
export function parseRequestLine(text: string, end: number): RequestLine | ProtocolError {
  // RFC 9112 §2.2: no bare CR anywhere in the line (one native search instead of a check per character).
  const cr = text.indexOf('\r');
  if (cr >= 0 && cr < end) return bareCr();

  // method = token (RFC 9110 §9.1)
  let i = 0;
  while (i < end && TCHAR[text.charCodeAt(i)] === 1) i++;
  if (i === 0 || i === end || text.charCodeAt(i) !== SP) return malformedLine();
  const method = text.slice(0, i);

  // request-target, up to the next SP; its characters are checked by the grammar of its form below.
  const targetStart = i + 1;
  let j = text.indexOf(' ', targetStart);
  if (j < 0 || j > end) j = end;
  if (j === targetStart || j === end) return malformedLine();

  // HTTP-version = HTTP-name "/" DIGIT "." DIGIT, HTTP-name = %s"HTTP" (case-sensitive) (RFC 9112 §2.3)
  const v = j + 1;
  let version: '1.0' | '1.1';
  if (end - v === 8 && text.startsWith('HTTP/1.1', v)) {
    version = '1.1';
  } else if (end - v === 8 && text.startsWith('HTTP/1.0', v)) {
    version = '1.0';
  } else if (end - v === 8 && text.startsWith('HTTP/1.', v) && isDigit(text.charCodeAt(v + 7))) {
    // HTTP/1.2 to HTTP/1.9. RFC 9110 §2.5: a recipient of "a minor version number higher than what it
    // implements SHOULD process the message as if it were in the highest minor version within that major
    // version to which the recipient is conformant", and the response carries that version (HTTP/1.1).
    // So everything downstream (keep-alive, Host, Upgrade) sees an HTTP/1.1 request.
    version = '1.1';
  } else if (
    end - v === 8 && text.startsWith('HTTP/', v) && isDigit(text.charCodeAt(v + 5)) &&
    text.charCodeAt(v + 6) === 0x2e && isDigit(text.charCodeAt(v + 7))
  ) {
    // RFC 9110 §15.6.6: 505 for a major version the server does not support (HTTP/2.0, HTTP/0.9, ...).
    return invalid('ERR_VERSION_NOT_SUPPORTED', `HTTP version ${text.slice(v + 5, end)} is not supported`, 505);
  } else {
    return invalid('ERR_INVALID_VERSION', 'HTTP-version must be HTTP/1.1 or HTTP/1.0');
  }

  return parseTarget(method, text.slice(targetStart, j), version);
}

function malformedLine(): ProtocolError {
  return invalid('ERR_INVALID_REQUEST_LINE', 'request-line must be: method SP request-target SP HTTP-version');
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function parseTarget(method: string, target: string, version: '1.0' | '1.1'): RequestLine | ProtocolError {
  // RFC 9112 §3.2.3: authority-form is used only for CONNECT, and CONNECT only with it (RFC 9110 §9.3.6).
  //   authority-form = uri-host ":" port
  if (method === 'CONNECT') {
    const host = parseHost(target);
    if (host === undefined || host.hostname === '' || host.port === undefined) {
      return invalid('ERR_INVALID_TARGET', 'CONNECT needs an authority-form target: host:port');
    }
    return { method, target, targetForm: 'authority', path: '', query: '', version, authority: target };
  }
  const c0 = target.charCodeAt(0);
  // RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ]
  if (c0 === 0x2f /* / */) {
    const pathEnd = pathAndQuery(target, 0);
    if (pathEnd < 0) return invalid('ERR_INVALID_TARGET', 'request-target has characters not allowed in a path or query');
    return {
      method, target, targetForm: 'origin',
      path: pathEnd === target.length ? target : target.slice(0, pathEnd),
      query: pathEnd === target.length ? '' : target.slice(pathEnd),
      version, authority: undefined,
    };
  }
  // RFC 9112 §3.2.4: asterisk-form = "*", only for a server-wide OPTIONS.
  if (target === '*') {
    if (method !== 'OPTIONS') return invalid('ERR_INVALID_TARGET', 'asterisk-form "*" is only allowed with OPTIONS');
    return { method, target, targetForm: 'asterisk', path: '*', query: '', version, authority: undefined };
  }
  return parseAbsoluteForm(method, target, version);
}

/**
 * RFC 9112 §3.2.2: absolute-form = absolute-URI. We accept the "http" and "https" schemes (RFC 9110 §4.2):
 *   "http" "://" authority path-abempty [ "?" query ]
 * The authority replaces the Host field for routing (RFC 9112 §3.2.2: "the server MUST ignore the received
 * Host header field ... and instead use the host information of the request-target").
 */
function parseAbsoluteForm(method: string, target: string, version: '1.0' | '1.1'): RequestLine | ProtocolError {
  const colon = target.indexOf(':');
  const scheme = colon > 0 ? target.slice(0, colon).toLowerCase() : '';
  if ((scheme !== 'http' && scheme !== 'https') || !target.startsWith('//', colon + 1)) {
    return invalid('ERR_INVALID_TARGET', 'request-target must be origin-form (/path), absolute-form (http://host/path), "*" or host:port');
  }
  const authorityStart = colon + 3;
  let authorityEnd = authorityStart;
  while (authorityEnd < target.length) {
    const c = target.charCodeAt(authorityEnd);
    if (c === 0x2f || c === 0x3f) break;
    authorityEnd++;
  }
  const authority = target.slice(authorityStart, authorityEnd);
  // RFC 9110 §4.2.4: userinfo in an http(s) URI is deprecated; "a recipient SHOULD ... treat its presence
  // as an error". RFC 9110 §4.2.1: "A recipient ... MUST reject" an http URI with an empty host as invalid.
  if (authority.includes('@')) return invalid('ERR_INVALID_TARGET', 'userinfo is not allowed in an http(s) target');
  const host = parseHost(authority);
  if (host === undefined || host.hostname === '') return invalid('ERR_INVALID_TARGET', 'absolute-form target has an invalid host');
  const pathEnd = pathAndQuery(target, authorityEnd);
  if (pathEnd < 0) return invalid('ERR_INVALID_TARGET', 'request-target has characters not allowed in a path or query');
  // RFC 9112 §3.2.1: an empty path is sent as "/" in origin-form; report it the same way.
  const path = pathEnd === authorityEnd ? '/' : target.slice(authorityEnd, pathEnd);
  return { method, target, targetForm: 'absolute', path, query: target.slice(pathEnd), version, authority };
}

/**
 * Checks `path [ "?" query ]` from `from` to the end of target (RFC 3986 §3.3, §3.4) and returns where the
 * path ends (the "?" or the end), or -1 when a character is not allowed (a "#" fragment included: it is
 * never part of a request-target).
 */
function pathAndQuery(target: string, from: number): number {
  const n = target.length;
  let k = from;
  while (k < n && PATH_CHAR[target.charCodeAt(k)] === 1) k++;
  const pathEnd = k;
  if (k < n) {
    if (target.charCodeAt(k) !== 0x3f /* ? */) return -1;
    k++;
    while (k < n && QUERY_CHAR[target.charCodeAt(k)] === 1) k++;
    if (k < n) return -1;
  }
  if (!checkPercentEncoded(target, from, n)) return -1;
  return pathEnd;
}
