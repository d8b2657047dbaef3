import { ProtocolError, UsageError } from '../../errors.js';
import type { RequestHead } from '../../http/request-head.js';
import { WEBSOCKET_VERSION, computeAcceptKey, isValidClientKey } from './accept-key.js';
import { WebSocketErrorCode as Err } from './error-codes.js';
import { isToken, listHasToken, parseExtensions, splitList, type ParsedExtension } from './handshake-fields.js';
import { negotiateDeflate, type DeflateParams, type DeflatePolicy } from './deflate-negotiation.js';

export { WEBSOCKET_VERSION, computeAcceptKey, generateClientKey } from './accept-key.js';
export type { ParsedExtension } from './handshake-fields.js';
// The client's side lives in its own file; re-exported so the whole handshake has one import path.
export {
  buildClientHandshakeRequest,
  verifyServerHandshake,
  type ClientHandshakeRequest,
  type ServerHandshakeResult,
} from './client-handshake.js';

/**
 * The server's side of the opening handshake (RFC 6455 §4.2): a pure function from a parsed request head
 * to either what the 101 needs or a ProtocolError carrying the HTTP status (and any headers) to refuse
 * with. Nothing is written here: the caller validates, then writes the 101 and hands over (STYLE.md §5).
 *
 * The checks run in the order of §4.2.1, except that the version goes before the key: a client speaking
 * an older draft is better served by 426 and the version we speak (§4.4) than by a 400 about its key.
 */

export interface HandshakeOptions {
  /** Subprotocols this server speaks, most preferred first. */
  readonly protocols?: readonly string[];
  /** Refuse (400, ERR_NO_SUBPROTOCOL) a client that offers none of `protocols`. */
  readonly requireProtocol?: boolean;
  /**
   * Which `Origin`s may connect (§10.2): a list (ASCII case-insensitive, e.g. `https://example.com`) or a
   * predicate. With a list, a request without `Origin` is allowed: only browsers send it, and the check
   * exists to stop other sites' pages from connecting, not non-browser clients (gorilla does the same).
   * A predicate sees `undefined` and decides itself.
   */
  readonly allowedOrigins?: readonly string[] | ((origin: string | undefined) => boolean);
  /** Accept permessage-deflate (RFC 7692) within these bounds; absent: every extension is declined. */
  readonly deflate?: DeflatePolicy;
}

export type HandshakeResult =
  | {
      readonly ok: true;
      /** The `Sec-WebSocket-Accept` value; undefined over HTTP/2, which has no key to answer (RFC 8441 §5). */
      readonly accept: string | undefined;
      /** The chosen subprotocol, or undefined when none was agreed. */
      readonly protocol: string | undefined;
      /** What the client offered in `Sec-WebSocket-Extensions`. */
      readonly extensionOffers: ParsedExtension[];
      /** permessage-deflate as agreed (the 101 carries it), or undefined when no offer was accepted. */
      readonly deflate: DeflateParams | undefined;
      /** Why each permessage-deflate offer that was not taken was declined (for the trace and probe). */
      readonly declinedOffers: ReadonlyArray<{ readonly offer: number; readonly reason: string }>;
      /** Headers for the 101 besides `Upgrade` and `Connection`. */
      readonly responseHeaders: Array<[string, string]>;
    }
  | { readonly ok: false; readonly error: ProtocolError };

