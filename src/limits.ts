import { UsageError } from './errors.js';

/**
 * Every limit in one place, with its default and the reason for it. The server's options pass one
 * `Limits` object down to the accept loop, the HTTP parser and every protocol plugin, so a user tunes
 * them in one spot. Unknown keys are rejected: a typo must not silently leave a default in force.
 */
export interface Limits {
  /** Request line (method, target, version) in bytes; over it → 414. nginx and Go use 8 KiB-ish lines. */
  readonly requestLineBytes: number;
  /** Whole header section (field lines, CRLFs included) in bytes; over it → 431. */
  readonly headerBytes: number;
  /** Request content in bytes, from Content-Length or chunk sizes, decided before reading; over it → 413. */
  readonly bodyBytes: number;
  /** One chunk line (size + extensions) in bytes; a longer one is a 400, not a buffer to grow. */
  readonly chunkLineBytes: number;
  /** The header section must complete within this many ms of the first byte (slowloris) → 408. */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive connection (no request in progress) is closed after this many ms. */
  readonly keepAliveTimeoutMs: number;
  /** A plugin's accept/decline decision must arrive within this many ms, else 503 and close. */
  readonly handshakeTimeoutMs: number;
  /** Live connections at once; one over it gets 503 and a close. */
  readonly maxConnections: number;
  /** Live connections per remote address; 0 turns the per-address cap off. */
  readonly maxConnectionsPerAddress: number;
  /** Largest WebSocket message (all fragments together), inclusive; over it → close 1009. */
  readonly webSocketMaxMessageBytes: number;
  /** How long to wait for the peer's close frame after sending ours before dropping TCP. */
  readonly webSocketCloseTimeoutMs: number;
  /**
   * permessage-deflate (RFC 7692), the defaults of every WebSocket endpoint (each may override them):
   * the largest LZ77 window the server compresses with, 9-15 bits, or 0 to decline the extension; the
   * window asked of a client whose offer lets us (`client_max_window_bits`); zlib's level and memLevel;
   * and the size below which a message goes out uncompressed. Chosen by measurement: docs/websocket.md.
   */
  readonly webSocketDeflateWindowBits: number;
  readonly webSocketDeflateClientWindowBits: number;
  readonly webSocketDeflateLevel: number;
  readonly webSocketDeflateMemLevel: number;
  readonly webSocketDeflateThresholdBytes: number;
  /**
   * The largest message sent compressed; larger ones go out as they are. zlib runs synchronously on the
   * main thread, so this bounds how long one compression holds every connection (1 MiB: about 6 ms).
   */
  readonly webSocketDeflateMaxMessageBytes: number;
  /** Bytes queued to a slow reader before broadcast protocols drop it (1008/1013). */
  readonly outboundQueueBytes: number;
  /** Graceful shutdown deadline; what is still open afterwards is destroyed and logged. */
  readonly shutdownTimeoutMs: number;
  /**
   * The byte view (`GET /_lab/connections/ID/bytes`, the dashboard): the first this-many bytes of each
   * connection are kept each way, the rest only counted; 0 keeps none. Bounded so a lab serving big
   * transfers holds at most 2 × this per connection, and the tap leaves a socket once both ways are full.
   */
  readonly labBytesPerConnection: number;
  /**
   * A TLS handshake on the front door (the first byte was 0x16) must finish within this many ms of that
   * byte, else the connection is closed and counted; a client that stalls mid-handshake holds no slot.
   */
  readonly tlsHandshakeTimeoutMs: number;
  /**
   * HTTP/2 (RFC 9113 §6.5.2 SETTINGS_MAX_CONCURRENT_STREAMS): streams one connection may have open at
   * once; a client opening more gets each extra one refused (RST_STREAM REFUSED_STREAM).
   */
  readonly http2MaxConcurrentStreams: number;
  /** HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE: a header block larger than this is refused (431 or a reset). */
  readonly http2MaxHeaderListBytes: number;
  /** HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE: bytes a peer may send on one stream before we grant more. */
  readonly http2InitialWindowBytes: number;
  /**
   * HTTP/2 connection-level receive window (RFC 9113 §6.9.1: a WINDOW_UPDATE on stream 0 is the only way
   * to raise it; SETTINGS cannot). Left at 65,535, ten streams share one 64 KiB message in flight and
   * the bench's 64 KiB echo over one session ran at 0.32× of HTTP/1.1. The default, 100 streams × their
   * 65,535-byte windows, lets every stream use its own window without adding memory a client could not
   * already make us hold through the stream windows.
   */
  readonly http2SessionWindowBytes: number;
  /**
   * HTTP/2: memory one session may hold in node:http2's buffers (frames, HPACK state, unacknowledged
   * data), in MiB (node:http2's maxSessionMemory); past it new streams are refused (ENHANCE_YOUR_CALM).
   */
  readonly http2SessionMemoryMiB: number;
  /**
   * HTTP/2 floods: streams a client may reset or have refused, and invalid frames it may send, per session
   * before the whole session is torn down (rapid reset, CVE-2023-44487), the unanswered PINGs it may
   * have outstanding (a PING flood), and the entries one SETTINGS frame may carry (a SETTINGS flood).
   */
  readonly http2MaxRejectedStreams: number;
  readonly http2MaxInvalidFrames: number;
  readonly http2MaxOutstandingPings: number;
  readonly http2MaxSettingsEntries: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  requestLineBytes: 8 * 1024,
  headerBytes: 16 * 1024,
  bodyBytes: 1024 * 1024,
  chunkLineBytes: 4 * 1024,
  headersTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  handshakeTimeoutMs: 10_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 0,
  webSocketMaxMessageBytes: 16 * 1024 * 1024,
  webSocketCloseTimeoutMs: 5_000,
  webSocketDeflateWindowBits: 12,
  webSocketDeflateClientWindowBits: 12,
  webSocketDeflateLevel: 1,
  webSocketDeflateMemLevel: 8,
  webSocketDeflateThresholdBytes: 64,
  webSocketDeflateMaxMessageBytes: 1024 * 1024,
  outboundQueueBytes: 4 * 1024 * 1024,
  shutdownTimeoutMs: 5_000,
  labBytesPerConnection: 64 * 1024,
  tlsHandshakeTimeoutMs: 10_000,
  http2MaxConcurrentStreams: 100,
  http2MaxHeaderListBytes: 16 * 1024,
  http2InitialWindowBytes: 65_535,
  http2SessionWindowBytes: 100 * 65_535,
  http2SessionMemoryMiB: 10,
  http2MaxRejectedStreams: 100,
  http2MaxInvalidFrames: 100,
  http2MaxOutstandingPings: 10,
  http2MaxSettingsEntries: 32,
});

