/**
 * An Autobahn-style fuzzing peer, written from RFC 6455 alone and independent of src/: it does its own
 * opening handshake (accept value from node:crypto), builds masked client frames byte by byte (so it can
 * build broken ones), parses the server's frames with its own parser (UTF-8 checked by a fatal
 * TextDecoder), and behaves like Autobahn|Testsuite's client when the case is over:
 *
 * - it answers a Close from the server with a Close (echoing the code) and then waits for the server to
 *   close TCP; if the server does not within `serverDropMs`, the peer drops it (Autobahn's "FAILED BY
 *   CLIENT": "It is preferred that the server close the TCP connection");
 * - when the case says the peer closes (`closedByMe`), it sends Close 1000 as soon as as many events as
 *   expected have come (Autobahn's `finishWhenDone`; whether they match is judged afterwards).
 *
 * `runCase` then judges the outcome exactly as Autobahn's `Case.onConnectionLost` does: the events must
 * equal one of the expected lists; the first Close must have come from the expected side; `requireClean`
 * needs a completed closing handshake with TCP closed by the server; the server's close code must be one
 * of those allowed. It is stricter in three ways: a failure must carry its close code (Autobahn also
 * accepts none), the server must never break the protocol itself (masked frames, bad UTF-8, frames after
 * its Close), and nothing is decided by sleeping: where Autobahn waits a second to see that nothing
 * happens, these cases send a ping and wait for its pong, which proves the server processed everything
 * before it.
 *
 * permessage-deflate (RFC 7692), written from that RFC alone and with node:zlib directly (never the
 * server's codec): a case may offer extensions (`extensions`, one `Sec-WebSocket-Extensions` line each).
 * The peer checks the server's answer against what it offered (§7: an accepted offer's parameters, and
 * nothing it did not offer), and from then on speaks the extension as a client does:
 *
 * - it compresses with a persistent raw-deflate stream (`createDeflateRaw`, one `Z_SYNC_FLUSH` per
 *   message, the 00 00 ff ff tail removed, §7.2.1), within the agreed `client_max_window_bits`, and
 *   keeps the stream across messages unless `client_no_context_takeover` was agreed (§7.1.1.2, then one
 *   one-shot call per message): a real sliding window, the way browsers compress, not the server's
 *   dictionary technique;
 * - it inflates each compressed server message in one call with the tail restored (§7.2.2), with exactly
 *   the agreed `server_max_window_bits` and, with context takeover, the last 2^bits bytes of what it
 *   inflated before as the preset window, in 64-byte output chunks, so a server that reaches further
 *   back than it agreed (by more than 63 bytes: see MessageInflater), or back into a context it
 *   promised to reset (`server_no_context_takeover`), fails to inflate;
 * - it judges the server's frames strictly: RSV1 only on the first frame of a data message (§6.1), never
 *   on a control frame, never RSV2/RSV3, and every compressed message must inflate (a text one to UTF-8).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { constants as zlibConstants, createDeflateRaw, deflateRawSync, inflateRawSync, type DeflateRaw } from 'node:zlib';
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
  /** `compressed`: the server sent it with RSV1 (permessage-deflate); `data` is then what it inflated to. */
  | { readonly kind: 'message'; readonly binary: boolean; readonly data: Buffer; readonly compressed?: boolean }
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

/** permessage-deflate as agreed (RFC 7692 §7.1): absent window parameters mean 15 bits. */
export interface DeflateAgreement {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
}

