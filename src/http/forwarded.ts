/**
 * Who the client is, as HTTP proxies report it: `Forwarded` (RFC 7239) and `X-Forwarded-For` parsed
 * into a list of hops, and the walk that picks the client out of them, believing only trusted proxies.
 * Pure (strings in, values out), like the rest of src/http; which peers are trusted is a predicate the
 * caller passes in (see src/accept-loop/trusted-proxies.ts).
 *
 * How this works. Each proxy appends one element naming the node it received the request from, so the
 * list reads client first, nearest proxy last (RFC 7239 §4, §7.5). Anyone can write anything into the
 * field before it reaches the first honest proxy (§8.1), so only the tail appended by trusted proxies
 * means anything. `resolveClient` starts at the connection's peer: an untrusted peer is the client and
 * the header is ignored; a trusted peer vouches for the last element; if that names a trusted proxy too,
 * it vouches for the one before, and so on; the first untrusted (or non-IP) node is the client. This is
 * nginx's realip with `real_ip_recursive on`, and what Go servers commonly do with X-Forwarded-For.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { TCHAR } from './grammar.js';

/**
 * RFC 7239 §6: node = nodename [ ":" node-port ]; nodename = IPv4address / "[" IPv6address "]" /
 * "unknown" / obfnode. `address` is the IP text (IPv6 without brackets), the obfuscated identifier
 * (`_hidden`), or 'unknown'. `port` is the node-port as written: digits, or an obfport (`_abc`).
 */
export interface ForwardedNode {
  readonly kind: 'ipv4' | 'ipv6' | 'obfuscated' | 'unknown';
  readonly address: string;
  readonly port: string | undefined;
}

/** One forwarded-element (RFC 7239 §4): the parameters one proxy added. Names are lower-cased. */
export interface ForwardedHop {
  /** §5.2: the node the proxy received the request from. */
  readonly for: ForwardedNode | undefined;
  /** §5.1: the interface where the request came in to the proxy. */
  readonly by: ForwardedNode | undefined;
  /** §5.4: the scheme the request used to reach the proxy, lower-cased, e.g. 'https'. */
  readonly proto: string | undefined;
  /** §5.3: the Host request header field the proxy received. */
  readonly host: string | undefined;
  /** §5.5: every other parameter, [lower-cased name, value], in order. */
  readonly extensions: ReadonlyArray<readonly [string, string]>;
}

export type ForwardedParse =
  | { readonly ok: true; readonly hops: readonly ForwardedHop[] }
  | { readonly ok: false; readonly reason: string };

/** Who `resolveClient` found. */
export interface ForwardedClient {
  /** The client: the peer itself, or the node a trusted hop reported. */
  readonly node: ForwardedNode;
  /** 'peer' when no header was believed (untrusted peer, or no hops); 'header' otherwise. */
  readonly source: 'peer' | 'header';
  /** Index in `hops` of the element that named the client; undefined when `source` is 'peer'. */
  readonly hopIndex: number | undefined;
  /** How many trusted proxies vouched on the way (the peer included); 0 when the peer is untrusted. */
  readonly trustedProxies: number;
}

/**
 * Parses the `Forwarded` field lines of one request (several lines are one comma list, RFC 9110 §5.3).
 * RFC 7239 §4:
 *   Forwarded         = 1#forwarded-element
 *   forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
 *   forwarded-pair    = token "=" value
 *   value             = token / quoted-string
 * Parameter names are case-insensitive, and "each parameter MUST NOT occur more than once per
 * forwarded-element". `for` and `by` must be nodes (§6), `proto` a URI scheme (§5.4). Whitespace is
 * allowed around commas (the list rule, RFC 9110 §5.6.1) and, leniently, around `;` (the grammar has
 * none there, but proxies emit "for=a; proto=https"); never around `=`. Anything else is an error for
 * the whole field, which a caller should then ignore: a half-read header is no safer than none.
 */
export function parseForwarded(values: string | readonly string[]): ForwardedParse {
  const text = typeof values === 'string' ? values : values.join(',');
  const hops: ForwardedHop[] = [];
  const p = { text, at: 0 };
  for (;;) {
    skipOws(p);
    // 1#element allows empty list elements (RFC 9110 §5.6.1: a recipient "MUST accept ... empty list elements").
    if (p.text[p.at] === ',') { p.at++; continue; }
    if (p.at >= p.text.length) break;
    const hop = parseElement(p);
    if (typeof hop === 'string') return { ok: false, reason: hop };
    hops.push(hop);
    skipOws(p);
    if (p.at >= p.text.length) break;
    if (p.text[p.at] !== ',') return { ok: false, reason: `unexpected ${show(p.text[p.at]!)} at ${p.at}: elements are separated by commas (RFC 7239 §4)` };
    p.at++;
  }
  if (hops.length === 0) return { ok: false, reason: 'the field holds no forwarded-element (RFC 7239 §4: 1#forwarded-element)' };
  return { ok: true, hops };
}