/**
 * zlib's ranges (level 0-9, memLevel 1-9); windows 9-15, since zlib's raw deflate cannot compress with 8
 * bits, while the client's window may be 8 (we only inflate with it). 0 turns the extension off.
 */
const DEFLATE_RANGES: ReadonlyArray<readonly [keyof Limits, number, number, boolean]> = [
  ['webSocketDeflateWindowBits', 9, 15, true],
  ['webSocketDeflateClientWindowBits', 8, 15, false],
  ['webSocketDeflateLevel', 0, 9, false],
  ['webSocketDeflateMemLevel', 1, 9, false],
];

/** Defaults overlaid with `overrides`; unknown keys and non-integers or negatives throw a UsageError. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const resolved: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in DEFAULT_LIMITS)) throw new UsageError('ERR_UNKNOWN_LIMIT', `unknown limit "${key}"`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new UsageError('ERR_INVALID_LIMIT', `limit "${key}" must be a non-negative integer, got ${String(value)}`);
    }
    resolved[key] = value;
  }
  for (const [key, low, high, zeroAllowed] of DEFLATE_RANGES) {
    const value = resolved[key]!;
    if ((value < low || value > high) && !(zeroAllowed && value === 0)) {
      throw new UsageError('ERR_INVALID_LIMIT', `limit "${key}" must be ${zeroAllowed ? `0 or ` : ''}${low}..${high}, got ${value}`);
    }
  }
  return Object.freeze(resolved) as unknown as Limits;
}
