/**
 * A sans-IO reader of a TLS ClientHello, in clear text, before node:tls decrypts anything: it shows a
 * learner what a server learns from the first flight (the name asked for, the protocols offered, the
 * versions and cipher suites). Bytes go in with `receive(chunk)`; each call returns the verdict so far:
 * need-data, the ClientHello, or an error with a stable code. No socket, timer or EventEmitter; nothing a
 * client sends makes it throw; a verdict, once given, is sticky.
 *
 * The contract with the caller: the reader never consumes. It reads the records and keeps references to
 * the chunks (no copy; the caller must not reuse their memory until a verdict), but every byte passed to
 * `receive` is still the caller's: after the verdict, hand ALL of them, in order, to node:tls (e.g.
 * `socket.unshift(Buffer.concat(chunks))` before `new TLSSocket(socket, …)`), including any that came
 * after the ClientHello. The reader drops its references once it has a verdict and ignores later bytes.
 *
 * How this works. RFC 8446 §5.1: the stream is a sequence of records, each a 5-byte header (type,
 * legacy_record_version, uint16 length) and up to 2^14 bytes of payload; a handshake message (a 4-byte
 * header: msg_type, uint24 length; then the body) may span several records, which must then all be
 * handshake records. The reader walks the headers as their bytes arrive, remembering where each payload
 * lies in the stream, and checks every field the moment its bytes are in: a record's type and length at
 * its header, the msg_type at the first payload byte, the size bound at the handshake length (before
 * waiting for the body). Checks happen in stream order and depend only on the bytes, so the verdict is
 * the same however the bytes were chunked. When the last byte of the message has arrived, the body is
 * joined once (a view when it lies in one chunk, the common case) and decoded in one pass (RFC 8446
 * §4.1.2), every vector length checked against the bytes its parent has left.
 */
import { UsageError } from '../../errors.js';
import { ReceiveBuffer } from '../../http/receive-buffer.js';

/** The stable `code` of every error the reader returns. */
export const ClientHelloErrorCode = {
  /** A record's content type is not handshake (22): the first one, or one inside a fragmented hello. */
  NotHandshake: 'ERR_TLS_NOT_HANDSHAKE',
  /** The handshake message is not client_hello (1), e.g. a ServerHello (2) sent to a server. */
  NotClientHello: 'ERR_TLS_NOT_CLIENT_HELLO',
  /** A length that cannot be: an empty or over-2^14 record, a vector overrunning its parent, leftovers. */
  BadLength: 'ERR_TLS_BAD_LENGTH',
  /** The same extension twice (RFC 8446 §4.2), or an ALPN or SNI entry that breaks its RFC. */
  BadExtension: 'ERR_TLS_BAD_EXTENSION',
  /** The ClientHello cannot end within `maxBytes`; decided from the declared lengths. */
  TooLarge: 'ERR_TLS_CLIENT_HELLO_TOO_LARGE',
  /** The peer closed (receiveEnd) before the ClientHello was complete. */
  Incomplete: 'ERR_TLS_INCOMPLETE',
} as const;
export type ClientHelloErrorCode = (typeof ClientHelloErrorCode)[keyof typeof ClientHelloErrorCode];

/** What a ClientHello tells a server before any decryption. Numbers are the wire values. */
export interface ClientHello {
  /** legacy_version: 0x0303 in every TLS 1.3 hello (RFC 8446 §4.1.2); the real offer is supportedVersions. */
  readonly legacyVersion: number;
  /** supported_versions (43), in the client's order of preference; empty when the extension is absent. */
  readonly supportedVersions: readonly number[];
  /** The host_name of server_name (0), RFC 6066 §3; undefined when absent. */
  readonly serverName: string | undefined;
  /** application_layer_protocol_negotiation (16), RFC 7301 §3.1, in the client's order; latin1-decoded. */
  readonly alpnProtocols: readonly string[];
  readonly cipherSuites: readonly number[];
  /** legacy_compression_methods: exactly [0] from any modern client. */
  readonly compressionMethods: readonly number[];
  /** legacy_session_id's length: 32 from TLS 1.3 clients in middlebox-compatibility mode, else often 0. */
  readonly sessionIdLength: number;
  /** Every extension's type, in the order sent (GREASE values included, RFC 8701). */
  readonly extensionTypes: readonly number[];
  /** legacy_record_version of the first record (0x0301 is common; RFC 8446 §5.1 says to ignore it). */
  readonly recordVersion: number;
  /** How many records carried the ClientHello (1 unless the client fragmented it). */
  readonly recordCount: number;
  /** Total bytes of the records that carried it, headers included. */
  readonly recordBytes: number;
}

