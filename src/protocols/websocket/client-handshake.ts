import { ProtocolError, UsageError } from '../../errors.js';
import type { Field } from '../../http/request-head.js';
import { WEBSOCKET_VERSION, computeAcceptKey, isValidClientKey } from './accept-key.js';
import { WebSocketErrorCode as Err } from './error-codes.js';
import { CLIENT_DEFLATE_OFFER, acceptDeflateResponse, type DeflateParams } from './deflate-negotiation.js';
import { fieldValues, isToken, listHasToken, parseExtensions } from './handshake-fields.js';

export { generateClientKey } from './accept-key.js';

/**
 * The client's side of the opening handshake (RFC 6455 §4.1): the request to send, and the check of the
 * server's response. Pure functions; the caller owns the socket and the HTTP response parsing.
 */

export interface ClientHandshakeRequest {
  /** The Host header value (authority, with the port when not the default). */
  readonly host: string;
  /** The request-target in origin form: `/path?query`. */
  readonly path: string;
  /** From `generateClientKey()`. */
  readonly key: string;
  /** Subprotocols to offer, most preferred first. */
  readonly protocols?: readonly string[];
  /** Sent as `Origin` (browsers always do; other clients may, §4.1 item 8). */
  readonly origin?: string;
  /** Offer permessage-deflate (RFC 7692) as browsers do: `permessage-deflate; client_max_window_bits`. */
  readonly deflate?: boolean;
  /** Extra header fields, in order. The handshake's own fields may not be overridden. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

const OWN_FIELDS = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'origin',
]);

/** The request head to write, CRLFs and the blank line included. Throws UsageError on bad input. */
export function buildClientHandshakeRequest(request: ClientHandshakeRequest): string {
  const { host, path, key, protocols = [], origin, headers = [], deflate = false } = request;
  // The target goes between two spaces of the request line: no whitespace, no control characters.
  if (!path.startsWith('/') || /[\x00-\x20\x7f]/.test(path)) {
    throw new UsageError('ERR_INVALID_PATH', `path must be an origin-form target, got ${JSON.stringify(path)}`);
  }
  if (host === '' || /[\x00-\x20\x7f]/.test(host)) throw new UsageError('ERR_INVALID_HOST', 'invalid host');
  if (!isValidClientKey(key)) throw new UsageError('ERR_INVALID_KEY', 'key must be base64 of 16 bytes');
  // §4.1 item 10: the elements "MUST all be unique strings" and tokens.
  if (protocols.some((p) => !isToken(p)) || new Set(protocols).size !== protocols.length) {
    throw new UsageError('ERR_INVALID_SUBPROTOCOL', 'subprotocols must be distinct tokens');
  }
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    `Sec-WebSocket-Version: ${WEBSOCKET_VERSION}`,
  ];
  if (protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(', ')}`);
  if (deflate) lines.push(`Sec-WebSocket-Extensions: ${CLIENT_DEFLATE_OFFER}`);
  if (origin !== undefined) lines.push(`Origin: ${checkValue('Origin', origin)}`);
  for (const [name, value] of headers) {
    if (!isToken(name)) throw new UsageError('ERR_INVALID_HEADER', `invalid header name ${JSON.stringify(name)}`);
    if (OWN_FIELDS.has(name.toLowerCase())) {
      throw new UsageError('ERR_RESERVED_HEADER', `${name} is set by the handshake itself`);
    }
    lines.push(`${name}: ${checkValue(name, value)}`);
  }
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Header values may not carry CR, LF or NUL (RFC 9110 §5.5), which would split or end the head. */
function checkValue(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new UsageError('ERR_INVALID_HEADER', `${name} value contains CR, LF or NUL`);
  return value.trim();
}

export type ServerHandshakeResult =
  | {
      readonly ok: true;
      readonly protocol: string | undefined;
      /** permessage-deflate as the server agreed it, or undefined when it declined (or we did not offer). */
      readonly deflate: DeflateParams | undefined;
    }
  | { readonly ok: false; readonly error: ProtocolError };

/**
 * Checks the server's response head (§4.1, "the client MUST validate the server's response"); any
 * failure means "the client MUST _Fail the WebSocket Connection_".
 */
export function verifyServerHandshake(
  status: number,
  fields: readonly Field[],
  expected: { readonly key: string; readonly protocols?: readonly string[]; readonly deflate?: boolean },
): ServerHandshakeResult {
  // §4.1 item 1: "If the status code received from the server is not 101, the client handles the
  // response per HTTP [RFC2616] procedures."
  if (status !== 101) return fail(Err.HandshakeStatus, `expected 101 Switching Protocols, got ${status}`);
  // §4.1 item 2: Upgrade must be "websocket" (ASCII case-insensitive).
  if (!listHasToken(fieldValues(fields, 'upgrade'), 'websocket')) {
    return fail(Err.MissingUpgrade, 'the response Upgrade does not include websocket');
  }
  // §4.1 item 3: Connection must contain "Upgrade" (ASCII case-insensitive).
  if (!listHasToken(fieldValues(fields, 'connection'), 'upgrade')) {
    return fail(Err.MissingConnectionUpgrade, 'the response Connection does not include upgrade');
  }
  // §4.1 item 4: Sec-WebSocket-Accept must be the base64 SHA-1 of the key and the GUID, compared exactly.
  const accepts = fieldValues(fields, 'sec-websocket-accept');
  if (accepts.length !== 1 || accepts[0]!.trim() !== computeAcceptKey(expected.key)) {
    return fail(Err.AcceptMismatch, 'Sec-WebSocket-Accept does not match the key');
  }
  // §4.1 item 5: extensions "not present in the client's handshake" fail the connection; we offer at
  // most permessage-deflate, whose response RFC 7692 §7.1 constrains further.
  const extensions = fieldValues(fields, 'sec-websocket-extensions').filter((v) => v.trim() !== '');
  let deflate: DeflateParams | undefined;
  if (extensions.length > 0) {
    if (expected.deflate !== true) return fail(Err.UnexpectedExtension, `the server chose extensions we did not offer: ${extensions.join(', ')}`);
    const parsed = parseExtensions(extensions);
    if (parsed === undefined) return fail(Err.InvalidExtensionResponse, `Sec-WebSocket-Extensions is malformed: ${extensions.join(', ')}`);
    const agreed = acceptDeflateResponse(parsed);
    if (typeof agreed === 'string') return fail(Err.InvalidExtensionResponse, `unacceptable permessage-deflate response (${agreed}): ${extensions.join(', ')}`);
    deflate = agreed;
  }
  // §4.1 item 6: a subprotocol "that was not present in the client's handshake" fails the connection;
  // §11.3.4: the field "MUST NOT appear more than once in an HTTP response".
  const chosen = fieldValues(fields, 'sec-websocket-protocol');
  if (chosen.length === 0) return { ok: true, protocol: undefined, deflate };
  const protocol = chosen[0]!.trim();
  if (chosen.length > 1 || !(expected.protocols ?? []).includes(protocol)) {
    return fail(Err.UnexpectedSubprotocol, `the server chose subprotocol ${JSON.stringify(chosen.join(', '))}, which we did not offer`);
  }
  return { ok: true, protocol, deflate };
}

function fail(code: string, message: string): ServerHandshakeResult {
  return { ok: false, error: new ProtocolError(code, message) };
}
