/**
 * The character classes of HTTP (RFC 9110, RFC 9112) and URIs (RFC 3986), as 256-entry lookup tables so
 * that a parser checks a byte (or a latin1 char code) with one array read. Each table sits beside the ABNF
 * it encodes. The helpers below (`isToken`, `parseList`, `parseHost`) are the small pieces of grammar the
 * parser, the registry and the protocols share.
 */

type Table = Uint8Array;

function table(chars: string, ...ranges: ReadonlyArray<readonly [number, number]>): Table {
  const t = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  for (const [from, to] of ranges) for (let c = from; c <= to; c++) t[c] = 1;
  return t;
}

const DIGIT = [0x30, 0x39] as const;
const ALPHA_UPPER = [0x41, 0x5a] as const;
const ALPHA_LOWER = [0x61, 0x7a] as const;
/** obs-text = %x80-FF (RFC 9110 §5.6.4) */
const OBS_TEXT = [0x80, 0xff] as const;
/** VCHAR = %x21-7E (RFC 5234 B.1) */
const VCHAR = [0x21, 0x7e] as const;

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;

/**
 * RFC 9110 §5.6.2:
 *   token = 1*tchar
 *   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
 *         / DIGIT / ALPHA
 */
export const TCHAR: Table = table("!#$%&'*+-.^_`|~", DIGIT, ALPHA_UPPER, ALPHA_LOWER);

/**
 * RFC 9110 §5.5:
 *   field-value = *field-content
 *   field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
 *   field-vchar = VCHAR / obs-text
 * Inside a value SP and HTAB are allowed too; every other CTL (NUL, CR, LF, DEL...) is not.
 */
export const FIELD_VALUE_CHAR: Table = table(' \t', VCHAR, OBS_TEXT);

/** RFC 9110 §5.6.3: OWS = *( SP / HTAB ), likewise BWS. */
export const WHITESPACE: Table = table(' \t');

/** RFC 5234 B.1: HEXDIG = DIGIT / "A" / "B" / "C" / "D" / "E" / "F" (case-insensitive). */
export const HEXDIG: Table = table('', DIGIT, [0x41, 0x46], [0x61, 0x66]);

/** RFC 3986 §2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" */
const UNRESERVED = "-._~";
/** RFC 3986 §2.2: sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "=" */
const SUB_DELIMS = "!$&'()*+,;=";

/**
 * RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"; a path adds "/".
 * `%` is in the table; the two HEXDIGs after it (pct-encoded) are checked by `checkPercentEncoded`.
 */
export const PATH_CHAR: Table = table(UNRESERVED + SUB_DELIMS + ':@/%', DIGIT, ALPHA_UPPER, ALPHA_LOWER);

/**
 * RFC 3986 §3.4: query = *( pchar / "/" / "?" ). What the parser accepts in a query is that set plus `[ ] { } | ^ " \` < > \\`. Browsers and curl
 * send `?a[]=1` and `?q={"x":1}` unescaped, and nginx, Go's net/http and h11 accept any visible character
 * there; refusing them would teach learners that working URLs are broken. Still never a space, a CTL, a
 * `#` (fragments are not part of a request-target) or non-ASCII.
 */
export const QUERY_CHAR: Table = table(UNRESERVED + SUB_DELIMS + ':@/?%[]{}|^"`<>\\', DIGIT, ALPHA_UPPER, ALPHA_LOWER);

/** RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ) */
const REG_NAME_CHAR: Table = table(UNRESERVED + SUB_DELIMS + '%', DIGIT, ALPHA_UPPER, ALPHA_LOWER);

/** RFC 3986 §3.2.2: IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) — the part after the dot. */
const IPVFUTURE_CHAR: Table = table(UNRESERVED + SUB_DELIMS + ':', DIGIT, ALPHA_UPPER, ALPHA_LOWER);

/**
 * RFC 9110 §5.6.4:
 *   quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
 *   qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
 *   quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
 */
export const QDTEXT: Table = table(' \t!', [0x23, 0x5b], [0x5d, 0x7e], OBS_TEXT);
export const QUOTED_PAIR_CHAR: Table = table(' \t', VCHAR, OBS_TEXT);

/** `token` (RFC 9110 §5.6.2): one or more tchar. */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    if (TCHAR[value.charCodeAt(i)] !== 1) return false;
  }
  return true;
}

/**
 * The elements of a comma-separated list field (RFC 9110 §5.6.1): `#element` allows empty elements and
 * OWS around commas, and "a recipient MUST parse and ignore a reasonable number of empty list elements".
 * Elements are returned trimmed, in order. Quoted strings containing commas are not special-cased: none of
 * the fields this project reads as lists (Connection, Upgrade, Transfer-Encoding, Expect) needs them.
 */
export function parseList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  const n = value.length;
  while (start <= n) {
    let end = value.indexOf(',', start);
    if (end < 0) end = n;
    let a = start;
    let b = end;
    while (a < b && WHITESPACE[value.charCodeAt(a)] === 1) a++;
    while (b > a && WHITESPACE[value.charCodeAt(b - 1)] === 1) b--;
    if (b > a) out.push(value.slice(a, b));
    start = end + 1;
  }
  return out;
}

