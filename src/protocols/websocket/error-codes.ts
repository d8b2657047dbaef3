/**
 * The stable `code` strings of every ProtocolError the WebSocket layer returns, in one place so users
 * can `switch` on them and tests can name them. Handshake errors carry an HTTP status (the connection
 * still speaks HTTP); frame and message errors carry the close code to send.
 */
export const WebSocketErrorCode = {
  // Server-side handshake (§4.2.1), answered with an HTTP status.
  MethodNotAllowed: 'ERR_METHOD_NOT_ALLOWED',
  HttpVersion: 'ERR_HTTP_VERSION',
  MissingHost: 'ERR_MISSING_HOST',
  MissingUpgrade: 'ERR_MISSING_UPGRADE',
  MissingConnectionUpgrade: 'ERR_MISSING_CONNECTION_UPGRADE',
  UnsupportedVersion: 'ERR_UNSUPPORTED_VERSION',
  InvalidKey: 'ERR_INVALID_KEY',
  OriginForbidden: 'ERR_ORIGIN_FORBIDDEN',
  InvalidSubprotocol: 'ERR_INVALID_SUBPROTOCOL',
  NoSubprotocol: 'ERR_NO_SUBPROTOCOL',
  InvalidExtensions: 'ERR_INVALID_EXTENSIONS',
  // Client-side check of the server's response (§4.1).
  HandshakeStatus: 'ERR_HANDSHAKE_STATUS',
  AcceptMismatch: 'ERR_ACCEPT_MISMATCH',
  UnexpectedSubprotocol: 'ERR_UNEXPECTED_SUBPROTOCOL',
  UnexpectedExtension: 'ERR_UNEXPECTED_EXTENSION',
  /** The server's permessage-deflate response breaks RFC 7692 §7.1 or asks what we cannot do. */
  InvalidExtensionResponse: 'ERR_INVALID_EXTENSION_RESPONSE',
  // Frames (§5.2), close code 1002 unless noted.
  ReservedBits: 'ERR_RESERVED_BITS',
  ReservedOpcode: 'ERR_RESERVED_OPCODE',
  UnmaskedFrame: 'ERR_UNMASKED_FRAME',
  MaskedFrame: 'ERR_MASKED_FRAME',
  FragmentedControl: 'ERR_FRAGMENTED_CONTROL_FRAME',
  ControlTooLong: 'ERR_CONTROL_FRAME_TOO_LONG',
  LengthTooLarge: 'ERR_LENGTH_MSB_SET',
  NonMinimalLength: 'ERR_NON_MINIMAL_LENGTH',
  /** 1009 */
  FrameTooBig: 'ERR_FRAME_TOO_BIG',
  // Messages and closing (§5.4, §5.5.1, §7).
  UnexpectedContinuation: 'ERR_UNEXPECTED_CONTINUATION',
  ExpectedContinuation: 'ERR_EXPECTED_CONTINUATION',
  /** 1009 */
  MessageTooBig: 'ERR_MESSAGE_TOO_BIG',
  // permessage-deflate (RFC 7692 §6, §7.2).
  /** RSV1 on a control frame or a continuation frame (§6.1), 1002. */
  MisplacedCompressionBit: 'ERR_MISPLACED_RSV1',
  /** 1007 */
  InvalidCompressedData: 'ERR_INVALID_COMPRESSED_DATA',
  /** 1007 */
  InvalidUtf8: 'ERR_INVALID_UTF8',
  ClosePayloadLength: 'ERR_CLOSE_PAYLOAD_LENGTH',
  InvalidCloseCode: 'ERR_INVALID_CLOSE_CODE',
  /** 1007 */
  InvalidCloseReason: 'ERR_INVALID_CLOSE_REASON',
  /** 1006: the byte stream ended without a Close frame. Nothing is to be sent. */
  ConnectionLost: 'ERR_CONNECTION_LOST',
} as const;
export type WebSocketErrorCode = (typeof WebSocketErrorCode)[keyof typeof WebSocketErrorCode];
