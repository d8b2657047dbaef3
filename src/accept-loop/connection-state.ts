import { UsageError } from '../errors.js';

/**
 * The life of one accepted connection, as data. Every transition goes through `assertTransition`, so the
 * legal edges below are the whole truth (the teaching guide draws its diagram from this table):
 *
 *   accepted ──▶ http ──▶ switching ──▶ upgraded ──▶ closed
 *     │   │        ▲  │  ◀──────┘ (every offered handler declined)
 *     │   ▼        │  ▲                       │
 *     │  tls ──────┘  └───────────────────────┘ (the new protocol carries HTTP again: TLS/1.0, RFC 2817)
 *     │   │ (first byte 0x16: the TLS handshake, then HTTP/1.1 inside it)
 *     │   └──────▶ http2 ◀── (the cleartext preface "PRI * HTTP/2.0", or ALPN h2 inside TLS) ──┐
 *     │              └── streams, each a request or a protocol (RFC 8441) ──▶ closed           │
 *     ├─────────────────────────────────────────────────────────────────────────────────────────┘
 *     └───┴────────┴──────────────┴──────────────▶ closed
 */
export const ConnectionState = {
  /** `accept()` returned the socket; it is in the table but nothing has been read yet. */
  Accepted: 'accepted',
  /** The first byte was a TLS handshake record: reading the ClientHello, then node:tls's handshake. */
  Tls: 'tls',
  /**
   * An HTTP/2 session (ALPN h2, or the cleartext preface): the connection carries streams, each with its
   * own request or protocol, until the session ends. Nothing upgrades the connection itself any more.
   */
  Http2: 'http2',
  /** Reading and answering HTTP/1.1 requests. */
  Http: 'http',
  /** An upgrade request is complete; a protocol handler is deciding whether to accept it. */
  Switching: 'switching',
  /** `101 Switching Protocols` was sent; a protocol handler owns the socket. */
  Upgraded: 'upgraded',
  Closed: 'closed',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

export const LEGAL_TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  accepted: ['tls', 'http', 'http2', 'closed'],
  tls: ['http', 'http2', 'closed'],
  http2: ['closed'],
  http: ['switching', 'closed'],
  switching: ['upgraded', 'http', 'closed'],
  upgraded: ['http', 'closed'],
  closed: [],
};

export function assertTransition(from: ConnectionState, to: ConnectionState): void {
  if (!LEGAL_TRANSITIONS[from].includes(to)) {
    throw new UsageError('ERR_ILLEGAL_TRANSITION', `connection cannot go from ${from} to ${to}`);
  }
}
