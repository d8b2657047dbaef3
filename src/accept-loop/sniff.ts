/**
 * Which protocol a new connection speaks, judged from its first bytes: a pure function of a prefix, no
 * socket and no clock (sans-IO, like sslh's probes). The accept loop calls `sniffTransport` with all the
 * bytes received so far and gets a final verdict ('tls', 'http', 'unknown') or 'need-data'; it never
 * consumes anything, so the caller passes every byte it read on to node:tls or to the HTTP parser.
 *
 * How this works. The two protocols the port speaks cannot be confused: a TLS record starts with a content
 * type, 20-24, all control characters; an HTTP/1.1 request starts with a method (a token) or with the empty
 * lines RFC 9112 §2.2 tells a server to skip (CR, LF). Neither set contains the other's bytes, so the first
 * byte already separates them. For TLS the sniffer also checks the record version that follows (two more
 * bytes) before answering 'tls': a stray 0x16 followed by junk is reported here, in words a learner can
 * read, instead of as an opaque handshake failure from node:tls. It costs nothing in practice: every TLS
 * client writes its whole ClientHello record at once, header included, so the three bytes arrive together.
 * A verdict therefore needs at most `SNIFF_BYTES` bytes, and once given it never changes as more arrive:
 * a prefix gives either 'need-data' or the answer the whole input gives.
 *
 * A client that sends nothing (a server-speaks-first protocol, or a stalled client) stays 'need-data'
 * forever; the deadline that ends that wait belongs to the caller.
 */
import { CR, LF, SP, HTAB, TCHAR } from '../http/grammar.js';

export type SniffResult =
  /** A TLS record header: content type handshake (0x16), then a legacy record version 0x0300-0x0304. */
  | { readonly kind: 'tls'; readonly firstByte: number; readonly recordVersion: number }
  /** The first byte of an HTTP/1.1 request: a method's first tchar, or CR/LF of a leading empty line. */
  | { readonly kind: 'http'; readonly firstByte: number }
  /** The whole HTTP/2 client connection preface (RFC 9113 §3.4): cleartext HTTP/2 with prior knowledge. */
  | { readonly kind: 'h2'; readonly firstByte: number }
  /** Too few bytes to decide (none yet, or a TLS record header cut short). */
  | { readonly kind: 'need-data' }
  /** Neither: `reason` says why, in a sentence for the trace; `firstByte` is the byte that was looked at. */
  | { readonly kind: 'unknown'; readonly firstByte: number; readonly reason: string };

export type SniffKind = SniffResult['kind'];

/**
 * RFC 9113 §3.4: "the connection preface starts with the string PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". It was
 * chosen so that an HTTP/1.1 server reads it as a request with an unknown method and version and fails.
 */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The most bytes `sniffTransport` ever needs for a verdict: the whole HTTP/2 preface. */
export const SNIFF_BYTES = HTTP2_PREFACE.length;

/** RFC 8446 §5.1: ContentType handshake(22). */
export const TLS_HANDSHAKE_RECORD = 0x16;

const NEED_DATA: SniffResult = Object.freeze({ kind: 'need-data' });

/** The other TLS content types (RFC 8446 §5.1, RFC 6520 for heartbeat), for the reason text. */
const OTHER_TLS_RECORDS: Readonly<Record<number, string>> = {
  0x14: 'change_cipher_spec',
  0x15: 'alert',
  0x17: 'application_data',
  0x18: 'heartbeat',
};

/** Decides the transport from the first bytes of a connection (all of them so far; only 3 are read). */
export function sniffTransport(bytes: Uint8Array): SniffResult {
  if (bytes.length === 0) return NEED_DATA;
  const first = bytes[0]!;
  if (first === TLS_HANDSHAKE_RECORD) return sniffTlsRecord(bytes);
  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version, and RFC 9110 §9.1 / §5.6.2:
  // method = token, a run of tchar. Any tchar may begin an extension method, so every one means 'http';
  // a bad method is then the HTTP parser's to answer (400/501), which a learner sees as a response.
  // The HTTP/2 connection preface (RFC 9113 §3.4) starts "PRI * HTTP/2.0": 'P' is a tchar too, so a 'P'
  // waits for as many bytes as still match the preface (POST and PUT part ways at the second byte).
  if (first === HTTP2_PREFACE[0]) return sniffPreface(bytes);
  if (TCHAR[first] === 1) return { kind: 'http', firstByte: first };
  // RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD ignore at least
  // one empty line (CRLF) received prior to the request-line." (A bare LF is the HTTP parser's to refuse.)
  if (first === CR || first === LF) return { kind: 'http', firstByte: first };
  return { kind: 'unknown', firstByte: first, reason: unknownReason(first) };
}

