import { Buffer } from 'node:buffer';
import { ProtocolError, UsageError } from '../../errors.js';
import { DEFAULT_LIMITS } from '../../limits.js';
import { CloseCode, isValidCloseCode } from './close-codes.js';
import { WebSocketErrorCode as Err } from './error-codes.js';
import {
  FrameDecoder,
  MAX_CONTROL_PAYLOAD_BYTES,
  Opcode,
  encodeFrame,
  encodeFrameHeader,
  isControlOpcode,
  type FrameHeader,
  type Role,
} from './frame-codec.js';
import { createMaskSource } from './mask.js';
import { PerMessageDeflate, type DeflateSetup } from './permessage-deflate.js';
import { Utf8Validator, isValidUtf8 } from './utf8.js';

/**
 * One WebSocket connection after the 101, sans-IO (like wsproto's `Connection`): bytes in through
 * `receive`, events out of `next`, and encoders that return the bytes to write.
 *
 * How this works: a FrameDecoder turns bytes into header / payload / frame-end events; this class runs
 * the message rules over them. Data frames are collected into messages (payload pieces kept as zero-copy
 * views and joined once at FIN, or not at all when the message arrived as one piece); text is validated
 * piece by piece as it arrives, so invalid UTF-8 is reported before the rest of the fragment is even
 * received. Control frames may arrive between fragments and come out as soon as they end. The size cap is
 * applied to the whole message at each frame header (bytes so far + the new frame's declared length).
 * With `streamBinary` on, an uncompressed binary message that did not arrive in one piece is not joined at
 * all: its frames and pieces come out as they arrive (`binary-frame`, `binary-piece`), for a relay that
 * passes them on; the caps are the same, since they are checked at the headers.
 *
 * Closing (§7): `state` is 'open' until a Close frame is sent or received, 'closing' while only one side
 * has, and 'closed' once both have (or the byte stream ended). On a `close` event the application should
 * answer with `close()` (§5.5.1: "the endpoint MUST send a Close frame in response"), typically echoing
 * the code. Anything received after a Close frame is ignored (§5.5.1: the peer "MUST NOT send any more
 * data frames"). On an `error` event the application fails the connection (§7.1.7): sends
 * `close(error.closeCode)` unless the code is 1006, then closes TCP. Errors are sticky.
 *
 * The encoders throw UsageError for local misuse (sending after close, bad codes, oversized control
 * payloads); they never depend on what the peer sent.
 *
 * Observing frames: `onFrame` sees every frame header, received (as soon as the header is parsed, before
 * its payload and before the message rules judge it) and sent. Without it the hot path does no extra work:
 * no header object is built for sent frames, and a received header is the object the decoder made anyway.
 */

export type WebSocketEvent =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'binary'; readonly data: Uint8Array }
  /**
   * With `streamBinary` on, an uncompressed binary message that does not arrive in one piece comes as one
   * `binary-frame` per frame, carrying the frame's first piece, then the rest of its payload as
   * `binary-piece` events: views of the received chunks (unmasked, never joined). `first` is the
   * message's first frame, `fin` its last; the caps were checked at the header, before any of this. A
   * message that arrives whole (one frame, one piece) still comes as `binary`, a view as ever.
   */
  | { readonly type: 'binary-frame'; readonly length: number; readonly first: boolean; readonly fin: boolean; readonly data: Uint8Array }
  | { readonly type: 'binary-piece'; readonly data: Uint8Array }
  | { readonly type: 'ping'; readonly data: Uint8Array }
  | { readonly type: 'pong'; readonly data: Uint8Array }
  /** `code` is 1005 when the Close frame carried none (§7.1.5). */
  | { readonly type: 'close'; readonly code: number; readonly reason: string }
  | { readonly type: 'need-data' }
  /** `error.closeCode` is the code to close with (1006: the stream ended, send nothing). */
  | { readonly type: 'error'; readonly error: ProtocolError };

export type ConnectionState = 'open' | 'closing' | 'closed';

export type FrameDirection = 'in' | 'out';

/** Sees each frame's header in both directions (the trace uses it); must not throw. */
export type FrameObserver = (header: FrameHeader, direction: FrameDirection) => void;

