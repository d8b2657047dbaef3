/**
 * An Autobahn-style fuzzing peer, written from RFC 6455 alone and independent of src/: it does its own
 * opening handshake (accept value from node:crypto), builds masked client frames byte by byte (so it can
 * build broken ones), parses the server's frames with its own parser (UTF-8 checked by a fatal
 * TextDecoder), and behaves like Autobahn|Testsuite's client when the case is over:
 *
 * - it answers a Close from the server with a Close (echoing the code) and then waits for the server to
 *   close TCP; if the server does not within `serverDropMs`, the peer drops it (Autobahn's "FAILED BY
 *   CLIENT": "It is preferred that the server close the TCP connection");
 * - when the case says the peer closes (`closedByMe`), it sends Close 1000 as soon as the events received
 *   match the expected ones (Autobahn's `finishWhenDone`).
 *
 * `runCase` then judges the outcome exactly as Autobahn's `Case.onConnectionLost` does: the events must
 * equal one of the expected lists; the first Close must have come from the expected side; `requireClean`
 * needs a completed closing handshake with TCP closed by the server; the server's close code must be one
 * of those allowed. It is stricter in three ways: a failure must carry its close code (Autobahn also
 * accepts none), the server must never break the protocol itself (masked frames, bad UTF-8, frames after
 * its Close), and nothing is decided by sleeping: where Autobahn waits a second to see that nothing
 * happens, these cases send a ping and wait for its pong, which proves the server processed everything
 * before it.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before } from 'node:test';
import { startLab, type LabOptions } from '../../src/lab.js';
import type { SwitchyardServer } from '../../src/server/server.js';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const bytes = (data: string | Uint8Array): Buffer =>
  typeof data === 'string' ? Buffer.from(utf8.encode(data)) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: string | Uint8Array;
  readonly fin?: boolean;
  /** RSV bits as a 3-bit number: 4 = RSV1, 2 = RSV2, 1 = RSV3 (Autobahn's `rsv`). */
  readonly rsv?: number;
  /** A fixed masking key; by default a fresh random one, as a browser would use. */
  readonly mask?: Uint8Array;
}

/** One client frame, straight from the §5.2 diagram: FIN, RSV, opcode, MASK=1, minimal length, key, payload. */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload = bytes(spec.payload ?? new Uint8Array(0));
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const out = Buffer.allocUnsafe(2 + lengthBytes + 4 + length);
  out[0] = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode;
  if (lengthBytes === 0) out[1] = 0x80 | length;
  else if (lengthBytes === 2) { out[1] = 0x80 | 126; out.writeUInt16BE(length, 2); }
  else { out[1] = 0x80 | 127; out.writeBigUInt64BE(BigInt(length), 2); }
  const key = spec.mask ?? randomKey();
  const at = 2 + lengthBytes;
  out[at] = key[0]!; out[at + 1] = key[1]!; out[at + 2] = key[2]!; out[at + 3] = key[3]!;
  payload.copy(out, at + 4);
  maskInPlace(out, at + 4, key);
  return out;
}

/**
 * §5.3: byte i of the payload is XORed with key[i mod 4]. Big payloads are common here, so the aligned
 * middle goes a 32-bit word at a time: the word is the key rotated to that offset, assembled through a
 * byte view so it is right whatever the platform's byte order.
 */
function maskInPlace(data: Buffer, start: number, key: Uint8Array): void {
  const end = data.length;
  let i = start;
  while (i < end && ((data.byteOffset + i) & 3) !== 0) { data[i] = data[i]! ^ key[(i - start) & 3]!; i++; }
  const words = (end - i) >>> 2;
  if (words > 0) {
    const rotated = new Uint8Array(4);
    for (let b = 0; b < 4; b++) rotated[b] = key[(i - start + b) & 3]!;
    const word = new Uint32Array(rotated.buffer)[0]!;
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ word;
    i += words * 4;
  }
  for (; i < end; i++) data[i] = data[i]! ^ key[(i - start) & 3]!;
}

