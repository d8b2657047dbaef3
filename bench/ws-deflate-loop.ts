/**
 * The permessage-deflate echo client (RFC 7692), the same one against every server it is compared on
 * (switchyard with and without the extension, `ws` with `perMessageDeflate`): run by bench/load.ts.
 *
 * How it works:
 * - The handshake offers `permessage-deflate; client_max_window_bits` (what browsers send) and parses
 *   the 101's `Sec-WebSocket-Extensions` itself; a server that declines gets plain frames.
 * - Messages come from a pool of distinct payloads of one size (`poolCount`: at least 128 KiB of them),
 *   sent in turn (JSON-like text, or random bytes as binary). Distinct, and more than any window holds,
 *   because with context takeover a message whose copy is still in the window compresses to almost
 *   nothing, which no real stream does.
 * - Outgoing frames are compressed with the project's own codec (PerMessageDeflate, client role, the
 *   agreed parameters). The client's compressor state is a function of the last 2^bits bytes it sent, so
 *   once the pool has gone round and the window is full the compressed frames repeat with the pool's
 *   period: the client compresses `warm-up + pool` messages once, shares those masked frames among all
 *   connections and replays them, so its CPU goes to the server's echoes, not to deflating.
 * - Incoming echoes are parsed (any fragmentation), inflated with one codec per connection (the server's
 *   compressor keeps context per connection) and compared with the payload that was sent: every echo is
 *   verified, compressed or not.
 * - Each connection keeps `window` messages in flight and stops at a deadline or after `messages`.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { PerMessageDeflate, type DeflateSetup } from '../src/protocols/websocket/permessage-deflate.js';

export type PayloadKind = 'json' | 'random';

/**
 * Distinct messages per pool: at least 16, and at least 128 KiB of them (four times the largest LZ77
 * window), so a message never finds its own earlier copy in a compressor's window.
 */
export function poolCount(size: number): number {
  return Math.max(16, Math.ceil((128 << 10) / Math.max(size, 1)));
}

/** A deterministic PRNG (mulberry32), so JSON payloads are the same in every run and process. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november'];
const STATES = ['pending', 'active', 'suspended', 'closed'];

/**
 * JSON-like text of exactly `size` bytes: an array of records of the shape an API or a chat feed sends
 * (ids, names, timestamps, prices, tags, flags), different values in every record and every message.
 */
export function jsonPayload(size: number, seed: number): Buffer {
  const random = prng(seed * 7919 + size);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  let text = '[';
  while (text.length < size) {
    const id = Math.floor(random() * 1e7);
    const record = {
      id,
      user: `user-${Math.floor(random() * 1e5)}`,
      ts: new Date(1.7e12 + Math.floor(random() * 1e10)).toISOString(),
      price: Math.round(random() * 1e6) / 100,
      qty: Math.floor(random() * 500),
      state: pick(STATES),
      tags: [pick(WORDS), pick(WORDS)],
      active: random() < 0.5,
      note: `${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)}`,
    };
    text += (text.length > 1 ? ',' : '') + JSON.stringify(record);
  }
  return Buffer.from(text.slice(0, size), 'latin1');
}

export function payloadPool(kind: PayloadKind, size: number, count = poolCount(size)): Buffer[] {
  return Array.from({ length: count }, (_, i) => (kind === 'json' ? jsonPayload(size, i + 1) : randomBytes(size)));
}

/** The agreed parameters from a 101's `Sec-WebSocket-Extensions`, or undefined when the server declined. */
export function parseDeflateResponse(value: string | undefined): DeflateSetup['params'] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const [name, ...params] = value.split(';').map((s) => s.trim());
  if (name?.toLowerCase() !== 'permessage-deflate') throw new Error(`unexpected extension ${value}`);
  const out = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
  for (const param of params) {
    const [key, raw] = param.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    switch (key?.toLowerCase()) {
      case 'server_no_context_takeover': out.serverNoContextTakeover = true; break;
      case 'client_no_context_takeover': out.clientNoContextTakeover = true; break;
      case 'server_max_window_bits': out.serverMaxWindowBits = Number(raw); break;
      case 'client_max_window_bits': out.clientMaxWindowBits = Number(raw); break;
      default: throw new Error(`unexpected parameter in ${value}`);
    }
  }
  return out;
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const HANDSHAKE = Buffer.from(`GET /echo HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n`);

/** One upgraded connection: the socket, bytes after the 101, and the agreed parameters (none: declined). */
export interface DeflateConnection { socket: Socket; rest: Buffer; params: DeflateSetup['params'] | undefined }