export type ClientHelloEvent =
  | { readonly type: 'need-data' }
  | { readonly type: 'client-hello'; readonly hello: ClientHello }
  | { readonly type: 'error'; readonly code: ClientHelloErrorCode; readonly message: string };

export interface ClientHelloReaderOptions {
  /**
   * The most bytes of the stream, record headers included, within which the ClientHello must end.
   * Default `DEFAULT_CLIENT_HELLO_MAX_BYTES`.
   */
  readonly maxBytes?: number;
}

/** RFC 8446 §5.1: the 5-byte TLSPlaintext header. */
export const RECORD_HEADER_BYTES = 5;
/** RFC 8446 §5.1: "The length MUST NOT exceed 2^14 bytes." */
export const MAX_RECORD_PAYLOAD = 2 ** 14;

/**
 * 16 KiB of handshake message plus the headers of four records. 16 KiB is one full plaintext record
 * (2^14) and about eight times the largest ClientHello clients send today (a post-quantum key share,
 * X25519MLKEM768, brings browsers to 1.5-2 KB); the few headers leave room for a client that fragments
 * it. Without a bound a peer could make the loop wait for, and buffer, a message of 16 MiB (the length
 * is a uint24); with it, an oversized declaration is refused at the length field, before buffering.
 */
export const DEFAULT_CLIENT_HELLO_MAX_BYTES = 16 * 1024 + 4 * RECORD_HEADER_BYTES;

const HANDSHAKE_HEADER_BYTES = 4;
const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;

const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
/** RFC 6066 §3: NameType host_name(0). */
const NAME_TYPE_HOST_NAME = 0;

const NEED_DATA: ClientHelloEvent = Object.freeze({ type: 'need-data' });

/** Where one record's payload lies in the stream. */
interface Fragment {
  readonly start: number;
  readonly length: number;
}

export class ClientHelloReader {
  readonly #maxBytes: number;
  readonly #buffer = new ReceiveBuffer();
  /** Bytes received so far (the reader never consumes, so also the stream offset of the next byte). */
  #received = 0;
  /** Stream offset of the next record header to read. */
  #nextRecord = 0;
  readonly #fragments: Fragment[] = [];
  /** Payload bytes the records read so far declare. */
  #declared = 0;
  #recordVersion = -1;
  #recordBytes = 0;
  #typeChecked = false;
  /** The handshake message's length, its 4-byte header included; -1 until that header is in. */
  #messageLength = -1;
  #verdict: ClientHelloEvent | undefined;

