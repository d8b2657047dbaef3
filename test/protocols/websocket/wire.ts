/**
 * Test helpers for the WebSocket layer: hex in and out, an independent reference frame builder (so the
 * decoder is not only tested against our own encoder, and so broken frames can be built), drivers that
 * feed chunks and drain events, split plans for large inputs, and a RequestHead builder.
 */
import type { ProtocolError } from '../../../src/errors.js';
import type { Field, RequestHead } from '../../../src/http/request-head.js';
import { FrameDecoder, type FrameDecoderOptions, type FrameHeader } from '../../../src/protocols/websocket/frame-codec.js';
import {
  WebSocketProtocol,
  type WebSocketEvent,
  type WebSocketProtocolOptions,
} from '../../../src/protocols/websocket/protocol.js';
import { splits } from '../../helpers/split.js';

export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

export const utf8 = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'utf8'));

/** Deterministic bytes: i * 31 + 7 mod 256. */
export function pattern(length: number, seed = 7): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

export interface RawFrame {
  fin?: boolean;
  /** Bits 0b100 = RSV1, 0b010 = RSV2, 0b001 = RSV3. */
  rsv?: number;
  opcode: number;
  payload?: Uint8Array;
  mask?: Uint8Array;
  /** Force the length encoding (for non-minimal tests); by default the minimal one. */
  lengthForm?: 7 | 16 | 64;
  /** Write this length instead of the payload's (for lying headers). */
  declaredLength?: number | bigint;
}

/** A reference encoder written straight from the §5.2 diagram, independent of src. */
export function frame(spec: RawFrame): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const length = BigInt(spec.declaredLength ?? payload.length);
  const form = spec.lengthForm ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const maskBit = spec.mask ? 0x80 : 0;
  if (form === 7) head.push(maskBit | Number(length));
  else if (form === 16) head.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn));
  }
  const body = Uint8Array.from(payload);
  if (spec.mask) {
    head.push(...spec.mask);
    for (let i = 0; i < body.length; i++) body[i]! ^= spec.mask[i % 4]!;
  }
  return concat(Uint8Array.from(head), body);
}

export const MASK = hex('37 fa 21 3d');

/**
 * Fresh copies of the chunks: the decoder unmasks in place and keeps views, so the same source bytes
 * must never be handed over twice.
 */
export function copies(chunks: readonly Uint8Array[]): Uint8Array[] {
  return chunks.map((chunk) => Uint8Array.from(chunk));
}

export interface DecodedFrame {
  header: FrameHeader;
  payload: Uint8Array;
  /** Number of payload events that made up the payload. */
  pieces: number;
}

export interface DecodeRun {
  frames: DecodedFrame[];
  error: ProtocolError | undefined;
  /** Bytes still buffered at the end. */
  buffered: number;
  /** A header whose frame had not ended when the input ran out. */
  partial: DecodedFrame | undefined;
}

/** Feeds each chunk (a fresh copy) and drains events after each; stops at the first error. */
export function decode(chunks: readonly Uint8Array[], options: FrameDecoderOptions, decoder = new FrameDecoder(options)): DecodeRun {
  const frames: DecodedFrame[] = [];
  let current: { header: FrameHeader; parts: Uint8Array[] } | undefined;
  let error: ProtocolError | undefined;
  outer: for (const chunk of copies(chunks)) {
    decoder.receive(chunk);
    for (;;) {
      const event = decoder.next();
      if (event.type === 'need-data') break;
      if (event.type === 'error') {
        error = event.error;
        break outer;
      }
      if (event.type === 'header') current = { header: event.header, parts: [] };
      else if (event.type === 'payload') current!.parts.push(Uint8Array.from(event.data));
      else {
        frames.push({ header: current!.header, payload: concat(...current!.parts), pieces: current!.parts.length });
        current = undefined;
      }
    }
  }
  const partial = current && { header: current.header, payload: concat(...current.parts), pieces: current.parts.length };
  return { frames, error, buffered: decoder.bufferedBytes, partial };
}