export async function openDeflate(port: number, offer = true): Promise<DeflateConnection> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true }, () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
  socket.write(offer ? HANDSHAKE : Buffer.from(HANDSHAKE.toString('latin1').replace(/Sec-WebSocket-Extensions:[^\r]*\r\n/, ''), 'latin1'));
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const text = head.subarray(0, end).toString('latin1');
      if (!text.startsWith('HTTP/1.1 101')) { reject(new Error(`no 101: ${text.slice(0, 60)}`)); return; }
      const extensions = /\r\nsec-websocket-extensions: *([^\r]*)/i.exec(text)?.[1];
      try {
        resolve({ socket, rest: head.subarray(end + 4), params: offer ? parseDeflateResponse(extensions) : undefined });
      } catch (error) { reject(error); }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** The client's own compression: level 1, memLevel 8, every message compressed (browsers have no threshold). */
export function clientSetup(params: DeflateSetup['params']): DeflateSetup {
  return { params, level: 1, memLevel: 8, thresholdBytes: 0, maxBytes: Number.MAX_SAFE_INTEGER };
}

const MASK = Buffer.from([0x12, 0x34, 0x56, 0x78]);

/** A masked client frame: FIN, the opcode, RSV1 when compressed. */
export function clientFrame(opcode: number, payload: Uint8Array, compressed: boolean): Buffer {
  const size = payload.length;
  const first = 0x80 | (compressed ? 0x40 : 0) | opcode;
  let header: Buffer;
  if (size < 126) header = Buffer.from([first, 0x80 | size]);
  else if (size < 65536) header = Buffer.from([first, 0x80 | 126, size >> 8, size & 0xff]);
  else { header = Buffer.alloc(10); header[0] = first; header[1] = 0x80 | 127; header.writeBigUInt64BE(BigInt(size), 2); }
  const masked = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) masked[i] = payload[i]! ^ MASK[i & 3]!;
  return Buffer.concat([header, MASK, masked]);
}

/**
 * The frames message i is sent as, shared by all connections of one run (same pool, same agreed
 * parameters). Computed by running one client compressor through the sequence until it repeats.
 */
export class OutgoingFrames {
  readonly #frames: Buffer[] = [];
  readonly #wire: number[] = [];
  readonly #pool: Buffer[];
  readonly #opcode: number;
  readonly #codec: PerMessageDeflate | undefined;
  /** After this many messages the client compressor's dictionary (its last 2^bits bytes) has the pool's period. */
  readonly #warm: number;

  constructor(pool: Buffer[], opcode: number, params: DeflateSetup['params'] | undefined) {
    this.#pool = pool;
    this.#opcode = opcode;
    this.#codec = params === undefined ? undefined : new PerMessageDeflate(clientSetup(params), 'client');
    const size = pool[0]!.length;
    const bits = params?.clientMaxWindowBits ?? 15;
    this.#warm = params === undefined || params.clientNoContextTakeover ? 0 : Math.ceil((1 << bits) / Math.max(size, 1)) + 1;
  }

  #index(i: number): number {
    const period = this.#pool.length;
    return i < this.#warm + period ? i : this.#warm + ((i - this.#warm) % period);
  }

  /** The masked frame for message i (i counts from 0 on every connection). */
  frame(i: number): Buffer {
    const at = this.#index(i);
    while (this.#frames.length <= at) {
      const payload = this.#pool[this.#frames.length % this.#pool.length]!;
      if (this.#codec === undefined) {
        this.#frames.push(clientFrame(this.#opcode, payload, false));
        this.#wire.push(payload.length);
      } else {
        // The codec may decline a message that would not shrink (then it goes out plain, RSV1 clear).
        const compressed: Uint8Array | undefined = this.#codec.compress(payload);
        this.#frames.push(clientFrame(this.#opcode, compressed ?? payload, compressed !== undefined));
        this.#wire.push((compressed ?? payload).length);
      }
    }
    return this.#frames[at]!;
  }

  /** Payload bytes on the wire for message i (compressed size, or the plain size). */
  wireBytes(i: number): number {
    this.frame(i);
    return this.#wire[this.#index(i)]!;
  }
}

/**
 * The server → client direction of one connection: frames parsed however they are chunked, messages
 * joined across continuation frames, inflated when RSV1 was set. `onMessage` gets the whole payload.
 */
export class IncomingMessages {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #parts: Buffer[] = [];
  #compressed = false;
  readonly #codec: PerMessageDeflate | undefined;
  readonly #onMessage: (payload: Uint8Array, wireBytes: number) => void;
  readonly #onError: (reason: string) => void;