/** One extension of a `Sec-WebSocket-Extensions` value: its name and parameters in order (value undefined when bare). */
export interface ExtensionElement {
  readonly name: string;
  readonly params: ReadonlyArray<readonly [string, string | undefined]>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * RFC 6455 §9.1: `extension-list = 1#extension`, `extension = token *( ";" param )`, `param = token
 * [ "=" (token | quoted-string) ]`, and a quoted value must be a token once unquoted. Returns the reason
 * when the value does not follow the grammar.
 */
export function parseExtensionList(value: string): ExtensionElement[] | string {
  const out: ExtensionElement[] = [];
  // Split on commas and semicolons outside quoted strings, keeping which separator came.
  const pieces: { text: string; after: ',' | ';' | 'end' }[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < value.length) { current += c + value[++i]; continue; }
      if (c === '"') quoted = false;
      current += c;
    } else if (c === '"') { quoted = true; current += c; }
    else if (c === ',' || c === ';') { pieces.push({ text: current.trim(), after: c }); current = ''; }
    else current += c;
  }
  if (quoted) return 'an unterminated quoted string';
  pieces.push({ text: current.trim(), after: 'end' });
  if (pieces.every((piece) => piece.text === '' && piece.after !== ';')) return 'no extension at all';
  let element: { name: string; params: [string, string | undefined][] } | undefined;
  for (const { text: piece, after } of pieces) {
    if (element === undefined) {
      // RFC 9110 §5.6.1 (and RFC 2616's #rule before it): empty list elements are allowed and ignored.
      if (piece === '' && after !== ';') continue;
      if (!TOKEN.test(piece)) return `extension name ${JSON.stringify(piece)} is not a token`;
      element = { name: piece, params: [] };
    } else {
      const eq = piece.indexOf('=');
      const name = (eq === -1 ? piece : piece.slice(0, eq)).trim();
      if (!TOKEN.test(name)) return `parameter name ${JSON.stringify(name)} is not a token`;
      let paramValue: string | undefined;
      if (eq !== -1) {
        paramValue = piece.slice(eq + 1).trim();
        if (paramValue.startsWith('"')) {
          if (!paramValue.endsWith('"') || paramValue.length < 2) return `a badly quoted value for ${name}`;
          paramValue = paramValue.slice(1, -1).replace(/\\(.)/g, '$1');
        }
        if (!TOKEN.test(paramValue)) return `the value of ${name} is not a token`;
      }
      element.params.push([name, paramValue]);
    }
    if (after !== ';') { out.push(element); element = undefined; }
  }
  return out;
}

/** §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15, inclusive". */
const WINDOW_BITS = /^(?:8|9|1[0-5])$/;

interface DeflateParamSet {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value (allowed only in an offer, §7.1.2.2). */
  clientMaxWindowBits: number | true | undefined;
}

/** A permessage-deflate element's parameters by RFC 7692 §7's rules, or why they break them. */
function readDeflateParams(element: ExtensionElement): DeflateParamSet | string {
  const out: DeflateParamSet = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: undefined, clientMaxWindowBits: undefined };
  const seen = new Set<string>();
  for (const [rawName, value] of element.params) {
    const name = rawName.toLowerCase();
    // §7: "each extension parameter MUST NOT appear more than once".
    if (seen.has(name)) return `parameter ${name} appears twice (§7)`;
    seen.add(name);
    if (name === 'server_no_context_takeover' || name === 'client_no_context_takeover') {
      if (value !== undefined) return `${name} takes no value (§7.1.1)`;
      if (name === 'server_no_context_takeover') out.serverNoContextTakeover = true; else out.clientNoContextTakeover = true;
    } else if (name === 'server_max_window_bits' || name === 'client_max_window_bits') {
      if (value === undefined && name === 'client_max_window_bits') { out.clientMaxWindowBits = true; continue; }
      if (value === undefined || !WINDOW_BITS.test(value)) return `${name}=${value ?? ''} is not 8..15 (§7.1.2)`;
      if (name === 'server_max_window_bits') out.serverMaxWindowBits = Number(value); else out.clientMaxWindowBits = Number(value);
    } else {
      return `unknown parameter ${name} (§7)`;
    }
  }
  return out;
}