/** Feeds each chunk (a fresh copy) and drains events after each, until an error. `end` sends receiveEnd. */
export function run(
  chunks: readonly Uint8Array[],
  options: WebSocketProtocolOptions,
  { end = false, protocol = new WebSocketProtocol(options) }: { end?: boolean; protocol?: WebSocketProtocol } = {},
): WebSocketEvent[] {
  const events: WebSocketEvent[] = [];
  const drain = (): boolean => {
    for (;;) {
      const event = protocol.next();
      if (event.type === 'need-data') return true;
      events.push(event);
      if (event.type === 'error') return false;
    }
  };
  for (const chunk of copies(chunks)) {
    protocol.receive(chunk);
    if (!drain()) return events;
  }
  if (end) {
    protocol.receiveEnd();
    drain();
  }
  return events;
}

/** Events with byte arrays as hex, for deepEqual. */
export function summarize(events: readonly WebSocketEvent[]): unknown[] {
  return events.map((event) => {
    switch (event.type) {
      case 'binary':
      case 'ping':
      case 'pong':
        return { type: event.type, hex: toHex(event.data) };
      case 'error':
        return { type: 'error', code: event.error.code, closeCode: event.error.closeCode };
      default:
        return event;
    }
  });
}

/**
 * The three ways of the split rule for inputs of any size: `splits()` in full when small; for big ones
 * whole, every offset in the first `dense` bytes and the last `dense`, a few in between, and fixed-size
 * chunks.
 */
export function* splitPlan(bytes: Uint8Array, dense = 24): Generator<{ label: string; chunks: Uint8Array[] }> {
  if (bytes.length <= 300) {
    yield* splits(bytes);
    return;
  }
  yield { label: 'whole', chunks: [bytes] };
  const offsets = new Set<number>();
  for (let at = 1; at <= dense; at++) offsets.add(at);
  for (let at = bytes.length - dense; at < bytes.length; at++) offsets.add(at);
  for (const fraction of [0.25, 0.5, 0.75]) offsets.add(Math.floor(bytes.length * fraction) + 1);
  for (const at of offsets) {
    yield { label: `split at ${at}`, chunks: [bytes.subarray(0, at), bytes.subarray(at)] };
  }
  for (const size of [1000, 4099]) {
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
    yield { label: `${size}-byte chunks`, chunks };
  }
}

export interface HeadSpec {
  method?: string;
  target?: string;
  version?: '1.0' | '1.1';
  host?: string;
  fields?: Field[];
}

/** A RequestHead for handshake tests (the real parser is tested elsewhere). */
export function requestHead(spec: HeadSpec = {}): RequestHead {
  const fields: readonly Field[] = spec.fields ?? [];
  const target = spec.target ?? '/chat';
  const getAll = (name: string): string[] =>
    fields.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  const connectionTokens = getAll('connection')
    .flatMap((v) => v.split(','))
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
  const host = spec.host ?? getAll('host')[0] ?? '';
  return {
    method: spec.method ?? 'GET',
    target,
    targetForm: 'origin',
    path: target.split('?')[0]!,
    query: target.includes('?') ? target.slice(target.indexOf('?')) : '',
    version: spec.version ?? '1.1',
    fields,
    host,
    keepAlive: true,
    connectionTokens,
    expectContinue: false,
    body: { kind: 'none' },
    get: (name) => {
      const all = getAll(name);
      return all.length === 0 ? undefined : all.join(', ');
    },
    getAll,
    has: (name) => getAll(name).length > 0,
  };
}

/** The request of RFC 6455 §1.2 / §4.1 with the key of the brief's example, as fields. */
export function rfcHandshakeFields(overrides: Record<string, string | null> = {}): Field[] {
  const base: Record<string, string> = {
    Host: 'server.example.com',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'x3JJHMbDL1EzLkh9GBhXDw==',
    Origin: 'http://example.com',
    'Sec-WebSocket-Protocol': 'chat, superchat',
    'Sec-WebSocket-Version': '13',
  };
  const fields: Field[] = [];
  for (const [name, value] of Object.entries({ ...base, ...overrides })) if (value !== null) fields.push([name, value]);
  return fields;
}
