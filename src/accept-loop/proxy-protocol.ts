/**
 * A sans-IO reader of the PROXY protocol header, versions 1 and 2, as HAProxy's specification defines
 * them ("The PROXY protocol, Versions 1 & 2", revision 2020/03/05, the text shipped as
 * doc/proxy-protocol.txt with HAProxy 2.9; section numbers below are that document's). A proxy in TCP
 * mode (HAProxy `send-proxy`/`send-proxy-v2`, nginx `proxy_protocol on`) writes the header before any of
 * the client's bytes, so that the server learns the client's addresses as the proxy saw them.
 *
 * The contract with the caller. Bytes go in with `receive(chunk)`; each call returns the verdict so far:
 * need-data, the header, or an error with a stable code. No socket, timer or EventEmitter; nothing a peer
 * sends makes it throw; a verdict, once given, is sticky. Unlike the ClientHello reader, this reader does
 * consume: the header belongs to the proxy, not to the protocol behind it, so the 'header' event carries
 * `rest`, every byte received after the header (those already in the chunk that ended it), which the
 * caller must hand to the next layer first (sniffing, TLS, HTTP). Nothing received is lost.
 *
 * How this works. §2.2 ("Identifying the protocol version"): a v2 header starts with a 12-byte signature,
 * a v1 header with "PROXY". The two differ at the first byte (CR vs 'P'), and each received byte is
 * compared with the signature as it arrives, so a stranger is refused at its first wrong byte. Then:
 *  - v1 (§2.1) is one line of at most 107 bytes ending in CRLF. The reader looks for the line end in the
 *    first 107 bytes (a lone CR or LF is an error at once, §2.1: "must not tolerate a single CR or LF"),
 *    and decodes the fields only once the whole line is in ("must wait for the CRLF sequence before
 *    starting to decode the addresses").
 *  - v2 (§2.2) has a 16-byte fixed part: signature, version/command, family/transport, a uint16 length
 *    of what follows. Every field is checked as soon as its byte is in (the length against the cap and
 *    against the address block the family needs, before waiting for any of it); once all 16 + length
 *    bytes are in, the addresses and the TLVs (§2.2.1-§2.2.7) are decoded in one pass and a CRC32C TLV
 *    is verified (§2.2.3).
 * Every check depends only on the bytes before the point it looks at, in stream order, so the verdict is
 * the same however the bytes were chunked: a prefix gives need-data or the whole input's verdict.
 *
 * §2 and §5 also say what the caller must do, and this reader cannot: expect the header only where it is
 * configured ("MUST not try to guess whether the protocol header is present or not") and only from
 * trusted addresses (see trusted-proxies.ts), and give up on a header that does not arrive within a few
 * seconds ("at least 3 seconds to cover a TCP retransmit").
 */
import { UsageError } from '../errors.js';
import { formatAddressBytes, parseIpv4, parseIpv6 } from './trusted-proxies.js';

/** The stable `code` of every error the reader returns. */
export const ProxyHeaderErrorCode = {
  /** The first bytes match neither "PROXY " (v1) nor the 12-byte v2 signature (§2.2). */
  BadSignature: 'ERR_PROXY_BAD_SIGNATURE',
  /** v2: the version nibble is not 2 (§2.2: "the receiver must only accept this value"). */
  BadVersion: 'ERR_PROXY_BAD_VERSION',
  /** v2: the command nibble is neither LOCAL (0) nor PROXY (1). */
  BadCommand: 'ERR_PROXY_BAD_COMMAND',
  /** v2: an address family or transport nibble out of range; v1: not TCP4, TCP6 or UNKNOWN. */
  BadFamily: 'ERR_PROXY_BAD_FAMILY',
  /** v2: the length is too short for the address block its family needs (12, 36 or 216 bytes). */
  AddressLength: 'ERR_PROXY_ADDRESS_LENGTH',
  /** v1: no CRLF within the first 107 bytes (§2.1). */
  LineTooLong: 'ERR_PROXY_LINE_TOO_LONG',
  /** v1: a CR not followed by LF, or an LF not preceded by CR (§2.1). */
  BadLineEnd: 'ERR_PROXY_BAD_LINE_END',
  /** v1: the line is not the five fields separated by exactly one space (§2.1). */
  BadLine: 'ERR_PROXY_BAD_LINE',
  /** v1: an address that is not canonical text of the announced family (§2.1). */
  BadAddress: 'ERR_PROXY_BAD_ADDRESS',
  /** v1: a port that is not a decimal 0-65535 without leading zeros (§2.1). */
  BadPort: 'ERR_PROXY_BAD_PORT',
  /** v2: 16 + length exceeds `maxV2Bytes`; decided at the length field. */
  TooLarge: 'ERR_PROXY_HEADER_TOO_LARGE',
  /** v2: a TLV (or an SSL sub-TLV) whose length runs past the header, or a header ending inside one. */
  TlvOverrun: 'ERR_PROXY_TLV_OVERRUN',
  /** v2: a well-known TLV whose value breaks its section (CRC32C not 4 bytes, UNIQUE_ID over 128, …). */
  BadTlv: 'ERR_PROXY_BAD_TLV',
  /** v2: the CRC32C TLV does not match the header (§2.2.3: "MUST treat the TCP connection … as invalid"). */
  CrcMismatch: 'ERR_PROXY_CRC_MISMATCH',
  /** The peer closed (receiveEnd) before the header was complete. */
  Incomplete: 'ERR_PROXY_INCOMPLETE',
} as const;
export type ProxyHeaderErrorCode = (typeof ProxyHeaderErrorCode)[keyof typeof ProxyHeaderErrorCode];

