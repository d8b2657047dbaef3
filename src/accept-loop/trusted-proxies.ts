/**
 * Which peers may speak for their clients: `--trust-proxy ADDR[/PREFIX],...` parsed into a matcher. A
 * PROXY protocol header (HAProxy's spec, §5: "accepting the header only from a number of known sources
 * should be safe") and a `Forwarded` / `X-Forwarded-For` field (RFC 7239 §8.1) are believed only from
 * an address this matcher accepts. Pure: text in, a predicate out; no socket, no DNS.
 *
 * How this works. Every address is parsed into its bytes (4 for IPv4, 16 for IPv6) by the strict text
 * parsers below, and a rule is those bytes plus a prefix length; matching compares the first `prefix`
 * bits. Families stay apart, with one exception: an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2,
 * `::ffff:10.0.0.1`, what a dual-stack socket reports for an IPv4 peer) is read as the IPv4 address it
 * carries, on both sides, so `--trust-proxy 10.0.0.0/8` matches the peer `::ffff:10.0.0.1`.
 */
import { UsageError } from '../errors.js';

/** The `code` of every `TrustProxyError`. */
export const TRUST_PROXY_ERROR_CODE = 'ERR_BAD_TRUST_PROXY';

/** Bad `--trust-proxy` text: the operator's mistake, reported like any other bad option. */
export class TrustProxyError extends UsageError {
  constructor(message: string) {
    super(TRUST_PROXY_ERROR_CODE, message);
    this.name = 'TrustProxyError';
  }
}

/** One rule, as parsed: `10.0.0.0/8` is `{ family: 4, address: '10.0.0.0', prefix: 8 }`. */
export interface TrustRule {
  readonly family: 4 | 6;
  /** The network address, in canonical text (dotted quad, or RFC 5952 for IPv6). */
  readonly address: string;
  readonly prefix: number;
  /** The rule as the operator wrote it (trimmed), for messages and the dashboard. */
  readonly text: string;
}

export interface TrustedProxies {
  readonly rules: readonly TrustRule[];
  /**
   * True when `address` (IPv4 dotted quad or IPv6 text, an IPv6 zone `%eth0` ignored) lies in a rule.
   * Anything that is not an address (`'?'`, a host name, '') is never trusted.
   */
  isTrusted(address: string): boolean;
}

interface CompiledRule {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/**
 * Parses `ADDR[/PREFIX],...`: IPv4 or IPv6 addresses, a bare address meaning /32 or /128. Whitespace
 * around the commas is allowed; an empty list, an empty item, a bad address, a prefix out of range or
 * written with a leading zero, and a network with bits set past its prefix (`10.0.0.1/8`: probably a typo
 * for 10.0.0.0/8) throw a `TrustProxyError` saying which item and why.
 */
export function parseTrustedProxies(text: string): TrustedProxies {
  const items = text.split(',').map((item) => item.trim());
  if (items.length === 1 && items[0] === '') throw new TrustProxyError('--trust-proxy needs at least one ADDR[/PREFIX], e.g. --trust-proxy 127.0.0.1,10.0.0.0/8,::1');
  const rules: TrustRule[] = [];
  const compiled: { v4: CompiledRule[]; v6: CompiledRule[] } = { v4: [], v6: [] };
  for (const [index, item] of items.entries()) {
    if (item === '') throw new TrustProxyError(`--trust-proxy "${text}": item ${index + 1} is empty (two commas, or a comma at an end)`);
    const rule = parseRule(item);
    rules.push(rule.rule);
    (rule.rule.family === 4 ? compiled.v4 : compiled.v6).push(rule.compiled);
  }
  return {
    rules,
    isTrusted(address: string): boolean {
      const parsed = parseAnyAddress(address);
      if (parsed === undefined) return false;
      const list = parsed.length === 4 ? compiled.v4 : compiled.v6;
      for (const rule of list) if (prefixMatches(rule.bytes, parsed, rule.prefix)) return true;
      return false;
    },
  };
}

function parseRule(item: string): { rule: TrustRule; compiled: CompiledRule } {
  const slash = item.indexOf('/');
  const addressText = slash < 0 ? item : item.slice(0, slash);
  if (addressText.includes('%')) throw new TrustProxyError(`--trust-proxy "${item}": a zone (%…) names an interface, not an address; leave it out`);
  let bytes = parseAnyAddressStrict(addressText);
  if (bytes === undefined) {
    throw new TrustProxyError(`--trust-proxy "${item}": "${addressText}" is neither an IPv4 address (four decimal numbers 0-255, e.g. 10.0.0.1) nor an IPv6 address (e.g. 2001:db8::1)`);
  }
  const max = bytes.length * 8;
  let prefix = max;
  if (slash >= 0) {
    const prefixText = item.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > max) {
      throw new TrustProxyError(`--trust-proxy "${item}": the prefix "${prefixText}" must be a whole number from 0 to ${max} for an IPv${max === 32 ? 4 : 6} address`);
    }
    prefix = Number(prefixText);
  }
  // An IPv4-mapped rule (::ffff:10.0.0.0/104) is the IPv4 rule it spells (10.0.0.0/8), so that it
  // matches the same peers however the socket reports them.
  if (bytes.length === 16 && isV4Mapped(bytes) && prefix >= 96) {
    bytes = bytes.subarray(12);
    prefix -= 96;
  }
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) {
      const network = maskTo(bytes, prefix);
      throw new TrustProxyError(`--trust-proxy "${item}": the address has bits set past the /${prefix} prefix; the network is ${formatAddressBytes(network)}/${prefix}`);
    }
  }
  const family = bytes.length === 4 ? 4 : 6;
  return {
    rule: { family, address: formatAddressBytes(bytes), prefix, text: item },
    compiled: { bytes: Uint8Array.from(bytes), prefix },
  };
}