  constructor(options: ClientHelloReaderOptions = {}) {
    for (const key of Object.keys(options)) {
      if (key !== 'maxBytes') throw new UsageError('ERR_UNKNOWN_OPTION', `unknown ClientHelloReader option "${key}"`);
    }
    const maxBytes = options.maxBytes ?? DEFAULT_CLIENT_HELLO_MAX_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < RECORD_HEADER_BYTES + HANDSHAKE_HEADER_BYTES) {
      throw new UsageError('ERR_INVALID_LIMIT', `maxBytes must be an integer ≥ 9, got ${String(maxBytes)}`);
    }
    this.#maxBytes = maxBytes;
  }

  /** Bytes passed to `receive` before the verdict (all of them still the caller's to pass on). */
  get receivedBytes(): number {
    return this.#received;
  }

  /** Adds bytes from the peer and returns the verdict so far. Keeps a reference to `chunk` (no copy). */
  receive(chunk: Uint8Array): ClientHelloEvent {
    if (this.#verdict !== undefined) return this.#verdict;
    this.#buffer.append(chunk);
    this.#received += chunk.byteLength;
    return this.#advance();
  }

  /** The peer half-closed: if the ClientHello is not complete by now, it never will be. */
  receiveEnd(): ClientHelloEvent {
    if (this.#verdict !== undefined) return this.#verdict;
    return this.#fail(ClientHelloErrorCode.Incomplete, `the connection ended after ${this.#received} bytes, before the ClientHello was complete`);
  }

  #advance(): ClientHelloEvent {
    for (;;) {
      const declared = this.#declared;
      // 1. RFC 8446 §4: the handshake message's first byte is its msg_type.
      if (!this.#typeChecked && declared >= 1) {
        const at = this.#streamOffset(0);
        if (at >= this.#received) return NEED_DATA;
        const msgType = this.#buffer.byteAt(at);
        if (msgType !== HANDSHAKE_CLIENT_HELLO) {
          return this.#fail(ClientHelloErrorCode.NotClientHello, `the handshake message is ${handshakeTypeName(msgType)}, not client_hello (1): a client's first message must be its ClientHello (RFC 8446 §4.1.2)`);
        }
        this.#typeChecked = true;
      }
      // 2. Then a uint24 length: the bound is decided here, before any of the body is waited for.
      if (this.#messageLength < 0 && declared >= HANDSHAKE_HEADER_BYTES) {
        if (this.#streamOffset(HANDSHAKE_HEADER_BYTES - 1) >= this.#received) return NEED_DATA;
        let length = 0;
        for (let i = 1; i < HANDSHAKE_HEADER_BYTES; i++) length = length * 256 + this.#buffer.byteAt(this.#streamOffset(i));
        this.#messageLength = HANDSHAKE_HEADER_BYTES + length;
        const tooLarge = this.#checkBound();
        if (tooLarge) return tooLarge;
      }
      // 3. Every byte of the message lies in the records read so far: complete once the last has arrived.
      if (this.#messageLength >= 0 && declared >= this.#messageLength) {
        if (this.#streamOffset(this.#messageLength - 1) >= this.#received) return NEED_DATA;
        return this.#complete();
      }
      // 4. The message goes on in the next record (every earlier payload byte has been read above).
      const header = this.#nextRecord;
      if (header + RECORD_HEADER_BYTES > this.#received) return NEED_DATA;
      const buffer = this.#buffer;
      const type = buffer.byteAt(header);
      const version = buffer.byteAt(header + 1) * 256 + buffer.byteAt(header + 2);
      const length = buffer.byteAt(header + 3) * 256 + buffer.byteAt(header + 4);
      const which = this.#fragments.length === 0 ? 'the first record' : `record ${this.#fragments.length + 1} (the ClientHello continues in it)`;
      if (type !== CONTENT_TYPE_HANDSHAKE) {
        // RFC 8446 §5.1: "Handshake messages MUST NOT be interleaved with other record types."
        return this.#fail(ClientHelloErrorCode.NotHandshake, `${which} has content type ${type} (${contentTypeName(type)}), not handshake (22)`);
      }
      if (length === 0) {
        // RFC 8446 §5.1: "Implementations MUST NOT send zero-length fragments of Handshake types".
        return this.#fail(ClientHelloErrorCode.BadLength, `${which} is an empty handshake record (RFC 8446 §5.1 forbids zero-length handshake fragments)`);
      }
      if (length > MAX_RECORD_PAYLOAD) {
        // RFC 8446 §5.1: "The length MUST NOT exceed 2^14 bytes." (the record_overflow alert)
        return this.#fail(ClientHelloErrorCode.BadLength, `${which} declares ${length} bytes, more than the 2^14 a plaintext record may carry (RFC 8446 §5.1)`);
      }
      if (this.#recordVersion < 0) this.#recordVersion = version;
      this.#fragments.push({ start: header + RECORD_HEADER_BYTES, length });
      this.#declared += length;
      this.#recordBytes += RECORD_HEADER_BYTES + length;
      this.#nextRecord = header + RECORD_HEADER_BYTES + length;
      const tooLarge = this.#checkBound();
      if (tooLarge) return tooLarge;
    }
  }

  /**
   * Once the message length is known: the stream offset where the message ends, or (when it goes on past
   * the records read so far) a lower bound for it, one more record header included. Over `maxBytes` →
   * error. Re-checked at every record header, as the bound only grows.
   */
  #checkBound(): ClientHelloEvent | undefined {
    if (this.#messageLength < 0) return undefined;
    const rest = this.#messageLength - this.#declared;
    const end = rest <= 0 ? this.#streamOffset(this.#messageLength - 1) + 1 : this.#nextRecord + RECORD_HEADER_BYTES + rest;
    if (end <= this.#maxBytes) return undefined;
    return this.#fail(ClientHelloErrorCode.TooLarge, `the ClientHello declares ${this.#messageLength - HANDSHAKE_HEADER_BYTES} bytes and would end ${rest > 0 ? 'no sooner than ' : ''}at byte ${end} of the stream, past the limit of ${this.#maxBytes}`);
  }

  /** The stream offset of byte `index` of the handshake message (index < #declared). */
  #streamOffset(index: number): number {
    for (const fragment of this.#fragments) {
      if (index < fragment.length) return fragment.start + index;
      index -= fragment.length;
    }
    return Number.MAX_SAFE_INTEGER;
  }

  /** Joins the body once (a view when it lies in one chunk) and decodes it. */
  #complete(): ClientHelloEvent {
    const buffer = this.#buffer;
    const bodyLength = this.#messageLength - HANDSHAKE_HEADER_BYTES;
    let at = 0;
    let skipHeader = HANDSHAKE_HEADER_BYTES;
    let left = bodyLength;
    const parts: Uint8Array[] = [];
    let recordCount = 0;
    for (const fragment of this.#fragments) {
      if (left === 0 && skipHeader === 0) break;
      recordCount++;
      const fromHeader = Math.min(skipHeader, fragment.length);
      skipHeader -= fromHeader;
      const take = Math.min(left, fragment.length - fromHeader);
      buffer.skip(fragment.start + fromHeader - at);
      if (take > 0) parts.push(buffer.take(take));
      at = fragment.start + fromHeader + take;
      left -= take;
    }
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bodyLength);
    const decoded = decodeClientHello(body);
    if ('code' in decoded) return this.#fail(decoded.code, decoded.message);
    // The records that carried the message: those it reached into (trailing ones are not read).
    let recordBytes = 0;
    for (let i = 0; i < recordCount; i++) recordBytes += RECORD_HEADER_BYTES + this.#fragments[i]!.length;
    return this.#finish({
      type: 'client-hello',
      hello: { ...decoded, recordVersion: this.#recordVersion, recordCount, recordBytes },
    });
  }

  #fail(code: ClientHelloErrorCode, message: string): ClientHelloEvent {
    return this.#finish({ type: 'error', code, message });
  }

  #finish(verdict: ClientHelloEvent): ClientHelloEvent {
    this.#verdict = verdict;
    this.#buffer.clear();
    this.#fragments.length = 0;
    return verdict;
  }
}