/** §2.2: `\x0D \x0A \x0D \x0A \x00 \x0D \x0A \x51 \x55 \x49 \x54 \x0A`, i.e. "\r\n\r\n\0\r\nQUIT\n". */
export const PROXY_V2_SIGNATURE = Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** §2.1: "PROXY" then exactly one space. */
export const PROXY_V1_PREFIX = Uint8Array.from([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]);
/** §2.1: the worst case, "PROXY UNKNOWN ffff:…:ffff ffff:…:ffff 65535 65535\r\n", is 107 bytes. */
export const PROXY_V1_MAX_LINE = 107;
/** §2.2: signature (12), ver_cmd, fam, len (2). */
export const PROXY_V2_FIXED_BYTES = 16;

/**
 * The cap on a v2 header, fixed part included. The length field allows 16 + 65535 bytes; real headers
 * are far smaller: the largest address block is 216 (AF_UNIX), and HAProxy's TLVs (ALPN, AUTHORITY up to
 * a 255-byte host name, UNIQUE_ID up to 128, SSL with version, cipher, CN, algorithms, CRC32C) come to a
 * few hundred more. 4 KiB leaves room for custom TLVs (§2.2.8) while refusing, at the length field, a
 * peer that would have the loop buffer 64 KiB before it speaks.
 */
export const DEFAULT_PROXY_V2_MAX_BYTES = 4096;

/** §2.2: PP2_TYPE_* and PP2_SUBTYPE_SSL_*. */
export const ProxyTlvType = {
  Alpn: 0x01,
  Authority: 0x02,
  Crc32c: 0x03,
  Noop: 0x04,
  UniqueId: 0x05,
  Ssl: 0x20,
  SslVersion: 0x21,
  SslCn: 0x22,
  SslCipher: 0x23,
  SslSigAlg: 0x24,
  SslKeyAlg: 0x25,
  Netns: 0x30,
} as const;

/** §2.2.6: the bits of pp2_tlv_ssl.client. */
export const PP2_CLIENT_SSL = 0x01;
export const PP2_CLIENT_CERT_CONN = 0x02;
export const PP2_CLIENT_CERT_SESS = 0x04;

/** §2.2.5: "an opaque byte sequence of up to 128 bytes". */
export const PROXY_UNIQUE_ID_MAX = 128;

export interface ProxyTlv {
  readonly type: number;
  /** A copy: it does not share memory with the received chunks. */
  readonly value: Uint8Array;
}

/** §2.2.6: struct pp2_tlv_ssl { uint8_t client; uint32_t verify; struct pp2_tlv sub_tlv[0]; }. */
export interface ProxySslInfo {
  /** PP2_CLIENT_* bits. */
  readonly client: number;
  /** "zero if the client presented a certificate and it was successfully verified, and non-zero otherwise". */
  readonly verify: number;
  /** PP2_SUBTYPE_SSL_VERSION (0x21), e.g. 'TLSv1.3'. */
  readonly version: string | undefined;
  /** PP2_SUBTYPE_SSL_CN (0x22): the client certificate's Common Name, UTF-8. */
  readonly cn: string | undefined;
  /** PP2_SUBTYPE_SSL_CIPHER (0x23), e.g. 'ECDHE-RSA-AES128-GCM-SHA256'. */
  readonly cipher: string | undefined;
  /** PP2_SUBTYPE_SSL_SIG_ALG (0x24), e.g. 'RSA-SHA256'. */
  readonly sigAlg: string | undefined;
  /** PP2_SUBTYPE_SSL_KEY_ALG (0x25), e.g. 'RSA2048'. */
  readonly keyAlg: string | undefined;
  /** Every sub-TLV, in order, known or not. */
  readonly subTlvs: readonly ProxyTlv[];
}