/**
 * The client's judgement of the server's `Sec-WebSocket-Extensions` answer (RFC 6455 §4.1 and §9.1, RFC
 * 7692 §7): the agreed parameters, or the reason the answer is not one a client may accept. The answer
 * must accept one of the offers as a whole: `server_no_context_takeover` and `server_max_window_bits`
 * (≤ the offered value) when that offer asked for them (§7.1.1.1, §7.1.2.1), `client_max_window_bits`
 * only when the offer carried it, with a value, ≤ any offered value (§7.1.2.2).
 */
export function judgeDeflateResponse(offered: readonly string[], response: string | undefined): DeflateAgreement | undefined | string {
  if (response === undefined) return undefined;
  const chosen = parseExtensionList(response);
  if (typeof chosen === 'string') return `Sec-WebSocket-Extensions ${JSON.stringify(response)}: ${chosen}`;
  const offers = offered.flatMap((line) => { const parsed = parseExtensionList(line); return typeof parsed === 'string' ? [] : parsed; });
  if (chosen.length !== 1 || chosen[0]!.name.toLowerCase() !== 'permessage-deflate') {
    return `the server chose ${JSON.stringify(response)}; the peer speaks only permessage-deflate, once (RFC 6455 §9.1)`;
  }
  const answer = readDeflateParams(chosen[0]!);
  if (typeof answer === 'string') return `the response ${JSON.stringify(response)}: ${answer}`;
  const answerClientBits = answer.clientMaxWindowBits;
  if (answerClientBits === true) return 'client_max_window_bits without a value in a response (§7.1.2.2)';
  const fits = offers.some((element) => {
    if (element.name.toLowerCase() !== 'permessage-deflate') return false;
    const offer = readDeflateParams(element);
    if (typeof offer === 'string') return false;
    if (offer.serverNoContextTakeover && !answer.serverNoContextTakeover) return false;
    if (offer.serverMaxWindowBits !== undefined && (answer.serverMaxWindowBits === undefined || answer.serverMaxWindowBits > offer.serverMaxWindowBits)) return false;
    if (answerClientBits !== undefined) {
      if (offer.clientMaxWindowBits === undefined) return false;
      if (offer.clientMaxWindowBits !== true && answerClientBits > offer.clientMaxWindowBits) return false;
    }
    return true;
  });
  if (!fits) return `the response ${JSON.stringify(response)} accepts none of the offers ${JSON.stringify(offered)} (§7)`;
  return {
    serverNoContextTakeover: answer.serverNoContextTakeover,
    clientNoContextTakeover: answer.clientNoContextTakeover,
    serverMaxWindowBits: answer.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: answerClientBits ?? 15,
  };
}

/** §7.2.1: a sync flush ends with an empty stored block, whose last 4 octets the sender removes. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * The peer's compressor, a client's (§7.2.1): a persistent raw-deflate stream, one sync flush per message,
 * the tail removed; a fresh context per message (one one-shot call) when `client_no_context_takeover` was
 * agreed. zlib cannot compress within an 8-bit window (it silently uses 9), so with 8 bits the peer takes
 * a fresh context per message (not taking over is always allowed, §7.1.1.2) and compresses only messages
 * of at most 256 bytes, whose matches cannot reach further back than 255 bytes.
 */
export class MessageDeflater {
  readonly #windowBits: number;
  readonly #noContextTakeover: boolean;
  readonly #level: number;
  #stream: DeflateRaw | undefined;
  #output: Buffer[] = [];
  #queue: Promise<unknown> = Promise.resolve();

  constructor(windowBits: number, noContextTakeover: boolean, level: number = zlibConstants.Z_DEFAULT_COMPRESSION) {
    this.#windowBits = windowBits;
    this.#noContextTakeover = noContextTakeover || windowBits === 8;
    this.#level = level;
  }

  /** One message's compressed payload, without the 00 00 ff ff tail; calls are served in order. */
  compress(message: Uint8Array): Promise<Buffer> {
    const result = this.#queue.then(() => this.#compress(message));
    this.#queue = result.catch(() => {});
    return result;
  }

