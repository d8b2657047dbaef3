/**
 * Generators of valid streams, the seeds the mutators start from: HTTP/1.1 request pipelines (methods,
 * target forms, fields, Content-Length and chunked bodies with extensions and trailers) and WebSocket
 * frame streams (masked or not, messages fragmented at any byte — inside UTF-8 characters too — with
 * control frames between fragments, payload lengths at the 7/16/64-bit encoding edges, a Close at the end).
 * Frames are built by the reference encoder of the WebSocket tests (wire.ts), not by the code under test.
 */
import type { Random } from './engine.js';
import { frame } from '../protocols/websocket/wire.js';

const latin1 = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));
const utf8 = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'utf8'));
const concat = (parts: readonly Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

// ── HTTP/1.1 (RFC 9112) ───────────────────────────────────────────────────────────────────────────────

const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND', 'M-SEARCH'];
const TCHAR = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&\'*+-.^_`|~';
const PCHAR = 'abcdefghijklmnopqrstuvwxyz0123456789-._~!$&\'()*+,;=:@';
const FIELD_NAMES = ['Accept', 'User-Agent', 'X-Test', 'Cookie', 'Cache-Control', 'Accept-Encoding', 'If-None-Match', 'X-Forwarded-For', 'Via', 'Origin'];

const HOSTCHAR = 'abcdefghijklmnopqrstuvwxyz0123456789-';
const token = (random: Random, min = 1, max = 12): string => Array.from({ length: random.range(min, max) }, () => random.pick([...TCHAR])).join('');
/** A reg-name label (RFC 3986 §3.2.2), the part of a host name this generator varies. */
const label = (random: Random): string => `h${Array.from({ length: random.range(0, 9) }, () => random.pick([...HOSTCHAR])).join('')}`;

function target(random: Random, method: string): string {
  if (method === 'CONNECT') return `${label(random)}.example:${random.range(1, 65535)}`;
  if (method === 'OPTIONS' && random.chance(0.3)) return '*';
  const segment = (): string => Array.from({ length: random.range(0, 8) }, () => random.pick([...PCHAR])).join('');
  const path = `/${Array.from({ length: random.range(0, 4) }, segment).join('/')}`;
  const query = random.chance(0.3) ? `?${segment()}=${segment()}&x=%2F/?` : '';
  if (random.chance(0.15)) return `http://${label(random)}.example${random.chance(0.5) ? `:${random.range(1, 65535)}` : ''}${path}${query}`;
  return path + query;
}

/** A field value: visible ASCII with inner spaces and tabs, sometimes obs-text (RFC 9110 §5.5). */
function fieldValue(random: Random): string {
  const length = random.range(0, 40);
  let value = '';
  for (let i = 0; i < length; i++) {
    const r = random.next();
    value += r < 0.85 ? String.fromCharCode(random.range(0x21, 0x7e)) : r < 0.95 ? random.pick([' ', '\t']) : String.fromCharCode(random.range(0x80, 0xff));
  }
  return value.trim();
}

function chunkedBody(random: Random): string {
  let body = '';
  for (let i = random.range(0, 4); i > 0; i--) {
    const data = Array.from({ length: random.range(1, 80) }, () => String.fromCharCode(random.int(256))).join('');
    let size = data.length.toString(16);
    if (random.chance(0.3)) size = size.toUpperCase();
    if (random.chance(0.1)) size = `0${size}`;
    const ext = random.chance(0.2) ? random.pick([';a=b', ';q="x y"', ';ext', ' ;n=1']) : '';
    body += `${size}${ext}\r\n${data}\r\n`;
  }
  body += random.chance(0.1) ? '0;last\r\n' : '0\r\n';
  if (random.chance(0.2)) body += `${random.pick(FIELD_NAMES)}: ${fieldValue(random)}\r\n`;
  return `${body}\r\n`;
}

/** One valid request, as latin1 text (each char one byte). */
function request(random: Random): string {
  const method = random.pick(METHODS);
  const version = random.chance(0.85) ? '1.1' : '1.0';
  const lines = [`${method} ${target(random, method)} HTTP/${version}`];
  const fields: string[] = [];
  if (version === '1.1' || random.chance(0.5)) fields.push(`Host: ${label(random)}.example`);
  for (let i = random.range(0, 5); i > 0; i--) {
    fields.push(`${random.chance(0.7) ? random.pick(FIELD_NAMES) : token(random)}:${random.pick([' ', '', '  ', '\t'])}${fieldValue(random)}${random.pick(['', '', ' ', '\t'])}`);
  }
  if (random.chance(0.2)) fields.push(`Connection: ${random.pick(['keep-alive', 'close', 'upgrade', 'Upgrade, keep-alive'])}`);
  if (random.chance(0.1)) fields.push(`Upgrade: ${random.pick(['websocket', 'echo', 'h2c, websocket'])}`);
  if (random.chance(0.1)) fields.push('Expect: 100-continue');
  let body = '';
  const kind = method === 'GET' || method === 'HEAD' || method === 'CONNECT' ? random.pick(['none', 'none', 'none', 'length']) : random.pick(['none', 'length', 'chunked']);
  if (kind === 'length') {
    body = Array.from({ length: random.range(0, 120) }, () => String.fromCharCode(random.int(256))).join('');
    fields.push(`Content-Length: ${body.length}`);
  } else if (kind === 'chunked' && version === '1.1') {
    fields.push('Transfer-Encoding: chunked');
    body = chunkedBody(random);
  }
  // Field order is free (RFC 9110 §5.3): shuffle, so framing fields are not always last.
  for (let i = fields.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  return `${[...lines, ...fields].join('\r\n')}\r\n\r\n${body}`;
}

/** A pipeline of 1-3 valid requests, sometimes after the empty lines a server must skip (RFC 9112 §2.2). */
export function httpStream(random: Random): Uint8Array {
  let text = random.chance(0.1) ? '\r\n'.repeat(random.range(1, 2)) : '';
  for (let i = random.range(1, 3); i > 0; i--) text += request(random);
  return latin1(text);
}

/** Protocol tokens for the mutators: framing fields, bad lengths, line ends, chunk syntax. */
export const HTTP_DICTIONARY: readonly Uint8Array[] = [
  '\r\n', '\n', '\r', '\r\n\r\n', ' ', '\t', ':', ': ', ',', ';', '"', '\0', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0',
  'Content-Length: ', 'Content-Length: 5\r\n', 'Content-Length: -1\r\n', 'Content-Length: +5\r\n', 'Content-Length: 5, 6\r\n',
  'Transfer-Encoding: chunked\r\n', 'Transfer-Encoding: identity\r\n', 'Host: a\r\n', 'Host: \r\n',
  '0\r\n\r\n', 'ffffffffffffffff\r\n', '5;x=\r\n', '\r\n ', ' \r\n', 'GET / HTTP/1.1\r\n', 'Expect: 100-continue\r\n',
  'Connection: upgrade\r\nUpgrade: websocket\r\n', '%00', '\x80\xff', '/../', 'http://', '*',
].map(latin1);

// ── WebSocket (RFC 6455 §5) ───────────────────────────────────────────────────────────────────────────

export type Role = 'server' | 'client';

const TEXTS = ['hi', 'Hello', '', 'é', '€ sign', '𝄞 clef', 'mixed ascii ✓ and 日本語', '\u0000nul', 'x'.repeat(200)];
/** Lengths at the 7/16/64-bit length-encoding edges (§5.2), the large ones rarely. */
const EDGE_LENGTHS = [0, 1, 124, 125, 126, 127, 128, 1000];
const RARE_EDGE_LENGTHS = [65535, 65536];
const CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999];

function payloadLength(random: Random): number {
  const r = random.next();
  if (r < 0.6) return random.range(0, 40);
  if (r < 0.98) return random.pick(EDGE_LENGTHS);
  return random.pick(RARE_EDGE_LENGTHS);
}

/** A control frame that may sit between fragments (§5.4): ping or pong with up to 125 bytes. */
function controlFrame(random: Random, mask: () => Uint8Array | undefined): Uint8Array {
  const payload = random.bytes(random.chance(0.7) ? random.range(0, 10) : random.pick([124, 125]));
  const m = mask();
  return frame({ opcode: random.pick([0x9, 0xa]), payload, ...(m ? { mask: m } : {}) });
}

/** Cuts `payload` into `n` pieces at random offsets (inside a UTF-8 character is fine, §5.6). */
function fragments(random: Random, payload: Uint8Array, n: number): Uint8Array[] {
  const cuts = Array.from({ length: n - 1 }, () => random.int(payload.length + 1)).sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, payload.length]) {
    pieces.push(payload.subarray(from, cut));
    from = cut;
  }
  return pieces;
}