export interface WebSocketProtocolOptions {
  readonly role: Role;
  /** Largest message, all fragments together, inclusive; over it → 1009. Defaults to the limits' 16 MiB. */
  readonly maxMessageBytes?: number;
  /** Source of 4-byte masking keys for a client (§5.3); injectable so tests are deterministic. */
  readonly randomMask?: () => Uint8Array;
  /** Called with every frame header received and sent. Absent (the default): no work at all. */
  readonly onFrame?: FrameObserver;
  /**
   * permessage-deflate as agreed in the handshake (RFC 7692): RSV1 then marks a compressed message,
   * which is inflated at its last frame (capped at `maxMessageBytes` while inflating), and messages of at
   * least `thresholdBytes` are sent compressed. Absent: no extension, and RSV1 fails the connection.
   */
  readonly deflate?: DeflateSetup;
}

const NEED_DATA: WebSocketEvent = Object.freeze({ type: 'need-data' });
/** No frame in progress: one shared, frozen array instead of two empty arrays per connection. */
const NO_PIECES = Object.freeze([]) as unknown as Uint8Array[];
const EMPTY = new Uint8Array(0);
/** §5.5: a Close payload is a 2-byte code plus the reason, within a control frame's 125 bytes. */
const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD_BYTES - 2;

type MessageKind = typeof Opcode.Text | typeof Opcode.Binary;

export class WebSocketProtocol {
  readonly #decoder: FrameDecoder;
  readonly #maxMessageBytes: number;
  readonly #randomMask: (() => Uint8Array) | undefined;
  readonly #deflate: PerMessageDeflate | undefined;
  #onFrame: FrameObserver | undefined;

  // The frame being received.
  #controlOpcode: number | undefined; // set while a control frame's payload is arriving
  #frameFin = false;
  #controlPieces: Uint8Array[] = NO_PIECES;
  #controlBytes = 0;

  // The message being received.
  #messageKind: MessageKind | undefined;
  #messageBytes = 0; // declared lengths of its frames so far
  #messagePieces: Uint8Array[] = NO_PIECES;
  /** RSV1 was set on its first frame: the pieces are compressed, inflated once the message is whole. */
  #messageCompressed = false;
  #lastWireBytes = 0;
  #lastCompressed = false;
  /** The message in progress is being delivered as binary-frame / binary-piece events. */
  #messageStreamed = false;
  #streamBinary = false;
  // The streamed frame being received: announced with its first piece (or at its end, when empty).
  #frameAnnounced = false;
  #frameFirst = false;
  #frameLength = 0;
  /** Created with the first text message: an idle or binary-only connection never needs it. */
  #utf8: Utf8Validator | undefined;

  // The message being sent with sendFragment().
  #sendingKind: MessageKind | undefined;
  #sendUtf8: Utf8Validator | undefined;

  #closeSent = false;
  #closeReceived = false;
  #closeInitiator: 'local' | 'remote' | undefined;
  #ended = false;
  #error: WebSocketEvent | undefined;