/** The well-known TLVs, decoded (the first of each type when a sender repeats one). */
export interface ProxyTlvInfo {
  /** PP2_TYPE_ALPN (§2.2.1), latin1, e.g. 'h2'. */
  readonly alpn: string | undefined;
  /** PP2_TYPE_AUTHORITY (§2.2.2): the host name (the SNI under TLS), UTF-8. */
  readonly authority: string | undefined;
  /** PP2_TYPE_CRC32C (§2.2.3): the checksum as received; it has been verified when present. */
  readonly crc32c: number | undefined;
  /** PP2_TYPE_UNIQUE_ID (§2.2.5). */
  readonly uniqueId: Uint8Array | undefined;
  /** PP2_TYPE_SSL (§2.2.6). */
  readonly ssl: ProxySslInfo | undefined;
  /** PP2_TYPE_NETNS (§2.2.7): the network namespace's name, US-ASCII. */
  readonly netns: string | undefined;
}

export interface ProxyInetEndpoint {
  /** Dotted quad, or RFC 5952 IPv6 text (an IPv4-mapped address as `::ffff:192.0.2.1`). */
  readonly address: string;
  readonly port: number;
}

/**
 * What the proxy says about the connection it relays:
 *  - 'inet' / 'inet6': v1 TCP4 / TCP6, or v2 AF_INET / AF_INET6 with STREAM or DGRAM.
 *  - 'unix': v2 AF_UNIX; the 108-byte sun_path of each side, up to its first NUL (an abstract socket,
 *    whose path starts with NUL, as '@name').
 *  - 'unspec': v1 UNKNOWN, or v2 AF_UNSPEC / an UNSPEC transport: the proxy knows no addresses, and the
 *    spec says to use the real connection's ("SHOULD accept the connection and use the real
 *    connection's parameters", §2.1; "the receiver should ignore address information", §2.2).
 */
export type ProxyAddresses =
  | { readonly family: 'inet' | 'inet6'; readonly transport: 'stream' | 'dgram'; readonly source: ProxyInetEndpoint; readonly destination: ProxyInetEndpoint }
  | { readonly family: 'unix'; readonly transport: 'stream' | 'dgram'; readonly source: string; readonly destination: string }
  | { readonly family: 'unspec' };

export interface ProxyHeader {
  readonly version: 1 | 2;
  /**
   * 'proxy': relayed on behalf of a client; `addresses` describes it. 'local' (v2 only, §2.2): the proxy
   * opened the connection itself (a health check); "the receiver … must use the real connection
   * endpoints", so `addresses` is always `{ family: 'unspec' }`, whatever the block held. v1 has no
   * command: every v1 header is 'proxy' (UNKNOWN shows as an 'unspec' address).
   */
  readonly command: 'proxy' | 'local';
  readonly addresses: ProxyAddresses;
  /** v2: every TLV in order, NOOP included (§2.2.4); v1: none. */
  readonly tlvs: readonly ProxyTlv[];
  readonly tlv: ProxyTlvInfo;
  /** Bytes the header took on the wire: the v1 line with its CRLF, or 16 + length. */
  readonly headerLength: number;
}

export type ProxyHeaderEvent =
  | { readonly type: 'need-data' }
  /** `rest`: the bytes received after the header, for the next layer (may be empty). */
  | { readonly type: 'header'; readonly header: ProxyHeader; readonly rest: Uint8Array }
  | { readonly type: 'error'; readonly code: ProxyHeaderErrorCode; readonly message: string };

export interface ProxyHeaderReaderOptions {
  /** The most bytes a v2 header may take, fixed part included. Default `DEFAULT_PROXY_V2_MAX_BYTES`. */
  readonly maxV2Bytes?: number;
}

const NEED_DATA: ProxyHeaderEvent = Object.freeze({ type: 'need-data' });
const NO_TLVS: ProxyTlvInfo = Object.freeze({ alpn: undefined, authority: undefined, crc32c: undefined, uniqueId: undefined, ssl: undefined, netns: undefined });
const UNSPEC: ProxyAddresses = Object.freeze({ family: 'unspec' });
const EMPTY = new Uint8Array(0);
const CR = 0x0d;
const LF = 0x0a;

export class ProxyHeaderReader {
  readonly #maxV2Bytes: number;
  /** Everything received so far, contiguous (a header is at most a few KiB before a verdict). */
  #bytes: Uint8Array = EMPTY;
  #verdict: ProxyHeaderEvent | undefined;

  constructor(options: ProxyHeaderReaderOptions = {}) {
    for (const key of Object.keys(options)) {
      if (key !== 'maxV2Bytes') throw new UsageError('ERR_UNKNOWN_OPTION', `unknown ProxyHeaderReader option "${key}"`);
    }
    const max = options.maxV2Bytes ?? DEFAULT_PROXY_V2_MAX_BYTES;
    if (!Number.isInteger(max) || max < PROXY_V2_FIXED_BYTES || max > PROXY_V2_FIXED_BYTES + 0xffff) {
      throw new UsageError('ERR_BAD_OPTION', `maxV2Bytes must be an integer from ${PROXY_V2_FIXED_BYTES} to ${PROXY_V2_FIXED_BYTES + 0xffff}, not ${max}`);
    }
    this.#maxV2Bytes = max;
  }

