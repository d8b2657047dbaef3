/**
 * permessage-deflate's cost per message, in one process, without sockets: `node deflate-micro.js
 * [--budget-ms 200] [--rounds 3] [--sizes 32,128,512,1024,16384,65536] [--json] [--blocking 1048576,16777216]`
 * (built by `npx tsc -p bench/tsconfig.json` into .test-build-bench/bench/, or by `npm run build:test`).
 *
 * For each tuning (window bits, level, memLevel) and message size, a server-role PerMessageDeflate
 * (src/protocols/websocket/permessage-deflate.ts, the codec switchyard runs) compresses a stream of
 * distinct JSON-like messages (bench/ws-deflate-loop.ts's payloads) with context takeover, and a
 * client-role one inflates them, as the peer would; both are timed separately, after a warm-up, for
 * `budget-ms` each, in `rounds` interleaved rounds (median quoted). Printed: µs per compress, µs per
 * inflate, compressed/plain bytes, and the same for random bytes. A last row per size runs one persistent zlib stream per direction (what `ws` keeps per
 * connection), driven synchronously, so the one-shot design's price (zlib set up per message, the window
 * handed over as a dictionary) is visible as the difference.
 */
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';
import { parseArgs } from 'node:util';
import { PerMessageDeflate } from '../src/protocols/websocket/permessage-deflate.js';
import { jsonPayload, payloadPool } from './ws-deflate-loop.js';

const { values } = parseArgs({
  options: {
    'budget-ms': { type: 'string', default: '200' },
    sizes: { type: 'string', default: '32,128,512,1024,16384,65536' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    blocking: { type: 'string' },
  },
});
const BUDGET_MS = Number(values['budget-ms']);
const SIZES = values.sizes.split(',').map(Number);

interface Tuning { name: string; bits: number; level: number; memLevel: number; stream?: boolean }
const TUNINGS: Tuning[] = [
  { name: 'defaults: 12 bits, L1, mem 8', bits: 12, level: 1, memLevel: 8 },
  { name: '15 bits', bits: 15, level: 1, memLevel: 8 },
  { name: '10 bits', bits: 10, level: 1, memLevel: 8 },
  { name: '9 bits', bits: 9, level: 1, memLevel: 8 },
  { name: 'level 6', bits: 12, level: 6, memLevel: 8 },
  { name: 'level 3', bits: 12, level: 3, memLevel: 8 },
  { name: 'memLevel 5', bits: 12, level: 1, memLevel: 5 },
  { name: 'memLevel 9', bits: 12, level: 1, memLevel: 9 },
  { name: 'persistent stream, 12 bits, L1, mem 8', bits: 12, level: 1, memLevel: 8, stream: true },
  { name: 'persistent stream, 15 bits, L6, mem 8 (ws defaults)', bits: 15, level: 6, memLevel: 8, stream: true },
];

/** `compress` may answer undefined: the message goes out plain (the codec judged it would not shrink). */
interface Codec { compress(m: Uint8Array): Uint8Array | undefined; decompress(c: Uint8Array): Uint8Array }

function oneShot(t: Tuning): { server: Codec; client: Codec } {
  const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: t.bits, clientMaxWindowBits: t.bits };
  const make = (role: 'server' | 'client'): Codec => {
    const codec = new PerMessageDeflate({ params, level: t.level, memLevel: t.memLevel, thresholdBytes: 0, maxBytes: Number.MAX_SAFE_INTEGER }, role);
    return {
      compress: (m): Uint8Array | undefined => codec.compress(m),
      decompress: (c) => { const out = codec.decompress(c, 1 << 26); if (!(out instanceof Uint8Array)) throw out; return out; },
    };
  };
  return { server: make('server'), client: make('client') };
}

/**
 * One zlib stream kept across messages, driven synchronously through its handle (node's own sync path,
 * processChunkSync, closes the stream after one call): the loop node:zlib runs, minus the close.
 */