interface Cursor { readonly text: string; at: number }

function parseElement(p: Cursor): ForwardedHop | string {
  const hop: { for: ForwardedNode | undefined; by: ForwardedNode | undefined; proto: string | undefined; host: string | undefined; extensions: Array<readonly [string, string]> } = {
    for: undefined, by: undefined, proto: undefined, host: undefined, extensions: [],
  };
  const seen = new Set<string>();
  for (;;) {
    skipWs(p);
    const c = p.text[p.at];
    if (c === undefined || c === ',') break;
    if (c === ';') { p.at++; continue; } // an empty pair: [ forwarded-pair ]
    const nameStart = p.at;
    while (p.at < p.text.length && isTchar(p.text.charCodeAt(p.at))) p.at++;
    if (p.at === nameStart) return `unexpected ${show(c)} at ${p.at}: a forwarded-pair starts with a parameter name (a token, RFC 7239 §4)`;
    const name = p.text.slice(nameStart, p.at).toLowerCase();
    if (p.text[p.at] !== '=') return `the parameter "${name}" at ${nameStart} is not followed by "=" (RFC 7239 §4: forwarded-pair = token "=" value)`;
    p.at++;
    const value = parseValue(p);
    if (value === undefined) return `the value of "${name}" at ${nameStart} is neither a token nor a quoted-string (RFC 7239 §4)`;
    if (seen.has(name)) return `"${name}" appears twice in one element (RFC 7239 §4: "Each parameter MUST NOT occur more than once per forwarded-element")`;
    seen.add(name);
    switch (name) {
      case 'for':
      case 'by': {
        const node = parseNode(value);
        if (node === undefined) return `${name}=${JSON.stringify(value)} is not a node: an IPv4 address, a bracketed IPv6 address, "unknown" or an "_obfuscated" name, with an optional :port (RFC 7239 §6)`;
        hop[name] = node;
        break;
      }
      case 'proto':
        // §5.4: "the value MUST be a URI scheme name as defined in RFC 3986 §3.1": ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
        if (!/^[A-Za-z][A-Za-z0-9+.-]*$/.test(value)) return `proto=${JSON.stringify(value)} is not a URI scheme (RFC 7239 §5.4)`;
        hop.proto = value.toLowerCase();
        break;
      case 'host':
        hop.host = value;
        break;
      default:
        hop.extensions.push([name, value]);
    }
    skipWs(p);
    const next = p.text[p.at];
    if (next === undefined || next === ',') break;
    if (next !== ';') return `unexpected ${show(next)} at ${p.at}: pairs are separated by ";" (RFC 7239 §4)`;
  }
  return hop;
}

/** value = token / quoted-string (RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )). */
function parseValue(p: Cursor): string | undefined {
  if (p.text[p.at] !== '"') {
    const start = p.at;
    while (p.at < p.text.length && isTchar(p.text.charCodeAt(p.at))) p.at++;
    return p.at === start ? undefined : p.text.slice(start, p.at);
  }
  p.at++;
  let out = '';
  while (p.at < p.text.length) {
    const c = p.text.charCodeAt(p.at);
    if (c === 0x22) { p.at++; return out; }
    if (c === 0x5c) {
      const escaped = p.text.charCodeAt(p.at + 1);
      if (!(escaped === 0x09 || (escaped >= 0x20 && escaped <= 0x7e) || (escaped >= 0x80 && escaped <= 0xff))) return undefined;
      out += p.text[p.at + 1];
      p.at += 2;
      continue;
    }
    // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
    if (!(c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff))) return undefined;
    out += p.text[p.at];
    p.at++;
  }
  return undefined; // no closing quote
}

/** obfnode / obfport = "_" 1*( ALPHA / DIGIT / "." / "_" / "-" ) (RFC 7239 §6.3). */
const OBFUSCATED = /^_[A-Za-z0-9._-]+$/;

/**
 * RFC 7239 §6: node = nodename [ ":" node-port ]; node-port = port / obfport; port = 1*5DIGIT. Returns
 * undefined when `value` is none of the forms. (§6: IPv6 "MUST be enclosed in square brackets".)
 */
