/**
 * permessage-deflate negotiation (RFC 7692 §5–7), both roles, as pure functions of header values.
 *
 * The server takes the first acceptable offer (§5.1: offers are in the client's order of preference);
 * an offer with an unknown parameter, a duplicate one or a bad value is declined, and the next is tried
 * (§7: "the server MUST decline an extension negotiation offer" it cannot accept, not fail the handshake).
 */
import type { ParsedExtension } from './handshake-fields.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** What a server is willing to agree to; the bits are upper bounds on the LZ77 windows (§7.1.2). */
export interface DeflatePolicy {
  /** The largest window the server compresses with; it may always use less (§7.1.2.1). */
  readonly serverMaxWindowBits: number;
  /** Asked of the client when its offer allows it (`client_max_window_bits` present, §7.1.2.2). */
  readonly clientMaxWindowBits: number;
  /** Reset the server's compression context after every message (§7.1.1.1). */
  readonly serverNoContextTakeover: boolean;
  /** Ask the client to reset its context after every message (§7.1.1.2): the server then keeps no window. */
  readonly clientNoContextTakeover: boolean;
}

/** The parameters both ends apply once agreed. */
export interface DeflateParams {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
}

export type ServerNegotiation =
  | { readonly kind: 'accepted'; readonly params: DeflateParams; readonly response: string; readonly offer: number }
  | { readonly kind: 'none'; readonly declined: ReadonlyArray<{ readonly offer: number; readonly reason: string }> };

/**
 * zlib's raw deflate uses at least a 9-bit window (it turns 8 into 9), so this end never agrees to
 * compress with 8 bits: a server declines an offer that demands it (§7.1.2.1 lets it), a client fails a
 * response that demands it. Inflating what a peer compressed with 8 bits is fine (a wider window is safe).
 */
export const MIN_COMPRESS_BITS = 9;
const MAX_BITS = 15;

interface OfferParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value (the client supports the parameter but leaves the choice to us). */
  clientMaxWindowBits: number | true | undefined;
}