interface ZlibInternals { _handle: { writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void }; _writeState: Uint32Array }
function syncFlush(stream: DeflateRaw | InflateRaw, input: Uint8Array): Buffer {
  const { _handle: handle, _writeState: state } = stream as unknown as ZlibInternals;
  const chunkSize = 16 * 1024;
  const pieces: Buffer[] = [];
  let inOff = 0;
  let inLen = input.length;
  for (;;) {
    const out = Buffer.allocUnsafe(chunkSize);
    handle.writeSync(constants.Z_SYNC_FLUSH, input, inOff, inLen, out, 0, chunkSize);
    const [availOut, availIn] = [state[0]!, state[1]!];
    if (chunkSize - availOut > 0) pieces.push(out.subarray(0, chunkSize - availOut));
    if (availOut !== 0) break;
    inOff += inLen - availIn;
    inLen = availIn;
  }
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function persistent(t: Tuning): { server: Codec; client: Codec } {
  const deflate: DeflateRaw = createDeflateRaw({ level: t.level, memLevel: t.memLevel, windowBits: t.bits });
  const inflate: InflateRaw = createInflateRaw({ windowBits: t.bits });
  const server: Codec = {
    compress: (m) => { const out = syncFlush(deflate, m); return out.subarray(0, out.length - 4); },
    decompress: () => { throw new Error('unused'); },
  };
  const client: Codec = {
    compress: () => { throw new Error('unused'); },
    decompress: (c) => syncFlush(inflate, Buffer.concat([c, TAIL])),
  };
  return { server, client };
}

interface Cell { tuning: string; size: number; payload: string; compressUs: number; inflateUs: number; ratio: number }

function measureCell(t: Tuning, size: number, kind: 'json' | 'random'): Cell {
  const pool = payloadPool(kind, size);
  const { server, client } = t.stream ? persistent(t) : oneShot(t);
  // Warm up (fills the windows; lets V8 optimise), then compress for the budget, keeping the output.
  let i = 0;
  for (; i < pool.length; i++) { const c = server.compress(pool[i % pool.length]!); if (c !== undefined) client.decompress(c); }
  // undefined: sent plain, nothing for the peer to inflate.
  const compressed: Array<Uint8Array | undefined> = [];
  let plain = 0;
  let wire = 0;
  let started = performance.now();
  while (performance.now() - started < BUDGET_MS) {
    for (let k = 0; k < 16; k++, i++) {
      const m = pool[i % pool.length]!;
      const c = server.compress(m);
      compressed.push(c);
      plain += m.length;
      wire += (c ?? m).length;
    }
  }
  const compressUs = ((performance.now() - started) * 1000) / compressed.length;
  // Inflate the same messages in order, as the peer does (its window follows ours), and check them.
  const first = i - compressed.length;
  started = performance.now();
  for (let k = 0; k < compressed.length; k++) {
    const c = compressed[k];
    if (c === undefined) continue;
    const out = client.decompress(c);
    if (out.length !== size) throw new Error(`${t.name}: inflated ${out.length} bytes, expected ${size}`);
    if (k === 0 && Buffer.compare(out, pool[first % pool.length]!) !== 0) throw new Error(`${t.name}: wrong bytes`);
  }
  const inflateUs = ((performance.now() - started) * 1000) / compressed.length;
  return { tuning: t.name, size, payload: kind, compressUs, inflateUs, ratio: wire / plain };
}

/**
 * `--blocking 1048576,16777216`: how long one large message holds the main thread (compress, then the
 * peer's inflate), with the defaults, the ms a synchronous zlib call keeps every other connection waiting.
 * The message is distinct 64 KiB JSON-like pieces joined.
 */
if (values.blocking !== undefined) {
  const t = TUNINGS[0]!;
  console.log(`one message, ${t.name}: ms on the main thread (median of 5)`);
  for (const size of values.blocking.split(',').map(Number)) {
    // Distinct 64 KiB pieces (one seed each), joined.
    const message = Buffer.concat(Array.from({ length: Math.ceil(size / 65536) }, (_, i) => jsonPayload(65536, i + 1))).subarray(0, size);
    const compressMs: number[] = [];
    const inflateMs: number[] = [];
    let ratio = 0;
    for (let r = 0; r < 5; r++) {
      const { server, client } = oneShot(t);
      let at = performance.now();
      const c = server.compress(message);
      compressMs.push(performance.now() - at);
      if (c === undefined) throw new Error('the codec declined to compress a JSON message');
      at = performance.now();
      const out = client.decompress(c);
      inflateMs.push(performance.now() - at);
      if (out.length !== size) throw new Error('size');
      ratio = c.length / size;
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[2]!;
    console.log(`${size} B: compress ${med(compressMs).toFixed(1)} ms, inflate ${med(inflateMs).toFixed(1)} ms, wire/plain ${ratio.toFixed(3)}`);
  }
  process.exit(0);
}

const ROUNDS = Number(values.rounds);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// A throw-away pass first, so no tuning pays for V8's warm-up.
for (const t of TUNINGS) measureCell({ ...t }, 1024, 'json');
const cells: Cell[] = [];
console.log(`permessage-deflate per message, ${BUDGET_MS} ms per cell, median of ${ROUNDS} interleaved rounds, node ${process.version}\n`);
console.log(['size', 'tuning', 'JSON compress µs', 'JSON inflate µs', 'JSON wire/plain', 'random compress µs', 'random inflate µs', 'random wire/plain'].join('\t'));
for (const size of SIZES) {
  const runs = new Map<string, Cell[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of TUNINGS) {
      for (const kind of ['json', 'random'] as const) {
        const key = `${t.name}|${kind}`;
        runs.set(key, [...(runs.get(key) ?? []), measureCell(t, size, kind)]);
      }
    }
  }
  for (const t of TUNINGS) {
    const [json, random] = (['json', 'random'] as const).map((kind): Cell => {
      const cs = runs.get(`${t.name}|${kind}`)!;
      return { tuning: t.name, size, payload: kind, compressUs: median(cs.map((c) => c.compressUs)), inflateUs: median(cs.map((c) => c.inflateUs)), ratio: median(cs.map((c) => c.ratio)) };
    }) as [Cell, Cell];
    cells.push(json, random);
    console.log([size, t.name, json.compressUs.toFixed(1), json.inflateUs.toFixed(1), json.ratio.toFixed(3), random.compressUs.toFixed(1), random.inflateUs.toFixed(1), random.ratio.toFixed(3)].join('\t'));
  }
}
if (values.json) console.log(JSON.stringify(cells));