  async #compress(message: Uint8Array): Promise<Buffer> {
    if (this.#windowBits === 8 && message.length > 256) throw new Error('an 8-bit window: zlib can compress only messages of at most 256 bytes within it');
    let out: Buffer;
    if (this.#noContextTakeover) {
      // A fresh context for every message is what a one-shot call is (and far cheaper than a new stream).
      out = deflateRawSync(message, { windowBits: Math.max(this.#windowBits, 9), level: this.#level, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } else {
      const stream = this.#stream ??= this.#open();
      stream.write(message);
      // Settled by the flush or by the stream closing under it (the connection ended): never left hanging.
      await new Promise<void>((resolve) => {
        const done = (): void => { stream.off('close', done); resolve(); };
        stream.once('close', done);
        stream.flush(zlibConstants.Z_SYNC_FLUSH, done);
      });
      out = Buffer.concat(this.#output);
      this.#output = [];
    }
    assert.ok(out.subarray(-4).equals(DEFLATE_TAIL), 'a sync flush ends with 00 00 ff ff');
    return out.subarray(0, out.length - 4);
  }

  #open(): DeflateRaw {
    const stream = createDeflateRaw({ windowBits: Math.max(this.#windowBits, 9), level: this.#level });
    stream.on('data', (chunk: Buffer) => this.#output.push(chunk));
    return stream;
  }

  close(): void {
    this.#stream?.close();
    this.#stream = undefined;
  }
}

/**
 * The peer's decompressor (§7.2.2): the tail appended, one inflate call per message with exactly the
 * server's agreed window and, with context takeover, the last 2^bits bytes inflated before as the preset
 * window (what a continuing stream's window would hold). Messages sent uncompressed never pass through
 * the server's compressor, so they are not part of that window.
 *
 * zlib enforces the window only against its history: a match may also reach back into whatever the same
 * call has already written to its output buffer, so one big output buffer would accept a server that
 * compresses with a wider window than it agreed. Output chunks of 64 bytes (zlib's smallest) make every
 * match further back than 2^bits + 63 bytes fail with "invalid distance too far back". (A compressor
 * within 2^bits never reaches further than 2^bits - 262 bytes: zlib keeps MIN_LOOKAHEAD in reserve.)
 */
export class MessageInflater {
  readonly #windowBits: number;
  readonly #noContextTakeover: boolean;
  #window: Buffer | undefined;

  constructor(windowBits: number, noContextTakeover: boolean) {
    this.#windowBits = windowBits;
    this.#noContextTakeover = noContextTakeover;
  }

  /** Throws zlib's error when the payload is not a deflate stream within the agreed window. */
  inflate(payload: Uint8Array): Buffer {
    const out = inflateRawSync(Buffer.concat([payload, DEFLATE_TAIL]), {
      windowBits: this.#windowBits,
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      chunkSize: 64,
      ...(this.#window === undefined ? {} : { dictionary: this.#window }),
    });
    if (!this.#noContextTakeover) {
      const size = 1 << this.#windowBits;
      const joined = this.#window === undefined ? out : Buffer.concat([this.#window, out]);
      this.#window = Buffer.from(joined.subarray(Math.max(0, joined.length - size)));
      if (this.#window.length === 0) this.#window = undefined;
    }
    return out;
  }
}

export interface PeerOptions {
  readonly path?: string;
  /** How long to wait for the server to close TCP after the closing handshake (Autobahn: 1 s). */
  readonly serverDropMs?: number;
  /** Answer the server's pings (default true); false plays a peer that has stopped responding. */
  readonly answerPings?: boolean;
  /** Answer the server's Close (default true); false plays a peer that never completes the handshake. */
  readonly answerClose?: boolean;
  /** `Sec-WebSocket-Extensions` lines to offer, one header line each (RFC 6455 §9.1: offers in order of preference). */
  readonly extensions?: readonly string[];
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
  /** The server's `Sec-WebSocket-Extensions` answer (its lines joined by ", "), undefined when it sent none. */
  extensionsHeader: string | undefined;
  /** permessage-deflate as agreed in the handshake; undefined: the connection runs without the extension. */
  deflate: DeflateAgreement | undefined;
  #deflater: MessageDeflater | undefined;
  #inflater: MessageInflater | undefined;
  readonly #serverDropMs: number;
  readonly #answerPings: boolean;
  readonly #answerClose: boolean;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #message: { binary: boolean; compressed: boolean; parts: Buffer[] } | undefined;
  #waiters = new Set<() => void>();

  private constructor(socket: Socket, options: PeerOptions) {
    this.socket = socket;
    this.#serverDropMs = options.serverDropMs ?? 2_000;
    this.#answerPings = options.answerPings ?? true;
    this.#answerClose = options.answerClose ?? true;
    socket.on('data', (chunk: Buffer) => { this.#chunks.push(chunk); this.#buffered += chunk.length; this.#parse(); this.#wake(); });
    socket.on('end', () => { this.serverEnded = true; socket.end(); this.#wake(); });
    socket.on('close', () => { this.tcpClosed = true; this.#deflater?.close(); this.#wake(); });
    socket.on('error', () => {});
  }

  /** Connect, handshake on `path` (default /echo), and return once the 101 has been verified. */
  static async open(port: number, options: PeerOptions = {}): Promise<Peer> {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.setNoDelay(true); // every write its own segment: chops reach the server as chops
    await once(socket, 'connect');
    const key = randomBytes(16).toString('base64');
    const offered = options.extensions ?? [];
    socket.write(
      `GET ${options.path ?? '/echo'} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      offered.map((line) => `Sec-WebSocket-Extensions: ${line}\r\n`).join('') + '\r\n',
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
      peer.#agree(offered, response);
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.emit('data', rest);
      return peer;
    }
  }

  /**
   * The server's answer to the offers: RFC 6455 §4.1 ("If the response includes a |Sec-WebSocket-Extensions|
   * header field and this header field indicates the use of an extension that was not present in the
   * client's handshake ... the client MUST _Fail the WebSocket Connection_"), judged by RFC 7692 §7.
   */
  #agree(offered: readonly string[], response: string): void {
    const lines = [...response.matchAll(/\r\nSec-WebSocket-Extensions:[ \t]*([^\r]*?)[ \t]*(?=\r\n|$)/gi)].map((m) => m[1]!);
    this.extensionsHeader = lines.length === 0 ? undefined : lines.join(', ');
    if (this.extensionsHeader !== undefined && offered.length === 0) {
      this.violations.push(`the server answered Sec-WebSocket-Extensions ${JSON.stringify(this.extensionsHeader)} to no offer (RFC 6455 §4.1)`);
      return;
    }
    const agreement = judgeDeflateResponse(offered, this.extensionsHeader);
    if (typeof agreement === 'string') { this.violations.push(agreement); return; }
    if (agreement === undefined) return;
    this.deflate = agreement;
    this.#deflater = new MessageDeflater(agreement.clientMaxWindowBits, agreement.clientNoContextTakeover);
    this.#inflater = new MessageInflater(agreement.serverMaxWindowBits, agreement.serverNoContextTakeover);
  }

  /** One message compressed by the peer's compressor (agreed window and context takeover), tail removed. */
  compress(payload: string | Uint8Array): Promise<Buffer> {
    if (this.#deflater === undefined) throw new Error('permessage-deflate was not agreed');
    return this.#deflater.compress(bytes(payload));
  }

  /**
   * A whole message as a client sends it with permessage-deflate (§6): compressed unless `compress` is
   * false, cut into frames of `fragmentSize` bytes of (compressed) payload (Autobahn's autoFragmentSize),
   * RSV1 on the first frame only (§6.1). Without the extension the message goes out as it is.
   */
  async sendMessage(opcode: number, payload: string | Uint8Array, options: { compress?: boolean; fragmentSize?: number; chop?: number } = {}): Promise<void> {
    const compress = this.deflate !== undefined && (options.compress ?? true);
    const data = compress ? await this.compress(payload) : bytes(payload);
    const size = options.fragmentSize ?? 0;
    const frames: Buffer[] = [];
    if (size <= 0 || data.length <= size) {
      frames.push(buildFrame({ opcode, payload: data, rsv: compress ? 4 : 0 }));
    } else {
      for (let at = 0; at < data.length; at += size) {
        frames.push(buildFrame({ opcode: at === 0 ? opcode : OP.CONT, payload: data.subarray(at, at + size), fin: at + size >= data.length, rsv: at === 0 && compress ? 4 : 0 }));
      }
    }
    this.send(frames.length === 1 ? frames[0]! : Buffer.concat(frames), options.chop);
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
    // RFC 6455 §5.2: no RSV bit without an extension that defines it; permessage-deflate defines RSV1 only,
    // and only on the first frame of a data message (RFC 7692 §6.1).
    const compressedBit = this.deflate !== undefined && (rsv & 4) !== 0;
    if (this.deflate === undefined ? rsv !== 0 : (rsv & 3) !== 0) this.violations.push(`the server set RSV bits ${rsv} (§5.2)`);
    if (compressedBit && opcode >= 8) this.violations.push(`the server set RSV1 on control frame ${opcode} (RFC 7692 §6.1)`);
    if (compressedBit && opcode === OP.CONT) this.violations.push('the server set RSV1 on a continuation frame (RFC 7692 §6.1)');
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
      this.#message = { binary: opcode === OP.BINARY, compressed: compressedBit, parts: [payload] };
    } else {
      this.violations.push(`the server sent reserved opcode ${opcode}`);
      return;
    }
    if (!fin) return;
    const { binary: isBinary, compressed, parts } = this.#message;
    this.#message = undefined;
    let data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (compressed) {
      try {
        data = this.#inflater!.inflate(data);
      } catch (error) {
        this.violations.push(`the server sent a compressed message that does not inflate within its agreed window: ${(error as Error).message} (RFC 7692 §7.2.2)`);
      }
    }
    if (!isBinary) {
      try { strictUtf8.decode(data); } catch { this.violations.push('the server sent a text message that is not UTF-8 (§8.1)'); }
    }
    this.events.push(this.deflate === undefined ? { kind: 'message', binary: isBinary, data } : { kind: 'message', binary: isBinary, data, compressed });
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
  /** `Sec-WebSocket-Extensions` lines to offer (PeerOptions.extensions). */
  readonly extensions?: readonly string[];
  /** The server's exact `Sec-WebSocket-Extensions` answer; null: it must send none. Unchecked when absent. */
  readonly agreed?: string | null;
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
  const peer = await Peer.open(port, {
    ...(spec.path === undefined ? {} : { path: spec.path }),
    ...(spec.extensions === undefined ? {} : { extensions: spec.extensions }),
  });
  try {
    if (spec.agreed !== undefined) assert.equal(peer.extensionsHeader ?? null, spec.agreed, `case ${spec.id}: the server's Sec-WebSocket-Extensions`);
    await spec.run(peer);
    // Events only accumulate, so once as many have come as were expected they either match or never will:
    // either way it is time to close (a mismatch is then reported as a diff, not after a timeout).
    const complete = (): boolean => peer.events.length >= spec.expect.length;
    if (spec.close.closedByMe) {
      // Autobahn's finishWhenDone: once what came back is what was expected, start the closing handshake.
      await peer.until(() => complete() || peer.serverClose !== undefined || peer.closeSent, `case ${spec.id}: the expected events`);
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