// ── the ClientHello body (RFC 8446 §4.1.2) ───────────────────────────────────────────────────────────

type DecodedBody = Omit<ClientHello, 'recordVersion' | 'recordCount' | 'recordBytes'>;
type Failure = { readonly code: ClientHelloErrorCode; readonly message: string };

/** A read position over bytes[at, end): the part of the message one vector or struct covers. */
class Cursor {
  readonly bytes: Uint8Array;
  at: number;
  readonly end: number;
  readonly name: string;

  constructor(bytes: Uint8Array, at: number, end: number, name: string) {
    this.bytes = bytes;
    this.at = at;
    this.end = end;
    this.name = name;
  }

  get remaining(): number {
    return this.end - this.at;
  }

  /** Reads an n-byte big-endian integer; the caller has checked `remaining`. */
  uint(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) value = value * 256 + this.bytes[this.at++]!;
    return value;
  }

  /**
   * A vector `name<min..max>` with an n-byte length prefix (RFC 8446 §3.4): a Cursor over its contents,
   * or a Failure when the prefix or the contents overrun this cursor or the length breaks the bounds.
   */
  vector(lengthBytes: number, name: string, min: number, max: number): Cursor | Failure {
    if (this.remaining < lengthBytes) return badLength(`${this.name} ends inside the length of ${name}`);
    const length = this.uint(lengthBytes);
    if (length > this.remaining) return badLength(`${name} declares ${length} bytes, but only ${this.remaining} remain in ${this.name}`);
    if (length < min || length > max) return badLength(`${name} is ${length} bytes; it must be ${min}-${max}`);
    const inner = new Cursor(this.bytes, this.at, this.at + length, name);
    this.at += length;
    return inner;
  }

  /** Failure unless every byte was read: a length that says more than its contents hold. */
  finished(): Failure | undefined {
    return this.remaining === 0 ? undefined : badLength(`${this.remaining} bytes left over at the end of ${this.name}`);
  }
}