function sniffPreface(bytes: Uint8Array): SniffResult {
  const n = Math.min(bytes.length, HTTP2_PREFACE.length);
  for (let i = 1; i < n; i++) {
    if (bytes[i] !== HTTP2_PREFACE[i]) return { kind: 'http', firstByte: bytes[0]! };
  }
  return n === HTTP2_PREFACE.length ? { kind: 'h2', firstByte: bytes[0]! } : NEED_DATA;
}

/**
 * RFC 8446 §5.1: TLSPlaintext = ContentType type; ProtocolVersion legacy_record_version; uint16 length; …
 * The version "MUST be set to 0x0303 for all records generated by a TLS 1.3 implementation other than an
 * initial ClientHello …, where it MAY also be 0x0301 for compatibility purposes"; older clients send
 * 0x0300-0x0303. So an opening record header reads 16 03 00..04.
 */
function sniffTlsRecord(bytes: Uint8Array): SniffResult {
  if (bytes.length < 2) return NEED_DATA;
  const major = bytes[1]!;
  if (major !== 0x03) {
    return unknownTls(`0x16 (the TLS handshake record type) is followed by ${formatByte(major)}, but a TLS record's version starts with 0x03`);
  }
  if (bytes.length < 3) return NEED_DATA;
  const minor = bytes[2]!;
  if (minor > 0x04) {
    return unknownTls(`0x16 0x03 is followed by ${formatByte(minor)}: record version 0x03${hex2(minor)} is none of SSL 3.0 to TLS 1.3 (0x0300-0x0304)`);
  }
  return { kind: 'tls', firstByte: TLS_HANDSHAKE_RECORD, recordVersion: 0x0300 | minor };
}

function unknownTls(reason: string): SniffResult {
  return { kind: 'unknown', firstByte: TLS_HANDSHAKE_RECORD, reason };
}

function unknownReason(byte: number): string {
  const record = OTHER_TLS_RECORDS[byte];
  if (record !== undefined) {
    return `a TLS ${record} record (type ${formatByte(byte)}), but a client's first record must be a handshake (0x16) carrying its ClientHello`;
  }
  if (byte >= 0x80) {
    // SSL 2.0's record header (and the "SSLv2-compatible" ClientHello of old clients) sets the top bit.
    return `${formatByte(byte)} has its top bit set: an SSL 2.0-style hello (no TLS server accepts one, RFC 6176) or binary data, and an HTTP method is ASCII`;
  }
  if (byte === SP || byte === HTAB) {
    return `whitespace (${formatByte(byte)}) before anything else: an HTTP request-line starts with its method, with no leading whitespace (RFC 9112 §3)`;
  }
  if (byte === 0x00) return 'a NUL byte (0x00): neither a TLS record (which starts with 0x16) nor an HTTP method (a token of letters, digits and a few marks)';
  if (byte < 0x20 || byte === 0x7f) {
    return `a control character (${formatByte(byte)}): neither a TLS handshake record (0x16) nor the start of an HTTP method`;
  }
  return `"${String.fromCharCode(byte)}" (${formatByte(byte)}) is printable but not a token character, so it cannot start an HTTP method (RFC 9110 §5.6.2), nor is it a TLS record (0x16)`;
}

/** A byte for display, the way the trace prints it: `formatByte(0x16)` is `'0x16'`. */
export function formatByte(byte: number): string {
  return `0x${hex2(byte)}`;
}

function hex2(byte: number): string {
  return (byte & 0xff).toString(16).padStart(2, '0');
}
