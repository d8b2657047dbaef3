/**
 * Fuzz properties of the WebSocket codec, at both of its levels: the FrameDecoder (bytes → frame headers
 * and payload pieces) and the WebSocketProtocol over it (frames → messages, control frames, close). For a
 * generated (often mutated) frame stream, fed whole, byte by byte, in random pieces and cut once:
 *
 * 1. it never throws: every problem is an `error` event carrying a ProtocolError whose close code may be
 *    sent (or is 1006 for a stream that ended), and the error is sticky;
 * 2. it terminates: a bounded number of `next()` calls per byte and per chunk;
 * 3. its memory is bounded: the decoder holds less than one frame header (14 bytes) while it waits, and no
 *    message or control payload beyond its cap ever comes out;
 * 4. the events are a function of the bytes alone: the same frames (payload pieces joined), messages and
 *    error however the stream was split.
 *
 * The decoder unmasks in place, so every run gets fresh copies of the chunks.
 */
import assert from 'node:assert/strict';
import { ProtocolError } from '../../src/errors.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { isValidCloseCode } from '../../src/protocols/websocket/close-codes.js';
import { FrameDecoder, MAX_CONTROL_PAYLOAD_BYTES } from '../../src/protocols/websocket/frame-codec.js';
import { WebSocketProtocol } from '../../src/protocols/websocket/protocol.js';
import { chunkings, type FuzzTarget, type Random } from './engine.js';
import { type Role, WEBSOCKET_DICTIONARY, webSocketStream } from './generators.js';
import { mutate } from './mutators.js';

export interface WebSocketParams {
  /** The receiving side: a server expects masked frames, a client unmasked ones (§5.1). */
  readonly role: Role;
  readonly maxBytes: number;
  /** Call receiveEnd() after the last chunk (WebSocketProtocol only). */
  readonly end: boolean;
}

const MAX_HEADER_BYTES = 14;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const fresh = (chunks: readonly Uint8Array[]): Uint8Array[] => chunks.map((chunk) => Uint8Array.from(chunk));

function checkError(error: unknown): ProtocolError {
  assert.ok(error instanceof ProtocolError, 'errors are ProtocolErrors');
  assert.match(error.code, /^ERR_[A-Z0-9_]+$/);
  assert.ok(error.closeCode === 1006 || isValidCloseCode(error.closeCode), `close code ${error.closeCode} may be sent`);
  return error;
}

function generate(random: Random): { input: Uint8Array; params: WebSocketParams } {
  const role: Role = random.chance(0.75) ? 'server' : 'client';
  const maxBytes = random.chance(0.6) ? random.pick([0, 125, 126, 300, 1000]) : DEFAULT_LIMITS.webSocketMaxMessageBytes;
  const valid = webSocketStream(random, role);
  const edits = random.chance(0.15) ? 0 : random.range(1, 4);
  const input = mutate(valid, random, edits, {
    dictionary: WEBSOCKET_DICTIONARY,
    donor: () => webSocketStream(random, role),
    maxLength: 160 * 1024,
  });
  return { input, params: { role, maxBytes, end: random.chance(0.4) } };
}

/** Runs `drive` every way and checks property 4; returns the whole run's summary. */
function everyWay<S>(input: Uint8Array, random: Random, drive: (chunks: Uint8Array[]) => S): S {
  let whole: S | undefined;
  for (const { label, chunks } of chunkings(input, random, 2048)) {
    let summary: S;
    try {
      summary = drive(fresh(chunks));
    } catch (error) {
      throw new Error(`[${label}] ${error instanceof Error ? error.message : String(error)}`);
    }
    if (whole === undefined) whole = summary;
    else assert.deepEqual(summary, whole, `[${label}] differs from the whole input`);
  }
  return whole!;
}

// ── FrameDecoder ──────────────────────────────────────────────────────────────────────────────────────

interface FrameSummary {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: string | undefined;
  readonly length: number;
  readonly headerLength: number;
  payload: string;
  ended: boolean;
}

interface DecoderSummary {
  readonly frames: FrameSummary[];
  error: { code: string; closeCode: number; message: string } | undefined;
}