function prefixMatches(network: Uint8Array, address: Uint8Array, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (network[i] !== address[i]) return false;
  const bits = prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (network[whole]! & mask) === (address[whole]! & mask);
}

function maskTo(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(1 << (7 - (bit & 7)));
  return out;
}

// ── address text ─────────────────────────────────────────────────────────────────────────────────────

/**
 * An address as a peer or a proxy reports it: IPv4 text, or IPv6 text with an optional `%zone` (which
 * Node reports for link-local peers) dropped; an IPv4-mapped IPv6 address comes back as its 4 IPv4 bytes.
 */
function parseAnyAddress(text: string): Uint8Array | undefined {
  const zone = text.indexOf('%');
  const bytes = parseAnyAddressStrict(zone >= 0 && text.includes(':') ? text.slice(0, zone) : text);
  if (bytes !== undefined && bytes.length === 16 && isV4Mapped(bytes)) return bytes.subarray(12);
  return bytes;
}

function parseAnyAddressStrict(text: string): Uint8Array | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/**
 * IPv4 in dotted-decimal: exactly four numbers 0-255 and no leading zeros (`010` could mean octal to
 * inet_aton; the PROXY spec §2.1 forbids them for the same reason). Returns the 4 bytes or undefined.
 */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    out[i] = value;
  }
  return out;
}

/**
 * IPv6 text as RFC 4291 §2.2 defines it (what inet_pton accepts): eight groups of 1-4 hex digits
 * separated by colons, at most one `::` standing for one or more zero groups, and optionally the last
 * two groups written as a dotted quad (`::ffff:192.0.2.1`). No zone, no brackets. The 16 bytes, or
 * undefined.
 */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const double = text.indexOf('::');
  if (double >= 0 && text.indexOf('::', double + 1) >= 0) return undefined;
  const head = double >= 0 ? text.slice(0, double) : text;
  const tail = double >= 0 ? text.slice(double + 2) : '';
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  if (double < 0 && headGroups.length === 0) return undefined;
  const words: number[] = [];
  const all = [...headGroups, ...tailGroups];
  const out = new Uint8Array(16);
  let tailV4: Uint8Array | undefined;
  for (const [i, group] of all.entries()) {
    if (i === all.length - 1 && group.includes('.')) {
      tailV4 = parseIpv4(group);
      if (tailV4 === undefined) return undefined;
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    words.push(parseInt(group, 16));
  }
  // The dotted quad is the last 32 bits, so it cannot stand before a `::` (`1.2.3.4::`).
  if (tailV4 && double >= 0 && tailGroups.length === 0) return undefined;
  const count = words.length + (tailV4 ? 2 : 0);
  if (double < 0 ? count !== 8 : count > 7) return undefined;
  const headWords = tailV4 && tailGroups.length === 0 ? words.length : headGroups.length;
  const tailWords = words.slice(headWords);
  for (let i = 0; i < headWords; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  const tailStart = 8 - tailWords.length - (tailV4 ? 2 : 0);
  for (let i = 0; i < tailWords.length; i++) {
    out[(tailStart + i) * 2] = tailWords[i]! >> 8;
    out[(tailStart + i) * 2 + 1] = tailWords[i]! & 0xff;
  }
  if (tailV4) out.set(tailV4, 12);
  return out;
}

/** RFC 4291 §2.5.5.2: ::ffff:0:0/96. */
export function isV4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * 4 bytes as a dotted quad; 16 as RFC 5952 text: lower case (§4.3), no leading zeros (§4.1), the longest
 * run of two or more zero groups as `::`, the first on a tie (§4.2), and an IPv4-mapped address with its
 * last 32 bits dotted (§5: `::ffff:192.0.2.1`).
 */
export function formatAddressBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (isV4Mapped(bytes)) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = words.map((word) => word.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