export function parseNode(value: string): ForwardedNode | undefined {
  let name: string;
  let port: string | undefined;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return undefined;
    name = value.slice(1, close);
    const after = value.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return undefined;
      port = after.slice(1);
    }
    if (!isIPv6(name) || name.includes('%')) return undefined;
  } else {
    const colon = value.indexOf(':');
    name = colon < 0 ? value : value.slice(0, colon);
    if (colon >= 0) port = value.slice(colon + 1);
  }
  if (port !== undefined && !/^[0-9]{1,5}$/.test(port) && !OBFUSCATED.test(port)) return undefined;
  if (value.startsWith('[')) return { kind: 'ipv6', address: name.toLowerCase(), port };
  if (isIPv4(name)) return { kind: 'ipv4', address: name, port };
  // §6.2: "unknown"; a quoted literal in ABNF is case-insensitive (RFC 5234 §2.3).
  if (name.toLowerCase() === 'unknown') return { kind: 'unknown', address: 'unknown', port };
  if (OBFUSCATED.test(name)) return { kind: 'obfuscated', address: name, port };
  return undefined;
}

/**
 * Parses `X-Forwarded-For` lines (de facto: a comma list of addresses, client first, as nginx's
 * `$proxy_add_x_forwarded_for` appends them). Entries may be IPv4, IPv6 (bare or bracketed), with a
 * port (`192.0.2.1:4711`, `[2001:db8::1]:4711`), `unknown` or `_obfuscated`; each becomes a hop with only
 * `for` set. Anything else fails the whole field, as for `Forwarded`.
 */
export function parseXForwardedFor(values: string | readonly string[]): ForwardedParse {
  const text = typeof values === 'string' ? values : values.join(',');
  const hops: ForwardedHop[] = [];
  for (const [index, raw] of text.split(',').entries()) {
    const item = raw.trim();
    if (item === '') continue;
    // A bare IPv6 address has colons of its own: take it whole before trying host:port.
    const node: ForwardedNode | undefined = isIPv6(item) && !item.includes('%')
      ? { kind: 'ipv6', address: item.toLowerCase(), port: undefined }
      : parseNode(item);
    if (node === undefined) return { ok: false, reason: `entry ${index + 1} of X-Forwarded-For, ${JSON.stringify(item)}, is not an IP address (with an optional port)` };
    hops.push({ for: node, by: undefined, proto: undefined, host: undefined, extensions: [] });
  }
  if (hops.length === 0) return { ok: false, reason: 'X-Forwarded-For holds no address' };
  return { ok: true, hops };
}

/**
 * The client, as the trusted proxies report it. `peer` is the connection's remote address (already
 * normalised: `::ffff:a.b.c.d` as `a.b.c.d` is fine either way, `isTrusted` decides); `hops` is what
 * `parseForwarded` or `parseXForwardedFor` returned; `isTrusted` is the `--trust-proxy` matcher.
 *
 * An untrusted peer is the client, whatever the header says (RFC 7239 §8.1: the header "can be
 * modified ... by any node"). A trusted peer vouches for the last hop's `for`; the walk goes on
 * toward the first hop while the node just reached is a trusted IP address. It stops at the first node
 * that is untrusted or not an address (`unknown`, `_obfuscated`: nobody can vouch past them), or at the
 * first hop with no `for` (the peer's node stands then, as nothing was reported), or at the first hop
 * when every node is trusted. Ports are kept as the hop reported them.
 */
export function resolveClient(peer: string, hops: readonly ForwardedHop[], isTrusted: (address: string) => boolean): ForwardedClient {
  const peerNode: ForwardedNode = { kind: peer.includes(':') ? 'ipv6' : 'ipv4', address: peer, port: undefined };
  if (!isTrusted(peer) || hops.length === 0) {
    return { node: peerNode, source: 'peer', hopIndex: undefined, trustedProxies: 0 };
  }
  let trusted = 1;
  let client: { node: ForwardedNode; index: number } | undefined;
  for (let i = hops.length - 1; i >= 0; i--) {
    const node = hops[i]!.for;
    if (node === undefined) break;
    client = { node, index: i };
    const isAddress = node.kind === 'ipv4' || node.kind === 'ipv6';
    if (!isAddress || !isTrusted(node.address)) break;
    if (i > 0) trusted++;
  }
  if (client === undefined) return { node: peerNode, source: 'peer', hopIndex: undefined, trustedProxies: trusted };
  return { node: client.node, source: 'header', hopIndex: client.index, trustedProxies: trusted };
}

function isTchar(code: number): boolean {
  return code < 256 && TCHAR[code] === 1;
}

/** OWS around list commas (RFC 9110 §5.6.1), and the whitespace tolerated around ";". */
function skipOws(p: Cursor): void {
  while (p.text[p.at] === ' ' || p.text[p.at] === '\t') p.at++;
}

const skipWs = skipOws;

function show(c: string): string {
  const code = c.charCodeAt(0);
  return code >= 0x21 && code <= 0x7e ? `"${c}"` : `0x${code.toString(16).padStart(2, '0')}`;
}
