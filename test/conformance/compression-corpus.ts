/**
 * The payloads of Autobahn sections 12 and 13 (permessage-deflate), made here instead of shipped: Autobahn
 * reads five files (a large JSON document, Lena as a 512×512 8-bit bitmap, Goethe's Faust I, a large HTML
 * page, a PDF) and cuts each message from a pointer that walks through the file, wrapping at its end.
 * These are deterministic stand-ins with the same character: ASCII JSON and HTML (sent as text, and ASCII
 * so that a cut anywhere is valid UTF-8), a bitmap with a smooth image and some noise, German verse with
 * umlauts (sent as binary, as Autobahn sends Faust, so a cut inside a character does not matter), and a
 * PDF-like file that is mostly random bytes (already compressed streams), which deflate cannot shrink.
 */
import assert from 'node:assert/strict';
import { constants, deflateRawSync } from 'node:zlib';
import { OP, binary, text, type Peer, type PeerEvent } from './peer.js';

/** A small deterministic generator (mulberry32), so every run sends the same bytes. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const pick = <T>(next: () => number, list: readonly T[]): T => list[Math.floor(next() * list.length)]!;

function jsonDocument(size: number): Buffer {
  const next = random(1);
  const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  const tags = ['ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit', 'sed', 'eiusmod'];
  const records: string[] = [];
  let length = 2;
  for (let id = 0; length < size; id++) {
    const record = JSON.stringify({
      _id: (id * 2654435761 >>> 0).toString(16).padStart(8, '0'), index: id, guid: `${Math.floor(next() * 1e9)}-${Math.floor(next() * 1e6)}`,
      isActive: next() < 0.5, balance: `$${(next() * 4000).toFixed(2)}`, age: 20 + Math.floor(next() * 50),
      name: `${pick(next, names)} ${pick(next, names)}`, email: `${pick(next, names)}@${pick(next, tags)}.com`,
      latitude: Number((next() * 180 - 90).toFixed(6)), longitude: Number((next() * 360 - 180).toFixed(6)),
      tags: Array.from({ length: 1 + Math.floor(next() * 6) }, () => pick(next, tags)),
      friends: Array.from({ length: 3 }, (_, n) => ({ id: n, name: `${pick(next, names)} ${pick(next, names)}` })),
    });
    records.push(record);
    length += record.length + 2;
  }
  return Buffer.from(`[\n${records.join(',\n')}\n]`, 'latin1').subarray(0, size);
}

/** A Windows bitmap like lena512.bmp: 54-byte header, a 256-entry grey palette, 512×512 8-bit pixels. */
function bitmap(): Buffer {
  const next = random(2);
  const width = 512;
  const pixels = width * width;
  const out = Buffer.alloc(54 + 1024 + pixels);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54 + 1024, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(width, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(8, 28);
  out.writeUInt32LE(pixels, 34);
  for (let i = 0; i < 256; i++) out.writeUInt32LE(i * 0x010101, 54 + i * 4);
  for (let y = 0; y < width; y++) {
    for (let x = 0; x < width; x++) {
      const shade = 128 + 70 * Math.sin(x / 37) * Math.cos(y / 23) + 30 * Math.sin((x + y) / 11) + (next() - 0.5) * 12;
      out[54 + 1024 + y * width + x] = Math.max(0, Math.min(255, Math.round(shade)));
    }
  }
  return out;
}

/** German verse, speakers and stage directions, with umlauts and ß (multi-byte UTF-8). */
function germanVerse(size: number): Buffer {
  const next = random(3);
  const words = ['Ich', 'habe', 'nun', 'ach', 'die', 'Welt', 'und', 'Herz', 'Geist', 'Nacht', 'Licht', 'Natur', 'über', 'für',
    'Tür', 'schön', 'Müh', 'Gefühl', 'Träume', 'Mädchen', 'süß', 'heiß', 'große', 'Straße', 'Glück', 'höre', 'König', 'Öde',
    'Äther', 'Übermut', 'wie', 'was', 'wer', 'so', 'doch', 'mir', 'dir', 'sein', 'ist', 'war', 'wird', 'Zeit', 'Gott', 'Teufel'];
  const speakers = ['FAUST.', 'MEPHISTOPHELES.', 'WAGNER.', 'MARGARETE.', 'MARTHE.', 'CHOR DER ENGEL.'];
  const lines: string[] = [];
  let length = 0;
  while (length < size) {
    const line = next() < 0.12
      ? `\n${pick(next, speakers)}\n`
      : next() < 0.05
        ? `    (${pick(next, words)} ${pick(next, words)} ${pick(next, words)}.)\n`
        : `  ${Array.from({ length: 4 + Math.floor(next() * 5) }, () => pick(next, words)).join(' ')}${pick(next, [',', '!', '.', ';', '?', ''])}\n`;
    lines.push(line);
    length += Buffer.byteLength(line);
  }
  return Buffer.from(lines.join(''), 'utf8').subarray(0, size);
}

function htmlPage(size: number): Buffer {
  const next = random(4);
  const words = ['network', 'socket', 'frame', 'message', 'server', 'client', 'upgrade', 'window', 'deflate', 'header'];
  const parts = ['<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Report</title>\n<link rel="stylesheet" href="style.css"></head>\n<body>\n<table class="results">\n'];
  let length = parts[0]!.length;
  for (let row = 0; length < size; row++) {
    const cells = Array.from({ length: 5 }, () => `<td class="${pick(next, ['ok', 'failed', 'info', 'non-strict'])}"><a href="#case_${row}_${Math.floor(next() * 100)}">${pick(next, words)} ${Math.floor(next() * 10000)}</a></td>`);
    const line = `  <tr id="row${row}">${cells.join('')}</tr>\n`;
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1').subarray(0, size);
}

/** PDF-shaped: a little structure around streams of random bytes (what compressed streams look like). */
function pdfLike(size: number): Buffer {
  const next = random(5);
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let length = parts[0]!.length;
  for (let object = 1; length < size; object++) {
    const streamLength = 2048 + Math.floor(next() * 8192);
    const body = Buffer.allocUnsafe(streamLength);
    for (let i = 0; i < streamLength; i++) body[i] = Math.floor(next() * 256);
    const head = Buffer.from(`${object} 0 obj\n<< /Length ${streamLength} /Filter /FlateDecode >>\nstream\n`, 'latin1');
    const tail = Buffer.from('\nendstream\nendobj\n', 'latin1');
    parts.push(head, body, tail);
    length += head.length + body.length + tail.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

export interface Corpus {
  /** Autobahn's description of the file this one stands in for. */
  readonly description: string;
  readonly opcode: typeof OP.TEXT | typeof OP.BINARY;
  readonly data: Buffer;
}

/** Autobahn 12.1-12.5, in its order, each sent as Autobahn sends its file. */
export const CORPORA: readonly Corpus[] = [
  { description: 'a large JSON document', opcode: OP.TEXT, data: jsonDocument(194_056) },
  { description: 'a 512×512 8-bit greyscale bitmap', opcode: OP.BINARY, data: bitmap() },
  { description: 'human-readable German verse (UTF-8, sent as binary)', opcode: OP.BINARY, data: germanVerse(222_218) },
  { description: 'a large HTML page', opcode: OP.TEXT, data: htmlPage(262_144) },
  { description: 'a PDF-like file, mostly incompressible random bytes', opcode: OP.BINARY, data: pdfLike(262_144) },
];

/**
 * Autobahn's MSG_SIZES for 12.x.y and 13.x.y, y = 1..18: (payload length, auto-fragment size), where the
 * auto-fragment size cuts the compressed payload into frames of that many bytes (0: one frame).
 */
export const MESSAGE_SIZES: ReadonlyArray<readonly [length: number, fragmentSize: number]> = [
  [16, 0], [64, 0], [256, 0], [1024, 0], [4096, 0], [8192, 0], [16384, 0], [32768, 0], [65536, 0], [131072, 0],
  [8192, 256], [16384, 256], [32768, 256], [65536, 256], [131072, 256], [131072, 1024], [131072, 4096], [131072, 32768],
];

/**
 * Autobahn sends 1000 messages per case; here 100 up to 8 KiB, then 1 MiB's worth (64 down to 8), which
 * keeps the two sections within seconds while every case still carries many messages through one context.
 */
export function messageCount(length: number): number {
  return Math.min(100, Math.max(8, Math.floor((1 << 20) / length)));
}

/** `count` messages of `length` bytes cut from `corpus` by a pointer that walks on and wraps (Autobahn's sendOne). */
export function walk(corpus: Buffer, length: number, count: number, start = 0): Buffer[] {
  const messages: Buffer[] = [];
  let at = start % corpus.length;
  for (let n = 0; n < count; n++) {
    const end = at + length;
    messages.push(end <= corpus.length ? corpus.subarray(at, end) : Buffer.concat([corpus.subarray(at), corpus.subarray(0, end - corpus.length)]));
    at = end % corpus.length;
  }
  return messages;
}

export const asEvent = (opcode: number, payload: Buffer): PeerEvent => (opcode === OP.TEXT ? text(payload) : binary(payload));

/**
 * Autobahn's loop: send one message, wait for its echo, send the next. Each message goes out compressed
 * when the extension was agreed (`compress` decides per message otherwise), in frames of `fragmentSize`.
 */
export async function sendOneByOne(peer: Peer, opcode: number, messages: readonly Buffer[], options: { fragmentSize?: number; compress?: (message: Buffer) => boolean } = {}): Promise<void> {
  for (let n = 0; n < messages.length; n++) {
    const message = messages[n]!;
    await peer.sendMessage(opcode, message, { fragmentSize: options.fragmentSize ?? 0, compress: options.compress?.(message) ?? true });
    await peer.until(() => peer.events.length > n || peer.serverClose !== undefined, `the echo of message ${n + 1} of ${messages.length}`);
  }
}

/**
 * The server's policy on the wire (RFC 7692 §6 leaves it to the sender, per message): with the extension,
 * exactly the messages of at least `thresholdBytes` come back compressed; without it, none carries the bit.
 */
/**
 * The server's documented rule beyond the threshold (docs/websocket.md): a message of 16 KiB or more whose
 * first 1 KiB deflate (zlib level 1, memLevel 8, its window, no dictionary, sync flush) to 95 % or more of
 * themselves is sent uncompressed, and so is one over 1 MiB. Recomputed here with node:zlib from the echoed bytes.
 */
function worthDeflating(data: Uint8Array, windowBits: number): boolean {
  if (data.length > 1024 * 1024) return false; // over webSocketDeflateMaxMessageBytes
  if (data.length < 16 * 1024) return true;
  const probe = deflateRawSync(data.subarray(0, 1024), { level: 1, memLevel: 8, windowBits, finishFlush: constants.Z_SYNC_FLUSH });
  return probe.length < 1024 * 0.95;
}

export function assertCompressedFromThreshold(peer: Peer, thresholdBytes: number, id: string): void {
  const seen = peer.events.flatMap((event) => (event.kind === 'message' ? [`${event.data.length} B ${event.compressed === undefined ? 'no extension' : event.compressed ? 'compressed' : 'uncompressed'}`] : []));
  const serverBits = peer.deflate?.serverMaxWindowBits ?? 15;
  const expected = peer.events.flatMap((event) => (event.kind === 'message'
    ? [`${event.data.length} B ${peer.deflate === undefined ? 'no extension' : event.data.length >= thresholdBytes && worthDeflating(event.data, serverBits) ? 'compressed' : 'uncompressed'}`]
    : []));
  assert.deepEqual(seen, expected, `case ${id}: which echoes the server compressed`);
}