  constructor(params: DeflateSetup['params'] | undefined, onMessage: (payload: Uint8Array, wireBytes: number) => void, onError: (reason: string) => void) {
    this.#codec = params === undefined ? undefined : new PerMessageDeflate(clientSetup(params), 'client');
    this.#onMessage = onMessage;
    this.#onError = onError;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#buffered < 2) return;
      // The header needs at most 10 bytes: join chunks only when the first is shorter than that.
      const head = this.#chunks.length === 1 || this.#chunks[0]!.length >= 10 ? this.#chunks[0]! : this.#flatten();
      const b0 = head[0]!;
      let length = head[1]! & 0x7f;
      let offset = 2;
      if (length === 126) { if (this.#buffered < 4) return; length = head.readUInt16BE(2); offset = 4; }
      else if (length === 127) { if (this.#buffered < 10) return; length = Number(head.readBigUInt64BE(2)); offset = 10; }
      if (head[1]! & 0x80) { this.#onError('masked server frame'); return; }
      if (this.#buffered < offset + length) return;
      const all = this.#flatten();
      const payload = all.subarray(offset, offset + length);
      const restBytes = all.subarray(offset + length);
      this.#chunks = restBytes.length > 0 ? [restBytes] : [];
      this.#buffered = restBytes.length;
      const opcode = b0 & 0x0f;
      if (opcode >= 8) continue; // control frames: none expected from an echo server; skip
      if (opcode !== 0) this.#compressed = (b0 & 0x40) !== 0;
      this.#parts.push(payload);
      if ((b0 & 0x80) === 0) continue;
      const whole = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      this.#parts = [];
      if (this.#compressed) {
        if (this.#codec === undefined) { this.#onError('RSV1 without the extension'); return; }
        const inflated = this.#codec.decompress(whole, 1 << 26);
        if (!(inflated instanceof Uint8Array)) { this.#onError(inflated.message); return; }
        this.#onMessage(inflated, whole.length);
      } else {
        this.#onMessage(whole, whole.length);
      }
    }
  }

  #flatten(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!;
  }
}

export interface DeflateEchoPlan {
  kind: PayloadKind;
  size: number;
  window: number;
  deadline?: number;
  messages?: number;
}

export interface DeflateEchoResult {
  operations: number; errors: number; seconds: number;
  /** Payload bytes echoed (uncompressed), and payload bytes on the wire each way. */
  bytes: number; wireOut: number; wireIn: number;
  /** Whether the server agreed to permessage-deflate, and the windows it agreed to. */
  deflate: number; serverBits: number; clientBits: number;
}

/** Run the plan on every connection at once; resolves when each has received all it sent. */
export async function runDeflateEcho(conns: readonly DeflateConnection[], plan: DeflateEchoPlan, pool: Buffer[]): Promise<DeflateEchoResult> {
  const params = conns[0]?.params;
  const opcode = plan.kind === 'json' ? 0x1 : 0x2;
  const outgoing = new OutgoingFrames(pool, opcode, params);
  const deadline = plan.deadline ?? Infinity;
  const limit = plan.messages ?? Infinity;
  let done = 0;
  let errors = 0;
  let wireOut = 0;
  let wireIn = 0;
  const started = performance.now();
  await Promise.all(conns.map(({ socket, rest, params: p }) => new Promise<void>((resolve) => {
    let sent = 0;
    let received = 0;
    let stopping = false;
    const finish = (): void => { socket.destroy(); resolve(); };
    const send = (): void => {
      if (sent >= limit || performance.now() >= deadline) { stopping = true; if (sent === received) finish(); return; }
      wireOut += outgoing.wireBytes(sent);
      socket.write(outgoing.frame(sent));
      sent++;
    };
    const incoming = new IncomingMessages(p, (payload, wire) => {
      const expected = pool[received % pool.length]!;
      if (payload.length !== expected.length || expected.compare(payload) !== 0) errors++;
      wireIn += wire;
      received++;
      done++;
      if (!stopping) send(); else if (sent === received) finish();
    }, () => { errors++; finish(); });
    socket.on('data', (chunk: Buffer) => incoming.push(chunk));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    if (rest.length > 0) incoming.push(rest);
    for (let i = 0; i < plan.window && !stopping; i++) send();
  })));
  return {
    operations: done, errors, seconds: (performance.now() - started) / 1000, bytes: done * plan.size, wireOut, wireIn,
    deflate: params === undefined ? 0 : 1, serverBits: params?.serverMaxWindowBits ?? 0, clientBits: params?.clientMaxWindowBits ?? 0,
  };
}