export function validateClientHandshake(head: RequestHead, options: HandshakeOptions = {}): HandshakeResult {
  const { protocols = [], requireProtocol = false, allowedOrigins, deflate: deflatePolicy } = options;
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new UsageError('ERR_INVALID_SUBPROTOCOL', `subprotocol "${protocol}" is not a token`);
  }

  let key: string | undefined;
  if (head.version === '2') {
    // RFC 8441 §5: over HTTP/2 the handshake is an extended CONNECT with :protocol websocket (the
    // registry matched it). "The HTTP/1.1 Connection, Upgrade, Sec-WebSocket-Key and Sec-WebSocket-Accept
    // fields are not used": no key, no accept; the version, subprotocol and extension fields stay.
    if (head.method !== 'CONNECT') {
      return refuse(Err.MethodNotAllowed, `WebSocket over HTTP/2 is an extended CONNECT, not ${head.method} (RFC 8441 §5)`, 405, [['Allow', 'CONNECT']]);
    }
    // RFC 8441 §4: ":authority" carries the host, like Host in HTTP/1.1.
    if (head.host === '') return refuse(Err.MissingHost, 'the extended CONNECT has no :authority');
    const versions = head.getAll('sec-websocket-version');
    if (versions.length !== 1 || versions[0]!.trim() !== WEBSOCKET_VERSION) {
      // 426 needs an Upgrade field (RFC 9110 §15.5.22), which HTTP/2 forbids (RFC 9113 §8.2.2): a 400
      // with the version we speak says the same (RFC 6455 §4.4).
      return refuse(Err.UnsupportedVersion, `unsupported sec-websocket-version ${JSON.stringify(versions.join(', '))}`, 400, [['Sec-WebSocket-Version', WEBSOCKET_VERSION]]);
    }
  } else {
    // §4.1 item 1: "The method of the request MUST be GET". RFC 9110 §15.5.6: a 405 "MUST generate an
    // Allow header field", which tells the client what would work; that is more useful than a bare 400.
    if (head.method !== 'GET') {
      return refuse(Err.MethodNotAllowed, `the opening handshake must be GET, not ${head.method}`, 405, [['Allow', 'GET']]);
    }
    // §4.1 item 1: "the HTTP version MUST be at least 1.1".
    if (head.version !== '1.1') return refuse(Err.HttpVersion, 'the opening handshake needs HTTP/1.1');
    // §4.2.1 item 2: "A |Host| header field containing the server's authority."
    if (head.host === '') return refuse(Err.MissingHost, 'the opening handshake has no Host');
    // §4.2.1 item 3: "An |Upgrade| header field containing the value "websocket", treated as an ASCII
    // case-insensitive value."
    if (!listHasToken(head.getAll('upgrade'), 'websocket')) {
      return refuse(Err.MissingUpgrade, 'Upgrade does not include websocket');
    }
    // §4.2.1 item 4: "A |Connection| header field that includes the token "Upgrade", treated as an ASCII
    // case-insensitive value." (connectionTokens are lower-cased by the HTTP parser.)
    if (!head.connectionTokens.includes('upgrade')) {
      return refuse(Err.MissingConnectionUpgrade, 'Connection does not include upgrade');
    }
    // §4.2.1 item 6 and §4.4: for a version it does not speak, the server "MUST abort the WebSocket
    // handshake" with "an appropriate HTTP error code (such as 426 Upgrade Required) and a
    // |Sec-WebSocket-Version| header field indicating the version(s) the server is capable of
    // understanding". RFC 9110 §15.5.22: a 426 "MUST send an Upgrade header field".
    const versions = head.getAll('sec-websocket-version');
    if (versions.length !== 1 || versions[0]!.trim() !== WEBSOCKET_VERSION) {
      return refuse(Err.UnsupportedVersion, `unsupported Sec-WebSocket-Version ${JSON.stringify(versions.join(', '))}`, 426, [
        ['Sec-WebSocket-Version', WEBSOCKET_VERSION],
        ['Upgrade', 'websocket'],
      ]);
    }
    // §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded, is
    // 16 bytes in length." §11.3.1: it "MUST NOT appear more than once in an HTTP request".
    const keys = head.getAll('sec-websocket-key');
    if (keys.length !== 1 || !isValidClientKey(keys[0]!)) {
      return refuse(Err.InvalidKey, 'Sec-WebSocket-Key must be one base64 value of 16 bytes');
    }
    key = keys[0]!;
  }
  // §4.2.2 item 4 ("the server MAY ... check the Origin") and §10.2: refuse with 403.
  if (allowedOrigins !== undefined) {
    const origin = head.get('origin');
    const allowed =
      typeof allowedOrigins === 'function'
        ? allowedOrigins(origin)
        : origin === undefined || allowedOrigins.some((o) => o.toLowerCase() === origin.toLowerCase());
    if (!allowed) return refuse(Err.OriginForbidden, `origin ${JSON.stringify(origin)} is not allowed`, 403);
  }
  // §4.2.2 item 4 (subprotocol): "The value chosen MUST be derived from the client's handshake,
  // specifically by selecting one of the values from the |Sec-WebSocket-Protocol| field". §4.1: the
  // elements "MUST be non-empty strings ... not including separator characters", i.e. tokens. §11.3.4:
  // the field may appear on several lines, "logically the same as a single" one with all the values.
  const offered = splitList(head.getAll('sec-websocket-protocol'));
  const badOffer = offered.find((p) => !isToken(p));
  if (badOffer !== undefined) {
    return refuse(Err.InvalidSubprotocol, `Sec-WebSocket-Protocol element ${JSON.stringify(badOffer)} is not a token`);
  }
  // The client lists its offers "ordered by preference" (§4.1 item 10), but the choice is the server's
  // (§4.2.2): we take the first of the server's preferences that the client offered.
  const protocol = protocols.find((p) => offered.includes(p));
  if (protocol === undefined && requireProtocol) {
    return refuse(Err.NoSubprotocol, `none of the offered subprotocols (${offered.join(', ') || 'none'}) is supported`);
  }
  // §9.1 syntax. §4.2.2 item 4 (/extensions/): the server picks among the offers; we speak only
  // permessage-deflate (RFC 7692), and only when the endpoint's policy allows it.
  const extensionOffers = parseExtensions(head.getAll('sec-websocket-extensions'));
  if (extensionOffers === undefined) return refuse(Err.InvalidExtensions, 'Sec-WebSocket-Extensions is malformed');
  const negotiation = deflatePolicy === undefined ? undefined : negotiateDeflate(extensionOffers, deflatePolicy);

  const accept = key === undefined ? undefined : computeAcceptKey(key);
  const responseHeaders: Array<[string, string]> = accept === undefined ? [] : [['Sec-WebSocket-Accept', accept]];
  if (protocol !== undefined) responseHeaders.push(['Sec-WebSocket-Protocol', protocol]);
  // RFC 7692 §5: the response "includes the extension ... and the agreed parameters", exactly one element.
  if (negotiation?.kind === 'accepted') responseHeaders.push(['Sec-WebSocket-Extensions', negotiation.response]);
  return {
    ok: true,
    accept,
    protocol,
    extensionOffers,
    deflate: negotiation?.kind === 'accepted' ? negotiation.params : undefined,
    declinedOffers: negotiation?.kind === 'none' ? negotiation.declined : [],
    responseHeaders,
  };
}

function refuse(
  code: string,
  message: string,
  status = 400,
  headers: ReadonlyArray<readonly [string, string]> = [],
): HandshakeResult {
  return { ok: false, error: new ProtocolError(code, message, { status, headers }) };
}
