/**
 * An HTTP/2 request's header block as the same `RequestHead` an HTTP/1.1 request line and field section
 * become, so the router and every protocol handler read one shape whatever carried the request. Pure: it
 * takes the header list node:http2 decoded (HPACK is node's) and checks only what RFC 9113 §8.3 asks of a
 * server beyond what node:http2 already enforces.
 *
 * What differs from HTTP/1.1, and how it maps:
 * - the request line is split into pseudo-header fields (§8.3.1): `:method`, `:scheme`, `:authority`,
 *   `:path`; `:authority` plays Host's part (§8.3.1: it "SHOULD" be used instead of Host);
 * - RFC 8441 §4 adds `:protocol` to a CONNECT: the Upgrade token of HTTP/1.1, on a stream;
 * - connection-specific fields (Connection, Upgrade, Keep-Alive, Transfer-Encoding) are malformed (§8.2.2),
 *   so `connectionTokens` is always empty and `keepAlive` always true: the connection outlives a request;
 * - content ends with the stream (END_STREAM), not by Content-Length or chunking; `body` says whether
 *   any may follow.
 */
import { ProtocolError } from '../errors.js';
import { ParsedRequestHead } from './head-semantics.js';
import type { BodyFraming, Field, RequestHead } from './request-head.js';

/** A stream's request: the head the router and handlers see, plus the one pseudo-header HTTP/1.1 lacks. */
export interface Http2Request {
  readonly head: RequestHead;
  /** RFC 8441 `:protocol`, present only on an extended CONNECT. */
  readonly protocol: string | undefined;
}

/**
 * `rawHeaders` as node:http2 hands them to a 'stream' listener: name, value, name, value, … in arrival
 * order, names lower-case. `endStream` is whether the HEADERS frame carried END_STREAM (no content).
 */
export function http2RequestHead(rawHeaders: readonly string[], endStream: boolean): Http2Request | ProtocolError {
  let method: string | undefined;
  let path: string | undefined;
  let authority: string | undefined;
  let protocol: string | undefined;
  const fields: Field[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (name.charCodeAt(0) !== 0x3a /* : */) {
      fields.push([name, value]);
      continue;
    }
    switch (name) {
      case ':method': method = value; break;
      case ':path': path = value; break;
      case ':authority': authority = value; break;
      case ':protocol': protocol = value; break;
      case ':scheme': break;
      // §8.3: "Endpoints MUST NOT generate pseudo-header fields other than those defined"; node refuses
      // unknown ones itself, so reaching here means a definition newer than this file.
      default: return malformed(`unknown pseudo-header ${name}`);
    }
  }
  if (method === undefined) return malformed('no :method');
  // §8.5: a plain CONNECT has only :method and :authority; RFC 8441 §4 adds :protocol, :scheme and :path.
  const plainConnect = method === 'CONNECT' && protocol === undefined;
  if (!plainConnect && (path === undefined || path === '')) return malformed('no :path');
  if (protocol !== undefined && method !== 'CONNECT') return malformed(':protocol on a request that is not a CONNECT (RFC 8441 §4)');
  const target = plainConnect ? authority ?? '' : path!;
  const queryAt = target.indexOf('?');
  const hostField = fields.find(([name]) => name === 'host')?.[1];
  const contentLength = fields.find(([name]) => name === 'content-length')?.[1];
  const body: BodyFraming = endStream
    ? { kind: 'none' }
    : contentLength !== undefined && /^\d+$/.test(contentLength)
      ? { kind: 'length', length: Number(contentLength) }
      // Content without a declared length ends with the stream: the closest HTTP/1.1 framing is chunked.
      : { kind: 'chunked' };
  const head = new ParsedRequestHead(
    method,
    target,
    plainConnect ? 'authority' : target === '*' ? 'asterisk' : 'origin',
    plainConnect ? '' : queryAt < 0 ? target : target.slice(0, queryAt),
    plainConnect || queryAt < 0 ? '' : target.slice(queryAt),
    '2',
    fields,
    authority ?? hostField ?? '',
    true,
    [],
    false,
    body,
  );
  return { head, protocol };
}

function malformed(message: string): ProtocolError {
  // §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR; as an HTTP answer, 400.
  return new ProtocolError('ERR_HTTP2_MALFORMED', `malformed HTTP/2 request: ${message}`, { status: 400 });
}