function badLength(message: string): Failure {
  return { code: ClientHelloErrorCode.BadLength, message };
}

function badExtension(message: string): Failure {
  return { code: ClientHelloErrorCode.BadExtension, message };
}

function isFailure(value: Cursor | Failure): value is Failure {
  return !(value instanceof Cursor);
}

/**
 * struct {
 *     ProtocolVersion legacy_version = 0x0303;    // uint16
 *     Random random;                              // 32 bytes
 *     opaque legacy_session_id<0..32>;
 *     CipherSuite cipher_suites<2..2^16-2>;       // uint16 each
 *     opaque legacy_compression_methods<1..2^8-1>;
 *     Extension extensions<8..2^16-1>;
 * } ClientHello;
 */
function decodeClientHello(body: Uint8Array): DecodedBody | Failure {
  const hello = new Cursor(body, 0, body.length, 'the ClientHello');
  if (hello.remaining < 2 + 32) return badLength(`the ClientHello is ${body.length} bytes, too short for legacy_version and random (34)`);
  const legacyVersion = hello.uint(2);
  hello.at += 32; // random: nothing a learner needs, and not worth exposing.

  const sessionId = hello.vector(1, 'legacy_session_id', 0, 32);
  if (isFailure(sessionId)) return sessionId;

  const suites = hello.vector(2, 'cipher_suites', 2, 2 ** 16 - 2);
  if (isFailure(suites)) return suites;
  if (suites.remaining % 2 !== 0) return badLength(`cipher_suites is ${suites.remaining} bytes, not a whole number of 2-byte suites`);
  const cipherSuites: number[] = [];
  while (suites.remaining > 0) cipherSuites.push(suites.uint(2));

  const compression = hello.vector(1, 'legacy_compression_methods', 1, 2 ** 8 - 1);
  if (isFailure(compression)) return compression;
  const compressionMethods: number[] = [];
  while (compression.remaining > 0) compressionMethods.push(compression.uint(1));

  const result = {
    legacyVersion,
    sessionIdLength: sessionId.remaining,
    cipherSuites,
    compressionMethods,
    supportedVersions: [] as number[],
    serverName: undefined as string | undefined,
    alpnProtocols: [] as string[],
    extensionTypes: [] as number[],
  };
  // RFC 5246 §7.4.1.2: a TLS 1.2 (or older) hello may end here — "the presence of extensions can be
  // detected by determining whether there are bytes following the compression_methods".
  if (hello.remaining === 0) return result;

  const extensions = hello.vector(2, 'extensions', 0, 2 ** 16 - 1);
  if (isFailure(extensions)) return extensions;
  const end = hello.finished();
  if (end) return end;
  const seen = new Set<number>();
  while (extensions.remaining > 0) {
    // struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; } Extension;
    if (extensions.remaining < 2) return badLength('extensions ends inside an extension type');
    const type = extensions.uint(2);
    const data = extensions.vector(2, `extension ${extensionName(type)}`, 0, 2 ** 16 - 1);
    if (isFailure(data)) return data;
    // RFC 8446 §4.2: "There MUST NOT be more than one extension of the same type in a given extension block."
    if (seen.has(type)) return badExtension(`extension ${extensionName(type)} appears twice (RFC 8446 §4.2)`);
    seen.add(type);
    result.extensionTypes.push(type);
    let failure: Failure | undefined;
    if (type === EXT_SERVER_NAME) {
      const name = decodeServerName(data);
      if (typeof name !== 'string') failure = name;
      else result.serverName = name;
    } else if (type === EXT_ALPN) {
      failure = decodeAlpn(data, result.alpnProtocols);
    } else if (type === EXT_SUPPORTED_VERSIONS) {
      failure = decodeSupportedVersions(data, result.supportedVersions);
    }
    if (failure) return failure;
  }
  return result;
}