  /** The bytes received so far, while no verdict is given (for a trace of a stalled header). */
  get received(): number {
    return this.#bytes.length;
  }

  /** Feeds the next chunk. The reader copies what it keeps; the caller may reuse `chunk`. */
  receive(chunk: Uint8Array): ProxyHeaderEvent {
    if (this.#verdict !== undefined) return this.#verdict;
    if (chunk.length === 0) return NEED_DATA;
    const joined = new Uint8Array(this.#bytes.length + chunk.length);
    joined.set(this.#bytes, 0);
    joined.set(chunk, this.#bytes.length);
    this.#bytes = joined;
    const event = parseProxyHeader(joined, this.#maxV2Bytes);
    if (event.type !== 'need-data') {
      this.#verdict = event;
      this.#bytes = EMPTY;
    }
    return event;
  }

  /** The peer half-closed: if the header is not complete by now, it never will be. */
  receiveEnd(): ProxyHeaderEvent {
    if (this.#verdict !== undefined) return this.#verdict;
    const received = this.#bytes.length;
    this.#bytes = EMPTY;
    this.#verdict = fail(ProxyHeaderErrorCode.Incomplete, `the connection ended after ${received} bytes, before a complete PROXY protocol header (§2: "the receiver MUST NOT start processing the connection before it receives a complete and valid PROXY protocol header")`);
    return this.#verdict;
  }
}

/**
 * The verdict on `bytes`, all the bytes of the connection so far: pure, and the same function the reader
 * runs. 'header' events carry `rest` as a view of `bytes`.
 */
export function parseProxyHeader(bytes: Uint8Array, maxV2Bytes: number = DEFAULT_PROXY_V2_MAX_BYTES): ProxyHeaderEvent {
  if (bytes.length === 0) return NEED_DATA;
  const first = bytes[0]!;
  if (first === PROXY_V2_SIGNATURE[0]) {
    const mismatch = firstMismatch(bytes, PROXY_V2_SIGNATURE);
    if (mismatch >= 0) return badSignature(bytes, mismatch, 'v2');
    if (bytes.length < PROXY_V2_SIGNATURE.length) return NEED_DATA;
    return parseV2(bytes, maxV2Bytes);
  }
  if (first === PROXY_V1_PREFIX[0]) {
    const mismatch = firstMismatch(bytes, PROXY_V1_PREFIX);
    if (mismatch >= 0) return badSignature(bytes, mismatch, 'v1');
    if (bytes.length < PROXY_V1_PREFIX.length) return NEED_DATA;
    return parseV1(bytes);
  }
  return badSignature(bytes, 0, undefined);
}

/** The index of the first byte of `bytes` that differs from `signature`, or -1 if the prefix matches. */
function firstMismatch(bytes: Uint8Array, signature: Uint8Array): number {
  const n = Math.min(bytes.length, signature.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== signature[i]) return i;
  return -1;
}

function badSignature(bytes: Uint8Array, at: number, which: 'v1' | 'v2' | undefined): ProxyHeaderEvent {
  const byte = bytes[at]!;
  if (which === undefined) {
    // §2.2: "otherwise the protocol is not covered by this specification and the connection must be dropped."
    return fail(ProxyHeaderErrorCode.BadSignature, `the connection starts with ${describeByte(byte)}, but a PROXY protocol header starts with "PROXY " (v1) or the v2 signature \\r\\n\\r\\n\\0\\r\\nQUIT\\n (§2.2); is the peer sending the header (HAProxy send-proxy, nginx proxy_protocol on)?`);
  }
  const expected = which === 'v1' ? PROXY_V1_PREFIX[at]! : PROXY_V2_SIGNATURE[at]!;
  const name = which === 'v1' ? 'the v1 prefix "PROXY "' : 'the 12-byte v2 signature';
  return fail(ProxyHeaderErrorCode.BadSignature, `byte ${at} is ${describeByte(byte)} where ${name} has ${describeByte(expected)} (§2.2)`);
}

// ── version 1 (§2.1) ─────────────────────────────────────────────────────────────────────────────────

function parseV1(bytes: Uint8Array): ProxyHeaderEvent {
  // Find the line end in the first 107 bytes; a lone CR or LF is refused where it stands.
  const limit = Math.min(bytes.length, PROXY_V1_MAX_LINE);
  let end = -1;
  for (let i = PROXY_V1_PREFIX.length; i < limit; i++) {
    const byte = bytes[i]!;
    if (byte === LF) {
      return fail(ProxyHeaderErrorCode.BadLineEnd, `byte ${i} is a bare LF: a v1 line ends with CRLF, and "the receiver must not tolerate a single CR or LF character to end the line" (§2.1)`);
    }
    if (byte === CR) {
      if (i + 1 >= PROXY_V1_MAX_LINE) break; // the LF would be byte 108: too long, below
      if (i + 1 >= bytes.length) return NEED_DATA;
      if (bytes[i + 1] !== LF) {
        return fail(ProxyHeaderErrorCode.BadLineEnd, `byte ${i} is a CR followed by ${describeByte(bytes[i + 1]!)}, not LF: a v1 line ends with CRLF (§2.1)`);
      }
      end = i;
      break;
    }
  }
  if (end < 0) {
    if (bytes.length < PROXY_V1_MAX_LINE) return NEED_DATA;
    // §2.1: "If the CRLF sequence is not found in the first 107 characters, the receiver should declare the line invalid."
    return fail(ProxyHeaderErrorCode.LineTooLong, `no CRLF in the first ${PROXY_V1_MAX_LINE} bytes: a v1 line, CRLF included, is at most ${PROXY_V1_MAX_LINE} bytes (§2.1)`);
  }
  const headerLength = end + 2;
  const line = latin1(bytes, 0, end);
  const decoded = decodeV1Line(line);
  if ('code' in decoded) return decoded;
  return done({ version: 1, command: 'proxy', addresses: decoded, tlvs: [], tlv: NO_TLVS, headerLength }, bytes, headerLength);
}

/** The line without its CRLF, "PROXY ..." (the prefix has been checked). */
function decodeV1Line(line: string): ProxyAddresses | Extract<ProxyHeaderEvent, { type: 'error' }> {
  const fields = line.split(' ');
  const protocol = fields[1]!;
  if (protocol === 'UNKNOWN') {
    // §2.1: "For "UNKNOWN", the rest of the line before the CRLF may be omitted by the sender, and the
    // receiver must ignore anything presented before the CRLF is found."
    return UNSPEC;
  }
  if (protocol !== 'TCP4' && protocol !== 'TCP6') {
    const shown = protocol === '' ? 'nothing (two spaces)' : `"${printable(protocol)}"`;
    return fail(ProxyHeaderErrorCode.BadFamily, `the protocol after "PROXY " is ${shown}; v1 allows only TCP4, TCP6 and UNKNOWN (§2.1)`);
  }
  // §2.1: PROXY, protocol, source, destination, source port, destination port, "exactly one space" apart.
  if (fields.length !== 6 || fields.some((field) => field === '')) {
    return fail(ProxyHeaderErrorCode.BadLine, `"${printable(line)}" is not "PROXY ${protocol} <source> <destination> <source port> <destination port>" with exactly one space between the fields (§2.1)`);
  }
  const v6 = protocol === 'TCP6';
  const source = parseV1Address(fields[2]!, v6, 'source');
  if (typeof source !== 'string') return source;
  const destination = parseV1Address(fields[3]!, v6, 'destination');
  if (typeof destination !== 'string') return destination;
  const sourcePort = parseV1Port(fields[4]!, 'source');
  if (typeof sourcePort !== 'number') return sourcePort;
  const destinationPort = parseV1Port(fields[5]!, 'destination');
  if (typeof destinationPort !== 'number') return destinationPort;
  return {
    family: v6 ? 'inet6' : 'inet',
    transport: 'stream',
    source: { address: source, port: sourcePort },
    destination: { address: destination, port: destinationPort },
  };
}

/**
 * §2.1: IPv4 "exactly 4 integers in the range [0..255] … Heading zeroes are not permitted"; IPv6 "sets of
 * 4 hexadecimal digits … with the acceptance of one double colon sequence … The total number of decoded
 * bits must exactly be 128". Senders print IPv6 with inet_ntop (groups without leading zeros, and
 * `::ffff:a.b.c.d` for an IPv4-mapped address), so RFC 4291 §2.2 text is accepted, as HAProxy's own
 * receiver (inet_pton) does. "The advertised protocol family dictates what format to use."
 */
function parseV1Address(text: string, v6: boolean, which: string): string | Extract<ProxyHeaderEvent, { type: 'error' }> {
  const bytes = v6 ? parseIpv6(text) : parseIpv4(text);
  if (bytes === undefined) {
    const expected = v6 ? 'an IPv6 address (TCP6)' : 'an IPv4 address in dotted decimal without leading zeros (TCP4)';
    return fail(ProxyHeaderErrorCode.BadAddress, `the ${which} address "${printable(text)}" is not ${expected} (§2.1)`);
  }
  return formatAddressBytes(bytes);
}

/** §2.1: "a decimal integer in the range [0..65535] inclusive. Heading zeroes are not permitted". */
function parseV1Port(text: string, which: string): number | Extract<ProxyHeaderEvent, { type: 'error' }> {
  if (/^(0|[1-9][0-9]{0,4})$/.test(text)) {
    const port = Number(text);
    if (port <= 65535) return port;
  }
  return fail(ProxyHeaderErrorCode.BadPort, `the ${which} port "${printable(text)}" is not a decimal number 0-65535 without leading zeros (§2.1)`);
}

// ── version 2 (§2.2) ─────────────────────────────────────────────────────────────────────────────────

/** §2.2: the address block after the fixed part, by family nibble (with a STREAM or DGRAM transport). */
const ADDRESS_BLOCK: Readonly<Record<number, number>> = { 0x1: 12, 0x2: 36, 0x3: 216 };
const FAMILY_NAMES: Readonly<Record<number, string>> = { 0x0: 'AF_UNSPEC', 0x1: 'AF_INET', 0x2: 'AF_INET6', 0x3: 'AF_UNIX' };
const TRANSPORT_NAMES: Readonly<Record<number, string>> = { 0x0: 'UNSPEC', 0x1: 'STREAM', 0x2: 'DGRAM' };

function parseV2(bytes: Uint8Array, maxV2Bytes: number): ProxyHeaderEvent {
  // Byte 13 (index 12): "The highest four bits contains the version … the receiver must only accept this value [2]."
  if (bytes.length < 13) return NEED_DATA;
  const versionCommand = bytes[12]!;
  const version = versionCommand >> 4;
  if (version !== 2) {
    return fail(ProxyHeaderErrorCode.BadVersion, `the v2 signature is followed by version ${version} (byte 0x${hex2(versionCommand)}); only version 2 exists, and "the receiver must only accept this value" (§2.2)`);
  }
  const command = versionCommand & 0x0f;
  if (command > 1) {
    // §2.2: "other values are unassigned … Receivers must drop connections presenting unexpected values here."
    return fail(ProxyHeaderErrorCode.BadCommand, `command ${command} is neither LOCAL (0) nor PROXY (1) (§2.2)`);
  }
  // Byte 14: address family (high nibble) and transport (low nibble); other values "must be rejected as invalid by receivers".
  if (bytes.length < 14) return NEED_DATA;
  const familyTransport = bytes[13]!;
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (family > 3) {
    return fail(ProxyHeaderErrorCode.BadFamily, `address family ${family} (byte 0x${hex2(familyTransport)}) is none of AF_UNSPEC (0), AF_INET (1), AF_INET6 (2), AF_UNIX (3) (§2.2)`);
  }
  if (transport > 2) {
    return fail(ProxyHeaderErrorCode.BadFamily, `transport protocol ${transport} (byte 0x${hex2(familyTransport)}) is none of UNSPEC (0), STREAM (1), DGRAM (2) (§2.2)`);
  }
  // Bytes 15-16: "the address length in bytes in network endian order … the length of the protocol header
  // in bytes is always exactly 16 + this value." Both checks are made here, before waiting for the body.
  if (bytes.length < PROXY_V2_FIXED_BYTES) return NEED_DATA;
  const length = (bytes[14]! << 8) | bytes[15]!;
  const headerLength = PROXY_V2_FIXED_BYTES + length;
  if (headerLength > maxV2Bytes) {
    return fail(ProxyHeaderErrorCode.TooLarge, `the v2 header declares ${length} bytes after its fixed part, ${headerLength} in all, past the limit of ${maxV2Bytes}`);
  }
  // A known family with a known transport has a fixed address block, and TLVs follow it. For PROXY the
  // block must be there (HAProxy's receiver refuses a shorter length the same way). For LOCAL the block "is
  // ignored" and the receiver "must not assume zero is presented": when a sender gives less than its
  // family's block, the whole length is skipped as address data. Any UNSPEC nibble: the block's size is
  // not specified, so the whole length is address information to ignore (no TLVs are looked for).
  const known = family !== 0 && transport !== 0;
  const block = known ? ADDRESS_BLOCK[family]! : 0;
  const isLocal = command === 0;
  if (known && !isLocal && length < block) {
    return fail(ProxyHeaderErrorCode.AddressLength, `${FAMILY_NAMES[family]} over ${TRANSPORT_NAMES[transport]} needs a ${block}-byte address block, but the header declares only ${length} bytes (§2.2)`);
  }
  if (bytes.length < headerLength) return NEED_DATA;

  const header = bytes.subarray(0, headerLength);
  let tlvStart: number;
  if (family === 0 && transport === 0) tlvStart = PROXY_V2_FIXED_BYTES; // 0x00: no address block
  else if (!known || length < block) tlvStart = headerLength; // unspecified block: skipped whole
  else tlvStart = PROXY_V2_FIXED_BYTES + block;

  const tlvs = parseTlvs(header, tlvStart, headerLength);
  if (!Array.isArray(tlvs)) return tlvs;
  const tlv = decodeTlvs(header, tlvs);
  if ('code' in tlv) return tlv;

  let addresses: ProxyAddresses = UNSPEC;
  if (!isLocal && known) {
    const kind = transport === 1 ? 'stream' : 'dgram';
    const at = PROXY_V2_FIXED_BYTES;
    if (family === 0x3) {
      addresses = { family: 'unix', transport: kind, source: unixPath(header.subarray(at, at + 108)), destination: unixPath(header.subarray(at + 108, at + 216)) };
    } else {
      // §2.2 union proxy_addr: src_addr, dst_addr, src_port, dst_port, all in network byte order.
      const size = family === 0x1 ? 4 : 16;
      const ports = at + 2 * size;
      addresses = {
        family: family === 0x1 ? 'inet' : 'inet6',
        transport: kind,
        source: { address: formatAddressBytes(header.subarray(at, at + size)), port: (header[ports]! << 8) | header[ports + 1]! },
        destination: { address: formatAddressBytes(header.subarray(at + size, at + 2 * size)), port: (header[ports + 2]! << 8) | header[ports + 3]! },
      };
    }
  }
  return done({ version: 2, command: isLocal ? 'local' : 'proxy', addresses, tlvs, tlv, headerLength }, bytes, headerLength);
}

/**
 * §2.2: struct pp2_tlv { uint8_t type; uint8_t length_hi; uint8_t length_lo; uint8_t value[0]; }, one
 * after another to the end of the header, which must fall on a TLV boundary.
 */
function parseTlvs(bytes: Uint8Array, from: number, to: number, context = 'the header'): ProxyTlv[] | Extract<ProxyHeaderEvent, { type: 'error' }> {
  const out: ProxyTlv[] = [];
  let at = from;
  while (at < to) {
    if (to - at < 3) {
      return fail(ProxyHeaderErrorCode.TlvOverrun, `${context} ends ${to - at} byte${to - at === 1 ? '' : 's'} into a TLV's 3-byte type and length (§2.2)`);
    }
    const type = bytes[at]!;
    const length = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    if (at + 3 + length > to) {
      return fail(ProxyHeaderErrorCode.TlvOverrun, `TLV ${tlvName(type)} at byte ${at} declares ${length} bytes, but only ${to - at - 3} remain in ${context} (§2.2)`);
    }
    out.push({ type, value: bytes.slice(at + 3, at + 3 + length) });
    at += 3 + length;
  }
  return out;
}

function decodeTlvs(header: Uint8Array, tlvs: readonly ProxyTlv[]): ProxyTlvInfo | Extract<ProxyHeaderEvent, { type: 'error' }> {
  if (tlvs.length === 0) return NO_TLVS;
  const info: { -readonly [K in keyof ProxyTlvInfo]: ProxyTlvInfo[K] } = { ...NO_TLVS };
  let crcOffset = -1;
  // The TLVs run to the end of the header, so the first starts this far in; `at` tracks each one's
  // offset, to find the CRC32C field in the header.
  let at = header.length - tlvs.reduce((sum, t) => sum + 3 + t.value.length, 0);
  for (const tlv of tlvs) {
    const value = tlv.value;
    switch (tlv.type) {
      case ProxyTlvType.Alpn:
        info.alpn ??= latin1(value, 0, value.length);
        break;
      case ProxyTlvType.Authority: {
        const text = utf8(value);
        if (text === undefined) return fail(ProxyHeaderErrorCode.BadTlv, 'the AUTHORITY TLV is not UTF-8 (§2.2.2)');
        info.authority ??= text;
        break;
      }
      case ProxyTlvType.Crc32c:
        // §2.2.3: "a 32-bit number". Two would make "the checksum field" ambiguous.
        if (value.length !== 4) return fail(ProxyHeaderErrorCode.BadTlv, `the CRC32C TLV holds ${value.length} bytes, not the 4 of a 32-bit checksum (§2.2.3)`);
        if (crcOffset >= 0) return fail(ProxyHeaderErrorCode.BadTlv, 'the header carries two CRC32C TLVs (§2.2.3 speaks of one checksum field)');
        crcOffset = at + 3;
        info.crc32c = ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0;
        break;
      case ProxyTlvType.Noop:
        break; // §2.2.4: "should be ignored when parsed"
      case ProxyTlvType.UniqueId:
        if (value.length > PROXY_UNIQUE_ID_MAX) return fail(ProxyHeaderErrorCode.BadTlv, `the UNIQUE_ID TLV holds ${value.length} bytes; §2.2.5 allows up to ${PROXY_UNIQUE_ID_MAX}`);
        info.uniqueId ??= value;
        break;
      case ProxyTlvType.Ssl: {
        const ssl = decodeSsl(value);
        if ('code' in ssl) return ssl;
        info.ssl ??= ssl;
        break;
      }
      case ProxyTlvType.Netns:
        // §2.2.7: "the US-ASCII string representation of the namespace's name".
        if (value.some((byte) => byte > 0x7e || byte < 0x20)) return fail(ProxyHeaderErrorCode.BadTlv, 'the NETNS TLV is not printable US-ASCII (§2.2.7)');
        info.netns ??= latin1(value, 0, value.length);
        break;
    }
    at += 3 + value.length;
  }
  if (crcOffset >= 0) {
    // §2.2.3: "replace the 32 bits of the checksum field in the received PROXY header with all '0's and
    // calculate a CRC32c checksum value of the whole PROXY header" (RFC 4960 Appendix B's CRC32c).
    const zeroed = Uint8Array.from(header);
    zeroed.fill(0, crcOffset, crcOffset + 4);
    const computed = crc32c(zeroed);
    if (computed !== info.crc32c) {
      return fail(ProxyHeaderErrorCode.CrcMismatch, `the CRC32C TLV says 0x${info.crc32c!.toString(16).padStart(8, '0')} but the header's checksum is 0x${computed.toString(16).padStart(8, '0')} (§2.2.3: "the receiver MUST treat the TCP connection providing the header as invalid")`);
    }
  }
  return info;
}

/** §2.2.6: client (1 byte), verify (uint32), then sub-TLVs in the pp2_tlv format. */
function decodeSsl(value: Uint8Array): ProxySslInfo | Extract<ProxyHeaderEvent, { type: 'error' }> {
  if (value.length < 5) return fail(ProxyHeaderErrorCode.BadTlv, `the SSL TLV holds ${value.length} bytes, fewer than its client (1) and verify (4) fields (§2.2.6)`);
  const subTlvs = parseTlvs(value, 5, value.length, 'the SSL TLV');
  if (!Array.isArray(subTlvs)) return subTlvs;
  const text = (type: number): string | undefined => {
    const sub = subTlvs.find((t) => t.type === type);
    return sub === undefined ? undefined : utf8(sub.value) ?? latin1(sub.value, 0, sub.value.length);
  };
  return {
    client: value[0]!,
    verify: ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0,
    version: text(ProxyTlvType.SslVersion),
    cn: text(ProxyTlvType.SslCn),
    cipher: text(ProxyTlvType.SslCipher),
    sigAlg: text(ProxyTlvType.SslSigAlg),
    keyAlg: text(ProxyTlvType.SslKeyAlg),
    subTlvs,
  };
}

/** A 108-byte sun_path: up to the first NUL; an abstract socket (leading NUL) as '@' + its name. */
function unixPath(field: Uint8Array): string {
  if (field[0] === 0) {
    let end = field.length;
    while (end > 1 && field[end - 1] === 0) end--;
    return end <= 1 ? '' : `@${utf8(field.subarray(1, end)) ?? latin1(field, 1, end)}`;
  }
  const nul = field.indexOf(0);
  const path = field.subarray(0, nul < 0 ? field.length : nul);
  return utf8(path) ?? latin1(path, 0, path.length);
}

const TLV_NAMES: Readonly<Record<number, string>> = {
  0x01: 'ALPN', 0x02: 'AUTHORITY', 0x03: 'CRC32C', 0x04: 'NOOP', 0x05: 'UNIQUE_ID', 0x20: 'SSL',
  0x21: 'SSL_VERSION', 0x22: 'SSL_CN', 0x23: 'SSL_CIPHER', 0x24: 'SSL_SIG_ALG', 0x25: 'SSL_KEY_ALG', 0x30: 'NETNS',
};

/** `0x20` → 'SSL (0x20)'; unregistered types as hex. */
export function tlvName(type: number): string {
  const name = TLV_NAMES[type];
  return name === undefined ? `0x${hex2(type)}` : `${name} (0x${hex2(type)})`;
}

// ── CRC32C (RFC 4960 Appendix B; Castagnoli, reflected polynomial 0x82F63B78) ─────────────────────────

const CRC32C_TABLE = ((): Uint32Array => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32c of `bytes`: initial value all ones, reflected, final complement (crc32c('123456789') = 0xe3069283). */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ── small helpers ────────────────────────────────────────────────────────────────────────────────────

function done(header: ProxyHeader, bytes: Uint8Array, headerLength: number): ProxyHeaderEvent {
  return { type: 'header', header, rest: bytes.subarray(headerLength) };
}

function fail(code: ProxyHeaderErrorCode, message: string): Extract<ProxyHeaderEvent, { type: 'error' }> {
  return { type: 'error', code, message };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

function latin1(bytes: Uint8Array, from: number, to: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1');
}

/** Control characters as \xNN, so a hostile line cannot write escape sequences into a trace. */
function printable(text: string): string {
  const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return shown.replace(/[^\x20-\x7e]/g, (c) => `\\x${hex2(c.charCodeAt(0))}`);
}

function describeByte(byte: number): string {
  return byte >= 0x21 && byte <= 0x7e ? `"${String.fromCharCode(byte)}" (0x${hex2(byte)})` : `0x${hex2(byte)}`;
}

function hex2(byte: number): string {
  return (byte & 0xff).toString(16).padStart(2, '0');
}