/**
 * A stream of 1-5 messages (text or binary, fragmented into 1-4 frames, controls between fragments) and
 * sometimes a Close. Frames from a client are masked (`role` is the receiving side: 'server').
 */
export function webSocketStream(random: Random, role: Role): Uint8Array {
  const mask = (): Uint8Array | undefined => (role === 'server' ? random.bytes(4) : undefined);
  const frames: Uint8Array[] = [];
  for (let m = random.range(1, 5); m > 0; m--) {
    if (random.chance(0.2)) frames.push(controlFrame(random, mask));
    const text = random.chance(0.5);
    const payload = text
      ? utf8(random.chance(0.7) ? random.pick(TEXTS) : random.pick(TEXTS).repeat(random.range(1, 4)))
      : random.bytes(payloadLength(random));
    const pieces = fragments(random, payload, random.chance(0.6) ? 1 : random.range(2, 4));
    pieces.forEach((piece, i) => {
      const m = mask();
      frames.push(frame({ fin: i === pieces.length - 1, opcode: i === 0 ? (text ? 0x1 : 0x2) : 0x0, payload: piece, ...(m ? { mask: m } : {}) }));
      if (i < pieces.length - 1 && random.chance(0.3)) frames.push(controlFrame(random, mask));
    });
  }
  if (random.chance(0.3)) {
    const code = random.pick(CLOSE_CODES);
    const reason = utf8(random.pick(['', 'bye', 'going away ✓']));
    const payload = random.chance(0.1) ? new Uint8Array(0) : concat([Uint8Array.of(code >> 8, code & 0xff), reason]);
    const m = mask();
    frames.push(frame({ opcode: 0x8, payload, ...(m ? { mask: m } : {}) }));
  }
  return concat(frames);
}

/** Protocol tokens for the mutators: header bytes, every length form, huge and non-minimal lengths. */
export const WEBSOCKET_DICTIONARY: readonly Uint8Array[] = [
  [0x81], [0x82], [0x80], [0x01], [0x00], [0x88], [0x89], [0x8a], [0x8b], [0x83], [0xc1], [0x91], [0x09],
  [0x7d], [0x7e], [0x7f], [0xfd], [0xfe], [0xff],
  [0x7e, 0x00, 0x7d], [0x7e, 0xff, 0xff], [0xfe, 0x00, 0x00],
  [0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff],
  [0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00],
  [0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x7f, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0xff, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00],
  [0x03, 0xe8], [0x03, 0xed], [0x03, 0xee], [0x0b, 0xb8], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82],
].map((bytes) => Uint8Array.from(bytes));