/** Fresh random masking keys (§5.3: "unpredictable"), drawn from a pool so 65,536 small frames stay cheap. */
let keyPool = Buffer.alloc(0);
let keyAt = 0;
function randomKey(): Buffer {
  if (keyAt + 4 > keyPool.length) { keyPool = randomBytes(4096); keyAt = 0; }
  keyAt += 4;
  return keyPool.subarray(keyAt - 4, keyAt);
}

/** A Close payload: the code as 2 bytes, then the reason (which a case may make invalid on purpose). */
export function closePayload(code?: number, reason: string | Uint8Array = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return Buffer.concat([head, bytes(reason)]);
}

/** What the peer saw, in order, before the server's Close. */
export type PeerEvent =
  | { readonly kind: 'message'; readonly binary: boolean; readonly data: Buffer }
  | { readonly kind: 'ping' | 'pong'; readonly data: Buffer };

export const text = (data: string | Uint8Array): PeerEvent => ({ kind: 'message', binary: false, data: bytes(data) });
export const binary = (data: Uint8Array): PeerEvent => ({ kind: 'message', binary: true, data: bytes(data) });
export const pong = (data: string | Uint8Array = ''): PeerEvent => ({ kind: 'pong', data: bytes(data) });

/** One line per event, payload as hex when short and as a SHA-1 when long, for deepEqual diffs. */
export function summarize(events: readonly PeerEvent[]): string[] {
  return events.map((event) => {
    const kind = event.kind === 'message' ? (event.binary ? 'binary' : 'text') : event.kind;
    const data = event.data.length <= 32 ? event.data.toString('hex') : `sha1:${createHash('sha1').update(event.data).digest('hex')}`;
    return `${kind} ${event.data.length} B ${data}`;
  });
}

export interface PeerOptions {
  readonly path?: string;
  /** How long to wait for the server to close TCP after the closing handshake (Autobahn: 1 s). */
  readonly serverDropMs?: number;
  /** Answer the server's pings (default true); false plays a peer that has stopped responding. */
  readonly answerPings?: boolean;
  /** Answer the server's Close (default true); false plays a peer that never completes the handshake. */
  readonly answerClose?: boolean;
}

export class Peer {
  readonly socket: Socket;
  readonly events: PeerEvent[] = [];
  /** Things the server did that RFC 6455 forbids it; a conformant server leaves this empty. */
  readonly violations: string[] = [];
  /** The server's Close frame: code null when it had no payload. */
  serverClose: { code: number | null; reason: string } | undefined;
  /** Whether the peer sent a Close frame, and whether it did so before the server's. */
  closeSent = false;
  closedByMe: boolean | undefined;
  /** The server closed its half of TCP (FIN) or the connection ended on its side. */
  serverEnded = false;
  tcpClosed = false;
  droppedByMe = false;
  readonly #serverDropMs: number;
  readonly #answerPings: boolean;
  readonly #answerClose: boolean;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #message: { binary: boolean; parts: Buffer[] } | undefined;
  #waiters = new Set<() => void>();

