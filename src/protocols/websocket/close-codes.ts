/**
 * WebSocket close status codes (RFC 6455 §7.4) and which of them may travel in a Close frame.
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Never on the wire: what we report when a Close frame carried no code (§7.1.5). */
  NoStatusReceived: 1005,
  /** Never on the wire: the TCP connection ended without a Close frame (§7.1.5). */
  AbnormalClosure: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  /** IANA registry (RFC 6455 §11.7), registered after the RFC. */
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Never on the wire: the TLS handshake failed. */
  TlsHandshake: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether `code` may appear in a Close frame, sent or received.
 *
 * RFC 6455 §7.4.1 defines 1000-1003 and 1007-1011; 1004 is reserved and 1005, 1006 and 1015 "MUST NOT be
 * set as a status code in a Close control frame by an endpoint". §7.4.2: 0-999 are not used, 1000-2999
 * are reserved for the protocol and its registered extensions, 3000-3999 are registered with IANA for
 * libraries and frameworks, 4000-4999 are private. 1012-1014 were registered with IANA afterwards
 * (service restart, try again later, bad gateway); switchyard itself sends 1013 when a slow reader is
 * dropped, so it accepts them from peers too (as ws, gorilla and wsproto do). Anything else in a received
 * Close frame is a protocol error (1002), which is what Autobahn case 7.9 expects.
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