function driveDecoder(chunks: readonly Uint8Array[], params: WebSocketParams): DecoderSummary {
  const decoder = new FrameDecoder({ role: params.role, maxPayloadBytes: params.maxBytes });
  const summary: DecoderSummary = { frames: [], error: undefined };
  let bytes = 0;
  let calls = 0;
  let received = 0;
  outer: for (const chunk of chunks) {
    bytes += chunk.length;
    decoder.receive(chunk);
    for (;;) {
      calls++;
      assert.ok(calls <= 3 * (bytes + chunks.length) + 16, `next() called ${calls} times for ${bytes} bytes: the decoder does not terminate`);
      const event = decoder.next();
      if (event.type === 'need-data') {
        assert.ok(decoder.bufferedBytes < MAX_HEADER_BYTES, `holds ${decoder.bufferedBytes} bytes while waiting`);
        continue outer;
      }
      if (event.type === 'error') {
        const error = checkError(event.error);
        assert.equal(decoder.next(), event, 'errors are sticky');
        summary.error = { code: error.code, closeCode: error.closeCode, message: error.message };
        break outer;
      }
      if (event.type === 'header') {
        const { header } = event;
        assert.ok(header.payloadLength <= params.maxBytes, `a ${header.payloadLength}-byte frame passed the ${params.maxBytes}-byte cap`);
        if (header.opcode >= 0x8) assert.ok(header.payloadLength <= MAX_CONTROL_PAYLOAD_BYTES, 'control frames carry at most 125 bytes');
        summary.frames.push({
          fin: header.fin, opcode: header.opcode, mask: header.mask && hex(header.mask), length: header.payloadLength,
          headerLength: header.headerLength, payload: '', ended: false,
        });
        received = 0;
      } else if (event.type === 'payload') {
        const current = summary.frames.at(-1)!;
        assert.ok(event.data.length > 0, 'payload events are never empty');
        received += event.data.length;
        assert.ok(received <= current.length, 'no more payload than the header declared');
        current.payload += hex(event.data);
      } else {
        const current = summary.frames.at(-1)!;
        assert.equal(received, current.length, 'a frame ends after exactly its declared payload');
        current.ended = true;
      }
    }
  }
  return summary;
}

export const frameDecoderTarget: FuzzTarget<WebSocketParams> = {
  name: 'frame-decoder',
  generate,
  check(input, params, random) {
    const whole = everyWay(input, random, (chunks) => driveDecoder(chunks, params));
    return whole.error ? whole.error.code : `ok:${Math.min(whole.frames.length, 5)}`;
  },
};

// ── WebSocketProtocol ─────────────────────────────────────────────────────────────────────────────────

type EventSummary =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'binary' | 'ping' | 'pong'; readonly hex: string }
  | { readonly type: 'close'; readonly code: number; readonly reason: string }
  | { readonly type: 'error'; readonly code: string; readonly closeCode: number; readonly message: string };

interface ProtocolSummary {
  readonly events: EventSummary[];
  state: string;
}

function driveProtocol(chunks: readonly Uint8Array[], params: WebSocketParams): ProtocolSummary {
  const protocol = new WebSocketProtocol({ role: params.role, maxMessageBytes: params.maxBytes });
  const summary: ProtocolSummary = { events: [], state: '' };
  let bytes = 0;
  let calls = 0;
  let failed = false;
  const pump = (): void => {
    for (;;) {
      calls++;
      assert.ok(calls <= 3 * (bytes + chunks.length) + 16, `next() called ${calls} times for ${bytes} bytes: the protocol does not terminate`);
      const event = protocol.next();
      switch (event.type) {
        case 'need-data':
          return;
        case 'text':
          assert.ok(Buffer.byteLength(event.text) <= params.maxBytes, 'no message beyond the cap');
          summary.events.push({ type: 'text', text: event.text });
          break;
        case 'binary':
          assert.ok(event.data.length <= params.maxBytes, 'no message beyond the cap');
          summary.events.push({ type: 'binary', hex: hex(event.data) });
          break;
        case 'ping':
        case 'pong':
          assert.ok(event.data.length <= MAX_CONTROL_PAYLOAD_BYTES);
          summary.events.push({ type: event.type, hex: hex(event.data) });
          break;
        case 'close':
          assert.ok(event.code === 1005 || isValidCloseCode(event.code), `close code ${event.code}`);
          summary.events.push({ type: 'close', code: event.code, reason: event.reason });
          break;
        case 'error': {
          const error = checkError(event.error);
          assert.equal(protocol.next(), event, 'errors are sticky');
          summary.events.push({ type: 'error', code: error.code, closeCode: error.closeCode, message: error.message });
          failed = true;
          return;
        }
      }
    }
  };
  for (const chunk of chunks) {
    bytes += chunk.length;
    protocol.receive(chunk);
    if (!failed) pump();
  }
  if (params.end) {
    protocol.receiveEnd();
    if (!failed) pump();
  }
  summary.state = protocol.state;
  return summary;
}

export const webSocketProtocolTarget: FuzzTarget<WebSocketParams> = {
  name: 'websocket',
  generate,
  check(input, params, random) {
    const whole = everyWay(input, random, (chunks) => driveProtocol(chunks, params));
    const last = whole.events.at(-1);
    return last?.type === 'error' ? last.code : last?.type === 'close' ? 'ok:close' : `ok:${Math.min(whole.events.length, 5)}`;
  },
};