  private constructor(socket: Socket, options: PeerOptions) {
    this.socket = socket;
    this.#serverDropMs = options.serverDropMs ?? 2_000;
    this.#answerPings = options.answerPings ?? true;
    this.#answerClose = options.answerClose ?? true;
    socket.on('data', (chunk: Buffer) => { this.#chunks.push(chunk); this.#buffered += chunk.length; this.#parse(); this.#wake(); });
    socket.on('end', () => { this.serverEnded = true; socket.end(); this.#wake(); });
    socket.on('close', () => { this.tcpClosed = true; this.#wake(); });
    socket.on('error', () => {});
  }

  /** Connect, handshake on `path` (default /echo), and return once the 101 has been verified. */
  static async open(port: number, options: PeerOptions = {}): Promise<Peer> {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.setNoDelay(true); // every write its own segment: chops reach the server as chops
    await once(socket, 'connect');
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET ${options.path ?? '/echo'} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    let head = Buffer.alloc(0);
    for (;;) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) continue;
      const response = head.subarray(0, end).toString('latin1');
      assert.match(response, /^HTTP\/1\.1 101 /, 'the server switches protocols');
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      assert.match(response, new RegExp(`\r\nSec-WebSocket-Accept: ${accept.replace(/[+/]/g, '\\$&')}(\r\n|$)`, 'i'), 'RFC 6455 §4.2.2 accept value');
      const peer = new Peer(socket, options);
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.emit('data', rest);
      return peer;
    }
  }

  /** Write bytes, in pieces of `chop` bytes when given (Autobahn's chopsize). */
  send(data: Uint8Array, chop?: number): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    if (chop === undefined || chop >= data.length) { this.socket.write(data); return; }
    for (let at = 0; at < data.length; at += chop) this.socket.write(data.subarray(at, at + chop));
  }

  sendFrame(spec: FrameSpec & { chop?: number }): void {
    this.send(buildFrame(spec), spec.chop);
  }

  sendClose(code?: number, reason: string | Uint8Array = ''): void {
    this.sendCloseFrame(closePayload(code, reason));
  }

  /** A Close frame with any payload at all, including malformed ones (Autobahn's sendCloseFrame). */
  sendCloseFrame(payload: Uint8Array): void {
    this.closedByMe ??= true;
    this.closeSent = true;
    this.sendFrame({ opcode: OP.CLOSE, payload });
  }

  /** Sends a ping and waits for its pong: proof that the server has processed everything sent before it. */
  async sync(tag: string): Promise<void> {
    this.sendFrame({ opcode: OP.PING, payload: tag });
    await this.until(() => this.events.some((e) => e.kind === 'pong' && e.data.toString() === tag) || this.serverClose !== undefined, `the pong for ${tag}`);
  }

  /** Resolves once `predicate` holds; rejects after `ms` with what was seen so far. */
  async until(predicate: () => boolean, what: string, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0 || this.tcpClosed) {
        if (predicate()) return;
        throw new Error(`${this.tcpClosed ? 'connection closed' : 'timed out'} waiting for ${what}; events ${JSON.stringify(summarize(this.events))}, server close ${JSON.stringify(this.serverClose)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.add(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** The end of a case: wait for the server to close TCP, dropping it ourselves after `serverDropMs`. */
  async finish(): Promise<void> {
    try {
      await this.until(() => this.tcpClosed, 'the server to close TCP', this.#serverDropMs);
    } catch {
      this.droppedByMe = true;
      this.socket.destroy();
      await this.until(() => this.tcpClosed, 'the socket to close', 1_000).catch(() => {});
    }
  }

  /** Autobahn's wasClean: both Close frames passed and the server closed TCP without being made to. */
  get wasClean(): boolean {
    return this.closeSent && this.serverClose !== undefined && this.serverEnded && !this.droppedByMe;
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Take `count` buffered bytes as one Buffer (callers check `#buffered` first). */
  #take(count: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    const taken = all.subarray(0, count);
    const rest = all.subarray(count);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered -= count;
    return taken;
  }

  #peek(count: number): Buffer {
    if (this.#chunks[0]!.length < count) this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
    return this.#chunks[0]!;
  }

  /** The server's frames (§5.2), unmasked as §5.1 requires of a server. */
  #parse(): void {
    while (this.#buffered >= 2) {
      const head = this.#peek(Math.min(this.#buffered, 10));
      const b0 = head[0]!;
      const b1 = head[1]!;
      let length = b1 & 0x7f;
      let headerLength = 2;
      if (length === 126) {
        if (this.#buffered < 4) return;
        length = head.readUInt16BE(2);
        headerLength = 4;
      } else if (length === 127) {
        if (this.#buffered < 10) return;
        length = Number(head.readBigUInt64BE(2));
        headerLength = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) headerLength += 4;
      if (this.#buffered < headerLength + length) return;
      const frame = this.#take(headerLength + length);
      let payload = frame.subarray(headerLength);
      if (masked) {
        this.violations.push('the server masked a frame (§5.1)');
        const key = frame.subarray(headerLength - 4, headerLength);
        payload = Buffer.from(payload.map((b, i) => b ^ key[i & 3]!));
      }
      this.#onFrame((b0 & 0x80) !== 0, (b0 >> 4) & 0x7, b0 & 0x0f, payload);
    }
  }

  #onFrame(fin: boolean, rsv: number, opcode: number, payload: Buffer): void {
    if (this.serverClose !== undefined) {
      this.violations.push(`the server sent opcode ${opcode} after its Close (§5.5.1)`);
      return;
    }
    if (rsv !== 0) this.violations.push(`the server set RSV bits ${rsv} (§5.2)`);
    if (opcode >= 8) {
      if (!fin || payload.length > 125) this.violations.push('the server sent a fragmented or oversized control frame (§5.5)');
      if (opcode === OP.PING) {
        this.events.push({ kind: 'ping', data: payload });
        if (!this.closeSent && this.#answerPings) this.sendFrame({ opcode: OP.PONG, payload });
      } else if (opcode === OP.PONG) {
        this.events.push({ kind: 'pong', data: payload });
      } else if (opcode === OP.CLOSE) {
        this.#onClose(payload);
      } else {
        this.violations.push(`the server sent reserved opcode ${opcode}`);
      }
      return;
    }
    if (opcode === OP.CONT) {
      if (this.#message === undefined) { this.violations.push('the server sent a continuation with no message (§5.4)'); return; }
      this.#message.parts.push(payload);
    } else if (opcode === OP.TEXT || opcode === OP.BINARY) {
      if (this.#message !== undefined) this.violations.push('the server interleaved two messages (§5.4)');
      this.#message = { binary: opcode === OP.BINARY, parts: [payload] };
    } else {
      this.violations.push(`the server sent reserved opcode ${opcode}`);
      return;
    }
    if (!fin) return;
    const { binary: isBinary, parts } = this.#message;
    this.#message = undefined;
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (!isBinary) {
      try { strictUtf8.decode(data); } catch { this.violations.push('the server sent a text message that is not UTF-8 (§8.1)'); }
    }
    this.events.push({ kind: 'message', binary: isBinary, data });
  }

  #onClose(payload: Buffer): void {
    let code: number | null = null;
    let reason = '';
    if (payload.length === 1) this.violations.push('the server sent a 1-byte Close payload (§5.5.1)');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      try { reason = strictUtf8.decode(payload.subarray(2)); } catch { this.violations.push('the server sent a close reason that is not UTF-8'); }
    }
    this.serverClose = { code, reason };
    this.closedByMe ??= false;
    if (!this.closeSent && this.#answerClose) {
      // Answer like Autobahn's client: a Close echoing the code, then wait for the server to close TCP.
      this.closeSent = true;
      const echo = code !== null && code !== 1005 && code !== 1006 && code !== 1015 ? closePayload(code) : Buffer.alloc(0);
      this.sendFrame({ opcode: OP.CLOSE, payload: echo });
    }
  }
}

export interface CaseSpec {
  /** Autobahn case number, e.g. '3.2', for messages. */
  readonly id: string;
  readonly path?: string;
  /** What the peer does once the connection is open (Autobahn's `onOpen`). */
  readonly run: (peer: Peer) => void | Promise<void>;
  /** The events Autobahn's `expected[OK]` lists, in order; [] when nothing may come back. */
  readonly expect: readonly PeerEvent[];
  readonly close: {
    /** Who must send the first Close: the peer (true) or the server failing the connection (false). */
    readonly closedByMe: boolean;
    /** The server's allowed close codes; `null` allows a Close without a code. */
    readonly codes: readonly (number | null)[];
    readonly requireClean: boolean;
  };
}

export interface CaseOutcome {
  readonly events: string[];
  readonly closedByMe: boolean | undefined;
  readonly serverCloseCode: number | null | undefined;
  readonly wasClean: boolean;
  readonly droppedByMe: boolean;
  readonly violations: readonly string[];
}

/** Runs one case against the server on `port` and asserts Autobahn's "OK" (plus the stricter checks above). */
export async function runCase(port: number, spec: CaseSpec): Promise<void> {
  const peer = await Peer.open(port, spec.path === undefined ? {} : { path: spec.path });
  try {
    await spec.run(peer);
    const expected = summarize(spec.expect);
    const matches = (): boolean => peer.events.length >= spec.expect.length && isDeepEqual(summarize(peer.events), expected);
    if (spec.close.closedByMe) {
      // Autobahn's finishWhenDone: once what came back is what was expected, start the closing handshake.
      await peer.until(() => matches() || peer.serverClose !== undefined || peer.closeSent, `case ${spec.id}: the expected events`);
      if (!peer.closeSent) peer.sendClose(1000);
    }
    await peer.until(() => peer.serverClose !== undefined || peer.tcpClosed, `case ${spec.id}: the server's Close`);
    await peer.finish();
  } finally {
    peer.socket.destroy();
  }
  const outcome: CaseOutcome = {
    events: summarize(peer.events),
    closedByMe: peer.closedByMe,
    serverCloseCode: peer.serverClose?.code,
    wasClean: peer.wasClean,
    droppedByMe: peer.droppedByMe,
    violations: peer.violations,
  };
  assert.deepEqual(outcome.events, summarize(spec.expect), `case ${spec.id}: events`);
  assert.deepEqual(outcome.violations, [], `case ${spec.id}: the server itself broke the protocol`);
  assert.equal(outcome.closedByMe, spec.close.closedByMe, `case ${spec.id}: the connection was closed by the wrong endpoint`);
  assert.ok(peer.serverClose !== undefined, `case ${spec.id}: the server sent no Close frame before dropping TCP`);
  assert.ok(spec.close.codes.includes(peer.serverClose.code), `case ${spec.id}: close code ${peer.serverClose.code}, expected one of ${spec.close.codes.join(', ')}`);
  if (spec.close.requireClean) assert.ok(outcome.wasClean, `case ${spec.id}: the closing handshake must complete cleanly`);
  assert.equal(outcome.droppedByMe, false, `case ${spec.id}: the server did not close TCP; the peer had to (FAILED BY CLIENT)`);
  assert.equal(peer.serverEnded, true, `case ${spec.id}: the server closes TCP first (§7.1.1)`);
}

function isDeepEqual(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}

/** Common close expectations. */
export const CLEAN_NORMAL = { closedByMe: true, codes: [1000], requireClean: true } as const;
export const failedWith = (...codes: number[]): CaseSpec['close'] => ({ closedByMe: false, codes, requireClean: false });

/** A lab on 127.0.0.1:0 for one test file: started before its tests, closed after them. */
export function labFixture(options: LabOptions = {}): { readonly port: number; readonly server: SwitchyardServer } {
  let server: SwitchyardServer | undefined;
  before(async () => { server = await startLab({ host: '127.0.0.1', port: 0, ...options }); });
  after(async () => { await server?.close(); });
  return {
    get port() { return server!.port; },
    get server() { return server!; },
  };
}

/** Deterministic bytes (i * 31 + seed mod 256: a 256-byte cycle) and ASCII text of any length, for big messages. */
export function pattern(length: number, seed = 7): Buffer {
  const cycle = Buffer.allocUnsafe(256);
  for (let i = 0; i < 256; i++) cycle[i] = (i * 31 + seed) & 0xff;
  return length === 0 ? Buffer.alloc(0) : Buffer.allocUnsafe(length).fill(cycle);
}

export function asciiText(length: number, unit = 'BAsd7&jh23'): Buffer {
  return length === 0 ? Buffer.alloc(0) : Buffer.allocUnsafe(length).fill(unit, 'latin1');
}