/**
 * RFC 6066 §3:
 *   struct { NameType name_type; select (name_type) { case host_name: HostName; } name; } ServerName;
 *   enum { host_name(0), (255) } NameType;
 *   opaque HostName<1..2^16-1>;
 *   struct { ServerName server_name_list<1..2^16-1> } ServerNameList;
 * "The ServerNameList MUST NOT contain more than one name of the same name_type." The host name is "the
 * fully qualified DNS hostname of the server ... represented as a byte string using ASCII encoding".
 */
function decodeServerName(data: Cursor): string | Failure {
  const list = data.vector(2, 'server_name_list', 1, 2 ** 16 - 1);
  if (isFailure(list)) return list;
  const end = data.finished();
  if (end) return end;
  let hostName: string | undefined;
  while (list.remaining > 0) {
    const nameType = list.uint(1);
    // Every NameType defined so far, and every one sent in practice, is an opaque<1..2^16-1>.
    const name = list.vector(2, 'a server name', 1, 2 ** 16 - 1);
    if (isFailure(name)) return name;
    if (nameType !== NAME_TYPE_HOST_NAME) continue;
    if (hostName !== undefined) return badExtension('server_name lists two host_name entries (RFC 6066 §3)');
    for (let i = name.at; i < name.end; i++) {
      const byte = name.bytes[i]!;
      // ASCII without controls or spaces: a name with them is not a DNS name, and it goes into trace lines.
      if (byte <= 0x20 || byte >= 0x7f) return badExtension(`the host_name in server_name holds byte 0x${byte.toString(16).padStart(2, '0')}, not a DNS name in ASCII (RFC 6066 §3)`);
    }
    hostName = Buffer.from(name.bytes.buffer, name.bytes.byteOffset + name.at, name.remaining).toString('latin1');
  }
  return hostName ?? badExtension('server_name carries no host_name entry');
}

/**
 * RFC 7301 §3.1:
 *   opaque ProtocolName<1..2^8-1>;
 *   struct { ProtocolName protocol_name_list<2..2^16-1> } ProtocolNameList;
 * "Empty strings MUST NOT be included and byte strings MUST NOT be truncated."
 */
function decodeAlpn(data: Cursor, out: string[]): Failure | undefined {
  const list = data.vector(2, 'protocol_name_list', 2, 2 ** 16 - 1);
  if (isFailure(list)) return list;
  const end = data.finished();
  if (end) return end;
  while (list.remaining > 0) {
    if (list.bytes[list.at] === 0) return badExtension('protocol_name_list holds an empty protocol name (RFC 7301 §3.1)');
    const name = list.vector(1, 'an ALPN protocol name', 1, 2 ** 8 - 1);
    if (isFailure(name)) return name;
    out.push(Buffer.from(name.bytes.buffer, name.bytes.byteOffset + name.at, name.remaining).toString('latin1'));
  }
  return undefined;
}

/**
 * RFC 8446 §4.2.1, in a ClientHello:
 *   struct { select (Handshake.msg_type) { case client_hello: ProtocolVersion versions<2..254>; … }; }
 */
