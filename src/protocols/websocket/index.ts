/** The sans-IO WebSocket layer (RFC 6455): handshake, frames, UTF-8, messages. No sockets in here. */
export { WEBSOCKET_GUID, WEBSOCKET_VERSION, computeAcceptKey, generateClientKey, isValidClientKey } from './accept-key.js';
export {
  buildClientHandshakeRequest,
  verifyServerHandshake,
  type ClientHandshakeRequest,
  type ServerHandshakeResult,
} from './client-handshake.js';
export { CloseCode, isValidCloseCode } from './close-codes.js';
export { WebSocketErrorCode } from './error-codes.js';
export {
  FrameDecoder,
  MAX_CONTROL_PAYLOAD_BYTES,
  Opcode,
  SINGLE_BUFFER_MAX_PAYLOAD_BYTES,
  encodeFrame,
  encodeFrameHeader,
  isControlOpcode,
  type EncodeFrameOptions,
  type FrameDecoderOptions,
  type FrameEvent,
  type FrameHeader,
  type Role,
} from './frame-codec.js';
export {
  validateClientHandshake,
  type HandshakeOptions,
  type HandshakeResult,
  type ParsedExtension,
} from './handshake.js';
export { describeFrame } from './frame-trace.js';
export { createMaskSource, simdUnmaskAvailable, unmaskInPlace } from './mask.js';
export {
  WebSocketProtocol,
  type ConnectionState,
  type FrameDirection,
  type FrameObserver,
  type WebSocketEvent,
  type WebSocketProtocolOptions,
} from './protocol.js';
export { Utf8Validator, isValidUtf8 } from './utf8.js';