/** Whether every `%` in value[from, to) is followed by two HEXDIGs (RFC 3986 §2.1: pct-encoded). */
export function checkPercentEncoded(value: string, from: number, to: number): boolean {
  for (let i = value.indexOf('%', from); i >= 0 && i < to; i = value.indexOf('%', i + 1)) {
    if (i + 2 >= to) return false;
    if (HEXDIG[value.charCodeAt(i + 1)] !== 1 || HEXDIG[value.charCodeAt(i + 2)] !== 1) return false;
  }
  return true;
}

export type HostKind = 'reg-name' | 'ipv4' | 'ipv6' | 'ipvfuture';

export interface ParsedHost {
  /** The host as sent: a reg-name, dotted IPv4, or the IP literal including its brackets. */
  readonly hostname: string;
  readonly kind: HostKind;
  /** The port, or undefined when absent or empty (`host:` is allowed by RFC 3986 §3.2.3). */
  readonly port: number | undefined;
}

/**
 * Validates `uri-host [ ":" port ]` (RFC 9110 §7.2 for Host, RFC 9112 §3.2.3 for authority-form) with the
 * RFC 3986 §3.2.2 grammar:
 *   host = IP-literal / IPv4address / reg-name
 *   IP-literal = "[" ( IPv6address / IPvFuture ) "]"
 *   port = *DIGIT
 * The port must be at most 65535 (RFC 9293 ports are 16 bits). Returns undefined when invalid. An empty
 * reg-name is grammatical (a Host of "" is allowed when the target has no authority, RFC 9110 §7.2);
 * callers that need a name check `hostname !== ''`.
 */
export function parseHost(value: string): ParsedHost | undefined {
  let hostEnd: number;
  let kind: HostKind;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    hostEnd = value.indexOf(']');
    if (hostEnd < 0) return undefined;
    hostEnd++;
    const inner = value.slice(1, hostEnd - 1);
    if (inner.charCodeAt(0) === 0x76 /* v */ || inner.charCodeAt(0) === 0x56 /* V */) {
      if (!isIpvFuture(inner)) return undefined;
      kind = 'ipvfuture';
    } else {
      if (!isIpv6(inner)) return undefined;
      kind = 'ipv6';
    }
  } else {
    hostEnd = value.indexOf(':');
    if (hostEnd < 0) hostEnd = value.length;
    for (let i = 0; i < hostEnd; i++) {
      if (REG_NAME_CHAR[value.charCodeAt(i)] !== 1) return undefined;
    }
    if (!checkPercentEncoded(value, 0, hostEnd)) return undefined;
    kind = isIpv4(value, 0, hostEnd) ? 'ipv4' : 'reg-name';
  }
  let port: number | undefined;
  if (hostEnd < value.length) {
    if (value.charCodeAt(hostEnd) !== 0x3a /* : */) return undefined;
    if (hostEnd + 1 < value.length) {
      let n = 0;
      for (let i = hostEnd + 1; i < value.length; i++) {
        const c = value.charCodeAt(i) - 0x30;
        if (c < 0 || c > 9) return undefined;
        n = n * 10 + c;
        if (n > 65535) return undefined;
      }
      port = n;
    }
  }
  return { hostname: value.slice(0, hostEnd), kind, port };
}

/** RFC 3986 §3.2.2: IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet (0-255, no leading zeros). */
function isIpv4(value: string, from: number, to: number): boolean {
  let octets = 0;
  let i = from;
  while (i < to) {
    const start = i;
    let n = 0;
    while (i < to) {
      const c = value.charCodeAt(i) - 0x30;
      if (c < 0 || c > 9) break;
      n = n * 10 + c;
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || n > 255 || (digits > 1 && value.charCodeAt(start) === 0x30)) return false;
    octets++;
    if (i === to) break;
    if (value.charCodeAt(i) !== 0x2e /* . */ || octets === 4) return false;
    i++;
    if (i === to) return false;
  }
  return octets === 4;
}

/**
 * RFC 3986 §3.2.2 IPv6address: eight groups of 1-4 HEXDIG separated by ":", at most one "::" standing for
 * one or more zero groups, and optionally an IPv4address in place of the last two groups.
 */
function isIpv6(value: string): boolean {
  const n = value.length;
  if (n < 2) return false;
  let groups = 0;
  let compressed = false;
  let i = 0;
  if (value.startsWith('::')) {
    compressed = true;
    i = 2;
    if (i === n) return true;
  } else if (value.charCodeAt(0) === 0x3a) {
    return false;
  }
  while (i < n) {
    const start = i;
    while (i < n && HEXDIG[value.charCodeAt(i)] === 1 && i - start < 5) i++;
    const digits = i - start;
    if (i < n && value.charCodeAt(i) === 0x2e /* . */) {
      // The trailing IPv4 form counts as two groups.
      if (!isIpv4(value, start, n)) return false;
      groups += 2;
      i = n;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    groups++;
    if (i === n) break;
    if (value.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (value.charCodeAt(i) === 0x3a) {
      if (compressed) return false;
      compressed = true;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return false;
    }
  }
  return compressed ? groups <= 7 : groups === 8;
}

function isIpvFuture(value: string): boolean {
  const dot = value.indexOf('.');
  if (dot < 2 || dot === value.length - 1) return false;
  for (let i = 1; i < dot; i++) if (HEXDIG[value.charCodeAt(i)] !== 1) return false;
  for (let i = dot + 1; i < value.length; i++) if (IPVFUTURE_CHAR[value.charCodeAt(i)] !== 1) return false;
  return true;
}