function decodeSupportedVersions(data: Cursor, out: number[]): Failure | undefined {
  const list = data.vector(1, 'supported_versions', 2, 254);
  if (isFailure(list)) return list;
  const end = data.finished();
  if (end) return end;
  if (list.remaining % 2 !== 0) return badLength(`supported_versions is ${list.remaining} bytes, not a whole number of 2-byte versions`);
  while (list.remaining > 0) out.push(list.uint(2));
  return undefined;
}

// ── names for display ────────────────────────────────────────────────────────────────────────────────

/** RFC 8701: GREASE values 0x0A0A, 0x1A1A, … 0xFAFA, sent to keep servers tolerant of unknown values. */
export function isGrease(value: number): boolean {
  return value >= 0 && value <= 0xffff && (value & 0x0f0f) === 0x0a0a && value >> 8 === (value & 0xff);
}

/** `0x0303` → 'TLS 1.2', `0x0304` → 'TLS 1.3'; GREASE and unknown values as hex, e.g. 'GREASE 0x3a3a'. */
export function tlsVersionName(version: number): string {
  switch (version) {
    case 0x0002: return 'SSL 2.0';
    case 0x0300: return 'SSL 3.0';
    case 0x0301: return 'TLS 1.0';
    case 0x0302: return 'TLS 1.1';
    case 0x0303: return 'TLS 1.2';
    case 0x0304: return 'TLS 1.3';
  }
  if (isGrease(version)) return `GREASE ${hex4(version)}`;
  // Pre-RFC drafts of TLS 1.3 were 0x7f00 + draft number.
  if (version > 0x7f00 && version <= 0x7fff) return `TLS 1.3 draft ${version - 0x7f00}`;
  return hex4(version);
}

const EXTENSION_NAMES: Readonly<Record<number, string>> = {
  0: 'server_name',
  1: 'max_fragment_length',
  5: 'status_request',
  10: 'supported_groups',
  11: 'ec_point_formats',
  13: 'signature_algorithms',
  14: 'use_srtp',
  15: 'heartbeat',
  16: 'application_layer_protocol_negotiation',
  18: 'signed_certificate_timestamp',
  19: 'client_certificate_type',
  20: 'server_certificate_type',
  21: 'padding',
  22: 'encrypt_then_mac',
  23: 'extended_master_secret',
  27: 'compress_certificate',
  28: 'record_size_limit',
  35: 'session_ticket',
  41: 'pre_shared_key',
  42: 'early_data',
  43: 'supported_versions',
  44: 'cookie',
  45: 'psk_key_exchange_modes',
  47: 'certificate_authorities',
  48: 'oid_filters',
  49: 'post_handshake_auth',
  50: 'signature_algorithms_cert',
  51: 'key_share',
  17513: 'application_settings',
  65037: 'encrypted_client_hello',
  65281: 'renegotiation_info',
};

/** An extension type's IANA name (`16` → 'application_layer_protocol_negotiation'), else `'GREASE 0x…'` or its number. */
export function extensionName(type: number): string {
  const name = EXTENSION_NAMES[type];
  if (name !== undefined) return name;
  return isGrease(type) ? `GREASE ${hex4(type)}` : String(type);
}

/** RFC 8446 §4: HandshakeType, for error messages. */
function handshakeTypeName(type: number): string {
  const names: Readonly<Record<number, string>> = {
    0: 'hello_request', 1: 'client_hello', 2: 'server_hello', 4: 'new_session_ticket', 5: 'end_of_early_data',
    8: 'encrypted_extensions', 11: 'certificate', 12: 'server_key_exchange', 13: 'certificate_request',
    14: 'server_hello_done', 15: 'certificate_verify', 16: 'client_key_exchange', 20: 'finished', 24: 'key_update',
  };
  const name = names[type];
  return name === undefined ? `type ${type}` : `${name} (${type})`;
}

/** RFC 8446 §5.1: ContentType, for error messages. */
function contentTypeName(type: number): string {
  switch (type) {
    case 20: return 'change_cipher_spec';
    case 21: return 'alert';
    case 22: return 'handshake';
    case 23: return 'application_data';
    case 24: return 'heartbeat';
    default: return 'not a TLS content type';
  }
}

function hex4(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}