/** §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15, inclusive". */
function windowBits(value: string | undefined): number | undefined {
  if (value === undefined || !/^(?:8|9|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

function readOffer(offer: ParsedExtension): OfferParams | string {
  const seen = new Set<string>();
  const out: OfferParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: undefined, clientMaxWindowBits: undefined };
  for (const [name, value] of offer.params) {
    const key = name.toLowerCase();
    // §7: "each extension parameter MUST NOT appear more than once in an offer".
    if (seen.has(key)) return `duplicate parameter ${key}`;
    seen.add(key);
    switch (key) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== undefined) return `${key} takes no value`;
        if (key === 'server_no_context_takeover') out.serverNoContextTakeover = true; else out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const bits = windowBits(value);
        if (bits === undefined) return `server_max_window_bits must be 8..15, got ${value === undefined ? 'no value' : JSON.stringify(value)}`;
        out.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        if (value === undefined) { out.clientMaxWindowBits = true; break; }
        const bits = windowBits(value);
        if (bits === undefined) return `client_max_window_bits must be 8..15, got ${JSON.stringify(value)}`;
        out.clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown parameter ${key}`;
    }
  }
  return out;
}

/** The server's side: the first acceptable offer and the exact `Sec-WebSocket-Extensions` value to answer. */
export function negotiateDeflate(offers: readonly ParsedExtension[], policy: DeflatePolicy): ServerNegotiation {
  const declined: Array<{ offer: number; reason: string }> = [];
  for (let index = 0; index < offers.length; index++) {
    const offer = offers[index]!;
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const read = readOffer(offer);
    if (typeof read === 'string') { declined.push({ offer: index, reason: read }); continue; }
    // The server's window is ours to shrink (§7.1.2.1), never to grow past what the client allows.
    const serverBits = Math.min(policy.serverMaxWindowBits, read.serverMaxWindowBits ?? MAX_BITS);
    if (serverBits < MIN_COMPRESS_BITS) { declined.push({ offer: index, reason: 'server_max_window_bits=8: zlib cannot compress with an 8-bit window' }); continue; }
    // §7.1.2.2: the client's window may be limited only if its offer carries client_max_window_bits;
    // otherwise it compresses with up to 15 bits and we inflate with a 32 KiB window.
    const clientBits = read.clientMaxWindowBits === undefined
      ? MAX_BITS
      : Math.min(policy.clientMaxWindowBits, read.clientMaxWindowBits === true ? MAX_BITS : read.clientMaxWindowBits);
    const params: DeflateParams = {
      serverNoContextTakeover: read.serverNoContextTakeover || policy.serverNoContextTakeover,
      clientNoContextTakeover: read.clientNoContextTakeover || policy.clientNoContextTakeover,
      serverMaxWindowBits: serverBits,
      clientMaxWindowBits: clientBits,
    };
    const response = [PERMESSAGE_DEFLATE];
    if (params.serverNoContextTakeover) response.push('server_no_context_takeover');
    if (params.clientNoContextTakeover) response.push('client_no_context_takeover');
    if (read.serverMaxWindowBits !== undefined || params.serverMaxWindowBits < MAX_BITS) response.push(`server_max_window_bits=${params.serverMaxWindowBits}`);
    if (read.clientMaxWindowBits !== undefined && (read.clientMaxWindowBits !== true || clientBits < MAX_BITS)) response.push(`client_max_window_bits=${clientBits}`);
    return { kind: 'accepted', params, response: response.join('; '), offer: index };
  }
  return { kind: 'none', declined };
}


/**
 * What our client offers: the extension with `client_max_window_bits` and no value, as browsers do
 * (§7.1.2.2: "the client supports" the parameter, so the server may pick our window and save memory).
 */
export const CLIENT_DEFLATE_OFFER = `${PERMESSAGE_DEFLATE}; client_max_window_bits`;

/**
 * The client's side: the server's `Sec-WebSocket-Extensions` answer to CLIENT_DEFLATE_OFFER, as the
 * parameters to use, `undefined` when the server declined (no extension), or the reason to fail the
 * connection (§7.1: a client "MUST _Fail the WebSocket Connection_" on a response it cannot accept).
 */
export function acceptDeflateResponse(extensions: readonly ParsedExtension[]): DeflateParams | undefined | string {
  if (extensions.length === 0) return undefined;
  // RFC 6455 §9.1: the server may only choose among what was offered; we offered one extension, once.
  if (extensions.length > 1) return `the server chose ${extensions.length} extensions; we offered only ${PERMESSAGE_DEFLATE}`;
  const chosen = extensions[0]!;
  if (chosen.name.toLowerCase() !== PERMESSAGE_DEFLATE) return `the server chose extension ${chosen.name}, which we did not offer`;
  const read = readOffer(chosen);
  if (typeof read === 'string') return read;
  // §7.1.2.2: "If a received extension negotiation response ... includes the "client_max_window_bits"
  // extension parameter [without a value] ... the client MUST _Fail the WebSocket Connection_"; a value is
  // required in a response.
  if (read.clientMaxWindowBits === true) return 'client_max_window_bits needs a value in a response';
  const clientBits = read.clientMaxWindowBits ?? MAX_BITS;
  if (clientBits < MIN_COMPRESS_BITS) return 'client_max_window_bits=8: zlib cannot compress with an 8-bit window';
  return {
    serverNoContextTakeover: read.serverNoContextTakeover,
    clientNoContextTakeover: read.clientNoContextTakeover,
    serverMaxWindowBits: read.serverMaxWindowBits ?? MAX_BITS,
    clientMaxWindowBits: clientBits,
  };
}

/**
 * The agreed parameters as one line, in full (both window bits, even at their default of 15), e.g. for
 * the connection table: `permessage-deflate; server_max_window_bits=12; client_max_window_bits=12`.
 */
export function describeDeflate(params: DeflateParams): string {
  const parts = [PERMESSAGE_DEFLATE];
  if (params.serverNoContextTakeover) parts.push('server_no_context_takeover');
  if (params.clientNoContextTakeover) parts.push('client_no_context_takeover');
  parts.push(`server_max_window_bits=${params.serverMaxWindowBits}`, `client_max_window_bits=${params.clientMaxWindowBits}`);
  return parts.join('; ');
}