  constructor(options: WebSocketProtocolOptions) {
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_LIMITS.webSocketMaxMessageBytes;
    if (!Number.isSafeInteger(this.#maxMessageBytes) || this.#maxMessageBytes < 0) {
      throw new UsageError('ERR_INVALID_LIMIT', 'maxMessageBytes must be a non-negative integer');
    }
    // No single frame can be larger than a message, so the decoder applies the same cap per frame
    // (rejecting an oversized single frame even before its masking key arrives).
    this.#decoder = new FrameDecoder({ role: options.role, maxPayloadBytes: this.#maxMessageBytes, allowRsv1: options.deflate !== undefined });
    this.#deflate = options.deflate === undefined ? undefined : new PerMessageDeflate(options.deflate, options.role);
    // §5.3: a client masks every frame; a server never does (§5.1).
    this.#randomMask = options.role === 'client' ? (options.randomMask ?? createMaskSource()) : undefined;
    this.#onFrame = options.onFrame;
  }

  /**
   * Deliver uncompressed binary messages piece by piece (see `binary-frame`) instead of joined into one
   * `binary` event: for a relay such as the echo, which can pass the pieces on as they come and so
   * never pays for the join of a message that spans several reads. Takes effect at the next message.
   */
  set streamBinary(on: boolean) {
    this.#streamBinary = on;
  }

  get streamBinary(): boolean {
    return this.#streamBinary;
  }

  /** Start or stop observing frames (a trace that begins or ends while the connection is open). */
  set onFrame(observer: FrameObserver | undefined) {
    this.#onFrame = observer;
  }

  get onFrame(): FrameObserver | undefined {
    return this.#onFrame;
  }

  get state(): ConnectionState {
    if (this.#ended || (this.#closeSent && this.#closeReceived)) return 'closed';
    if (this.#closeSent || this.#closeReceived) return 'closing';
    return 'open';
  }

  /** Who sent the first Close frame, once one has been sent or received. */
  get closeInitiator(): 'local' | 'remote' | undefined {
    return this.#closeInitiator;
  }

  /**
   * Payload bytes on the wire of the message last delivered by `next()` or last encoded by a send: for a
   * compressed message, its compressed size (the trace shows it beside the inflated size).
   */
  get lastMessageWireBytes(): number {
    return this.#lastWireBytes;
  }

  /** Whether that same message was compressed (RSV1). */
  get lastMessageCompressed(): boolean {
    return this.#lastCompressed;
  }

  /** Whether permessage-deflate is in use on this connection. */
  get compressing(): boolean {
    return this.#deflate !== undefined;
  }

  get closeSent(): boolean {
    return this.#closeSent;
  }

  get closeReceived(): boolean {
    return this.#closeReceived;
  }

  /** Hands received bytes over (ownership passes: see FrameDecoder). Ignored after a Close or an error. */
  receive(chunk: Uint8Array): void {
    if (this.#closeReceived || this.#error !== undefined) return;
    this.#decoder.receive(chunk);
  }

  /** The peer ended the byte stream (TCP FIN). */
  receiveEnd(): void {
    this.#ended = true;
  }

  next(): WebSocketEvent {
    if (this.#error !== undefined) return this.#error;
    if (this.#closeReceived) return NEED_DATA;
    for (;;) {
      const event = this.#decoder.next();
      switch (event.type) {
        case 'header': {
          if (this.#onFrame !== undefined) this.#onFrame(event.header, 'in');
          const out = this.#onHeader(event.header);
          if (out !== undefined) return out;
          break;
        }
        case 'payload': {
          const out = this.#onPayload(event.data);
          if (out !== undefined) return out;
          break;
        }
        case 'frame-end': {
          const out = this.#onFrameEnd();
          if (out !== undefined) return out;
          break;
        }
        case 'need-data':
          if (this.#ended) {
            // §7.1.5: "If _The WebSocket Connection is Closed_ and no Close control frame was received by
            // the endpoint ..., _The WebSocket Connection Close Code_ is considered to be 1006."
            return this.#fail(Err.ConnectionLost, 'the connection ended without a Close frame', CloseCode.AbnormalClosure);
          }
          return NEED_DATA;
        case 'error':
          return (this.#error = event);
      }
    }
  }

  #onHeader(header: FrameHeader): WebSocketEvent | undefined {
    const { opcode, payloadLength } = header;
    this.#frameFin = header.fin;
    if (isControlOpcode(opcode)) {
      // §5.4: "Control frames (see Section 5.5) MAY be injected in the middle of a fragmented message."
      this.#controlOpcode = opcode;
      this.#controlPieces = [];
      this.#controlBytes = 0;
      return undefined;
    }
    this.#controlOpcode = undefined;
    if (opcode === Opcode.Continuation) {
      // §5.4: fragments after the first carry the continuation opcode; one without a first has no message.
      if (this.#messageKind === undefined) {
        return this.#fail(Err.UnexpectedContinuation, 'a continuation frame arrived with no message in progress');
      }
      // RFC 7692 §6.1: the compressed bit is set "on the first frame of a message" only; §6: "an
      // endpoint MUST NOT set the RSV1 bit on non-first fragments" (and fails a peer that does, §6.2 of
      // RFC 6455's rule for unexplained reserved bits).
      if (header.rsv1) return this.#fail(Err.MisplacedCompressionBit, 'RSV1 is set on a continuation frame');
    } else {
      // §5.4: "The fragments of one message MUST NOT be interleaved between the fragments of another
      // message unless an extension has been negotiated that can interpret the interleaving."
      if (this.#messageKind !== undefined) {
        return this.#fail(Err.ExpectedContinuation, 'a new data frame arrived in the middle of a fragmented message');
      }
      this.#messageKind = opcode as MessageKind;
      this.#messageBytes = 0;
      this.#messagePieces = [];
      this.#messageCompressed = header.rsv1;
      // A compressed message can only be inflated whole (RFC 7692 §6.2), so it is never streamed.
      this.#messageStreamed = this.#streamBinary && opcode === Opcode.Binary && !header.rsv1;
      if (opcode === Opcode.Text && !header.rsv1) {
        if (this.#utf8 === undefined) this.#utf8 = new Utf8Validator(); else this.#utf8.reset();
      }
    }
    // The whole-message cap, decided at the header from what the fragments so far declared, so it holds
    // however the message is fragmented; §7.4.1 1009.
    if (payloadLength > this.#maxMessageBytes - this.#messageBytes) {
      return this.#fail(
        Err.MessageTooBig,
        `message of at least ${this.#messageBytes + payloadLength} bytes exceeds the limit of ${this.#maxMessageBytes}`,
        CloseCode.MessageTooBig,
      );
    }
    this.#messageBytes += payloadLength;
    if (this.#messageStreamed) {
      this.#frameAnnounced = false;
      this.#frameFirst = opcode !== Opcode.Continuation;
      this.#frameLength = payloadLength;
    }
    return undefined;
  }

  #onPayload(data: Uint8Array): WebSocketEvent | undefined {
    if (this.#controlOpcode !== undefined) {
      this.#controlPieces.push(data);
      this.#controlBytes += data.length;
      return undefined;
    }
    if (this.#messageStreamed) return this.#frameAnnounced ? { type: 'binary-piece', data } : this.#announce(data);
    // §8.1: invalid UTF-8 in a text message fails the connection; checked per piece so it fails fast.
    // (A compressed message is checked once inflated.)
    if (this.#messageKind === Opcode.Text && !this.#messageCompressed && !this.#utf8!.write(data)) {
      return this.#fail(
        Err.InvalidUtf8,
        `invalid UTF-8 at byte ${this.#utf8!.offset} of a text message`,
        CloseCode.InvalidPayload,
      );
    }
    this.#messagePieces.push(data);
    return undefined;
  }

  #onFrameEnd(): WebSocketEvent | undefined {
    const controlOpcode = this.#controlOpcode;
    if (controlOpcode !== undefined) {
      this.#controlOpcode = undefined;
      const data = join(this.#controlPieces, this.#controlBytes);
      this.#controlPieces = NO_PIECES;
      if (controlOpcode === Opcode.Ping) return { type: 'ping', data };
      if (controlOpcode === Opcode.Pong) return { type: 'pong', data };
      return this.#onClose(data);
    }
    if (this.#messageStreamed) {
      // An empty frame has no piece to announce it.
      const out = this.#frameAnnounced ? undefined : this.#announce(EMPTY);
      if (this.#frameFin) {
        this.#messageKind = undefined;
        this.#messageStreamed = false;
        this.#lastWireBytes = this.#messageBytes;
        this.#lastCompressed = false;
      }
      return out;
    }
    if (!this.#frameFin) return undefined;
    const kind = this.#messageKind;
    let data = join(this.#messagePieces, this.#messageBytes);
    this.#messageKind = undefined;
    this.#messagePieces = NO_PIECES;
    this.#lastWireBytes = this.#messageBytes;
    this.#lastCompressed = this.#messageCompressed;
    if (this.#messageCompressed) {
      const inflated = this.#deflate!.decompress(data, this.#maxMessageBytes);
      if (inflated instanceof ProtocolError) return this.#fail(inflated.code, inflated.message, inflated.closeCode);
      if (kind === Opcode.Binary) return { type: 'binary', data: inflated };
      if (!isValidUtf8(inflated)) return this.#fail(Err.InvalidUtf8, 'a compressed text message is not valid UTF-8 once inflated', CloseCode.InvalidPayload);
      return { type: 'text', text: decodeUtf8(inflated) };
    }
    if (kind === Opcode.Binary) return { type: 'binary', data };
    // A message that ends inside a character is invalid too (§8.1).
    if (!this.#utf8!.complete) {
      return this.#fail(Err.InvalidUtf8, 'a text message ends in the middle of a UTF-8 sequence', CloseCode.InvalidPayload);
    }
    return { type: 'text', text: decodeUtf8(data) };
  }

  /** The first piece of a streamed frame: the whole message when it is one frame in one piece (no join to save). */
  #announce(data: Uint8Array): WebSocketEvent {
    this.#frameAnnounced = true;
    if (this.#frameFirst && this.#frameFin && data.length === this.#frameLength) return { type: 'binary', data };
    return { type: 'binary-frame', length: this.#frameLength, first: this.#frameFirst, fin: this.#frameFin, data };
  }

  #onClose(payload: Uint8Array): WebSocketEvent {
    let code: number = CloseCode.NoStatusReceived;
    let reason = '';
    if (payload.length === 1) {
      // §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte unsigned integer".
      return this.#fail(Err.ClosePayloadLength, 'a Close frame has a 1-byte payload');
    }
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (!isValidCloseCode(code)) return this.#fail(Err.InvalidCloseCode, `invalid close code ${code}`);
      const reasonBytes = payload.subarray(2);
      // §5.5.1: the reason's "data MUST be UTF-8-encoded"; §8.1 makes a violation 1007.
      if (!isValidUtf8(reasonBytes)) {
        return this.#fail(Err.InvalidCloseReason, 'the close reason is not valid UTF-8', CloseCode.InvalidPayload);
      }
      reason = decodeUtf8(reasonBytes);
    }
    this.#closeReceived = true;
    this.#closeInitiator ??= 'remote';
    return { type: 'close', code, reason };
  }

  #fail(code: string, message: string, closeCode: number = CloseCode.ProtocolError): WebSocketEvent {
    this.#error = Object.freeze({ type: 'error', error: new ProtocolError(code, message, { closeCode }) });
    this.#messagePieces = NO_PIECES;
    this.#controlPieces = NO_PIECES;
    return this.#error;
  }

  // --- Encoders -------------------------------------------------------------------------------------

  /** A whole text message. */
  sendText(text: string): Uint8Array[] {
    this.#checkCanSendMessage();
    return this.#message(Opcode.Text, Buffer.from(text, 'utf8'));
  }

  /** A whole binary message. For a large unmasked one the last buffer is `data` itself, not a copy. */
  sendBinary(data: Uint8Array): Uint8Array[] {
    this.#checkCanSendMessage();
    return this.#message(Opcode.Binary, data);
  }

  /** A whole message in one frame, compressed when the extension is on, it is long enough and deflate pays (§6). */
  #message(opcode: MessageKind, payload: Uint8Array): Uint8Array[] {
    const deflate = this.#deflate;
    const compressed = deflate === undefined || !deflate.shouldCompress(payload.length) ? undefined : deflate.compress(payload);
    if (compressed === undefined) {
      this.#lastWireBytes = payload.length;
      this.#lastCompressed = false;
      return this.#frame(opcode, payload, true);
    }
    this.#lastWireBytes = compressed.length;
    this.#lastCompressed = true;
    return this.#frame(opcode, compressed, true, true);
  }

  /**
   * One fragment of a message (§5.4): the first call picks the kind, later ones must repeat it, `fin`
   * ends the message. Text fragments are raw UTF-8 bytes, so a character may be split between them;
   * the concatenation must be valid UTF-8 (checked, UsageError otherwise). Pings and pongs may be sent
   * between fragments; whole messages may not. Fragmented messages are sent uncompressed (RSV1 is chosen
   * per message, RFC 7692 §6, and a message whose end is not known yet cannot be compressed whole).
   */
  sendFragment(kind: 'text' | 'binary', data: Uint8Array, fin: boolean): Uint8Array[] {
    this.#checkOpen();
    const opcode = kind === 'text' ? Opcode.Text : Opcode.Binary;
    if (this.#sendingKind !== undefined && this.#sendingKind !== opcode) {
      throw new UsageError('ERR_FRAGMENT_KIND', `a ${kind} fragment cannot continue a message of the other kind`);
    }
    if (opcode === Opcode.Text) {
      const validator = (this.#sendUtf8 ??= new Utf8Validator());
      if (this.#sendingKind === undefined) validator.reset();
      if (!validator.write(data) || (fin && !validator.complete)) {
        throw new UsageError('ERR_INVALID_UTF8', 'text fragments must form valid UTF-8');
      }
    }
    const frameOpcode = this.#sendingKind === undefined ? opcode : Opcode.Continuation;
    this.#sendingKind = fin ? undefined : opcode;
    return this.#frame(frameOpcode, data, fin);
  }

  /**
   * The header of one binary frame whose `length` payload bytes the caller writes next, as they come
   * (relaying a `binary-frame` piece by piece). Follows `sendFragment`'s rules: the first frame of a
   * message is Binary, later ones Continuation, `fin` ends it (§5.4). Server only: a client would have
   * to mask bytes it does not have yet (§5.3). Nothing else may be written until the payload is.
   */
  sendFrameHeader(length: number, fin: boolean): Uint8Array {
    this.#checkOpen();
    if (this.#randomMask !== undefined) throw new UsageError('ERR_STREAM_MASKED', 'a client cannot stream an unmasked frame');
    if (this.#sendingKind !== undefined && this.#sendingKind !== Opcode.Binary) {
      throw new UsageError('ERR_FRAGMENT_KIND', 'a binary fragment cannot continue a message of the other kind');
    }
    const opcode = this.#sendingKind === undefined ? Opcode.Binary : Opcode.Continuation;
    const header = encodeFrameHeader({ opcode, fin, payloadLength: length });
    this.#sendingKind = fin ? undefined : Opcode.Binary;
    this.#lastWireBytes = length;
    this.#lastCompressed = false;
    if (this.#onFrame !== undefined) {
      this.#onFrame({ fin, rsv1: false, opcode, mask: undefined, payloadLength: length, headerLength: header.length }, 'out');
    }
    return header;
  }

  ping(data: Uint8Array = EMPTY): Uint8Array[] {
    this.#checkOpen();
    this.#checkControlPayload(data);
    return this.#frame(Opcode.Ping, data, true);
  }

  pong(data: Uint8Array = EMPTY): Uint8Array[] {
    this.#checkOpen();
    this.#checkControlPayload(data);
    return this.#frame(Opcode.Pong, data, true);
  }

  /**
   * The Close frame (§5.5.1). Without a code the payload is empty (the peer will report 1005); a reason
   * needs a code. Codes 1005, 1006 and 1015 are never sent (§7.4.1).
   */
  close(code?: number, reason = ''): Uint8Array[] {
    this.#checkOpen();
    let payload = EMPTY;
    if (code === undefined) {
      if (reason !== '') throw new UsageError('ERR_CLOSE_REASON_WITHOUT_CODE', 'a close reason needs a close code');
    } else {
      if (!isValidCloseCode(code)) throw new UsageError('ERR_INVALID_CLOSE_CODE', `close code ${code} may not be sent`);
      const reasonBytes = Buffer.from(reason, 'utf8');
      if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
        throw new UsageError('ERR_CLOSE_REASON_TOO_LONG', `a close reason is at most ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`);
      }
      payload = Buffer.allocUnsafe(2 + reasonBytes.length);
      payload[0] = code >>> 8;
      payload[1] = code & 0xff;
      payload.set(reasonBytes, 2);
    }
    const frames = this.#frame(Opcode.Close, payload, true);
    this.#closeSent = true;
    this.#closeInitiator ??= 'local';
    return frames;
  }

  #frame(opcode: Opcode, payload: Uint8Array, fin: boolean, rsv1 = false): Uint8Array[] {
    const mask = this.#randomMask?.();
    const frames = encodeFrame(mask === undefined ? { opcode, payload, fin, rsv1 } : { opcode, payload, fin, mask, rsv1 });
    if (this.#onFrame !== undefined) {
      const payloadLength = payload.length;
      // The header is the first buffer, minus the payload when encodeFrame copied it in behind.
      const headerLength = frames.length === 1 ? frames[0]!.length - payloadLength : frames[0]!.length;
      this.#onFrame({ fin, rsv1, opcode, mask, payloadLength, headerLength }, 'out');
    }
    return frames;
  }

  #checkOpen(): void {
    // §5.5.1: "After sending a Close frame, the endpoint MUST NOT send any more data frames." We send
    // nothing at all after it: there is nothing a ping or pong could still achieve.
    if (this.#closeSent) throw new UsageError('ERR_CLOSE_SENT', 'a Close frame was already sent');
  }

  #checkCanSendMessage(): void {
    this.#checkOpen();
    // §5.4: a message's fragments must not be interleaved with another message's.
    if (this.#sendingKind !== undefined) {
      throw new UsageError('ERR_FRAGMENT_IN_PROGRESS', 'finish the fragmented message first');
    }
  }

  #checkControlPayload(data: Uint8Array): void {
    if (data.length > MAX_CONTROL_PAYLOAD_BYTES) {
      throw new UsageError('ERR_CONTROL_PAYLOAD_TOO_LONG', 'a ping or pong payload is at most 125 bytes');
    }
  }
}

/** The pieces as one Uint8Array: the piece itself when there is one (the zero-copy path), else one copy. */
function join(pieces: readonly Uint8Array[], total: number): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  if (pieces.length === 0) return new Uint8Array(0);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/** Already-validated UTF-8 to a string. Buffer's decoder, unlike TextDecoder's default, keeps a leading BOM. */
function decodeUtf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}
