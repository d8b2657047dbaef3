/**
 * permessage-deflate (RFC 7692) against peers nobody here wrote, in both roles:
 *
 * 1. Python `websockets` 10.4 as the client of one `switchyard serve --trace` child: its default offer,
 *    a strict one (10-bit windows, no context takeover both ways), one without client_max_window_bits,
 *    two offers of which only the second is acceptable, small messages left uncompressed mid-session,
 *    and no offer at all.
 * 2. Python `websockets` as the server (its default policy, a strict ServerPerMessageDeflateFactory, and
 *    one demanding client_max_window_bits=8), against our `connect()` and `switchyard connect --verbose`
 *    / `--no-deflate`.
 * 3. Headless Chromium opening `ws://127.0.0.1:PORT/echo` from about:blank, on the same serve child.
 *
 * "It was compressed" is never taken on trust from one side: the Python peers log every data frame as
 * it is on the wire (test/helpers/python-websockets.ts), the server's trace shows RSV1 and the deflated
 * size per frame and message, and the /connections row counts the bytes the socket really carried.
 * The window and context-takeover cases are built so that ignoring the agreed parameter changes the wire
 * size by a factor of 2 or more (a random block repeated 1500 characters later; the same random message
 * twice), so a test notices when an end does not apply what it agreed. (Checked by mutating the built
 * code: a sender ignoring no_context_takeover or the window bits, compressing below 64 B or never, never
 * keeping context, an inflater without history or one that also records uncompressed messages, and a row
 * without `extensions` each fail at least one test here.)
 *
 * Each peer's test skips when it is missing, except under CI (`CI=true`), where it fails. Every wait has
 * a deadline, every port is 127.0.0.1:0, and only processes started here are stopped, by PID.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Cdp, CdpPage, type CdpEvent } from '../browser/cdp.js';
import { findChromium, launchChromium } from '../browser/chromium.js';
import { type CliResult, finish, runCli } from '../helpers/cli.js';
import { requireCommand } from '../helpers/require-command.js';
import { type Served, startServe, stopServe } from '../helpers/serve.js';
import {
  PYTHON, PYTHON_CLIENT, type PythonServer, runCommand, startPythonServer, stopPythonServer, type WireMessage,
} from '../helpers/python-websockets.js';
import { connect } from '../../src/protocols/websocket/client.js';
import type { WebSocket } from '../../src/protocols/websocket/session.js';

const PEER_TIMEOUT_MS = 60_000;
const WAIT_MS = 10_000;

/** Sizes around the server's 64-byte threshold, and up to past one 16-bit frame length; empty too. */
const SIZES = [0, 16, 63, 64, 1024, 65536, 204800] as const;
/** Below this, the server (and our client) send uncompressed; from it on, compressed (RSV1). */
const THRESHOLD = 64;

const DEFAULT_AGREED = 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12';
const STRICT_AGREED = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10';

type Kind = 'text' | 'binary';
type Content = 'pattern' | 'random' | 'window' | 'repeat' | 'utf8' | 'fragments';
type Case = [name: string, kind: Kind, content: Content, size: number];

/**
 * The messages of every exchange: compressible text and binary of each size, random bytes, a "window"
 * probe (one random block three times, 1500 characters apart: a 10-bit window cannot reach back to the
 * copy, a 12-bit one can) and the same random 500-character message twice (with context takeover the
 * second is a back reference into the first; without, it costs as much as the first). Text of 1- to 4-byte
 * UTF-8 characters checks that validation happens on the inflated text; Python sends one such message in
 * several frames (one compressed stream over a fragmented message, RFC 7692 §6.1); our client sends it whole.
 * Text sizes count code points.
 */
const CASES: readonly Case[] = [
  ...SIZES.map((size): Case => [`text ${size}`, 'text', 'pattern', size]),
  ...SIZES.map((size): Case => [`binary ${size}`, 'binary', 'pattern', size]),
  ['random 16', 'binary', 'random', 16],
  ['random 65536', 'binary', 'random', 65536],
  ['window', 'text', 'window', 4500],
  ['repeat 1', 'text', 'repeat', 500],
  ['repeat 2', 'text', 'repeat', 500],
  ['utf8 3000', 'text', 'utf8', 3000],
  ['fragments 20000', 'text', 'fragments', 20000],
];

const total = (which: (content: Content) => boolean): number => CASES.filter(([, , content]) => which(content)).reduce((sum, [, , , size]) => sum + size, 0);
/** The ASCII patterns, which deflate to a few per cent. */
const COMPRESSIBLE_TOTAL = total((content) => content === 'pattern');
/** Everything else (random, base64 probes, UTF-8 text counted in code points): a generous upper bound on its wire cost. */
const OTHER_TOTAL = total((content) => content !== 'pattern');
/** Random bytes: they cannot shrink, so the wire carries at least this much. */
const RANDOM_TOTAL = total((content) => content === 'random');

// --- payloads, the same recipe as the Python client's ---

function patternText(size: number): string {
  let text = '';
  for (let i = 0; text.length < size; i++) text += `${String(i).padStart(6, '0')} switchyard permessage-deflate interop from node\n`;
  return text.slice(0, size);
}

/** 500 characters: within even a 10-bit window's reach (zlib matches at most 2^bits - 262 bytes back). */
const REPEATED = randomBytes(375).toString('base64');

function payload(kind: Kind, content: Content, size: number): string | Buffer {
  switch (content) {
    case 'pattern': {
      const text = patternText(size);
      return kind === 'text' ? text : Buffer.from(Buffer.from(text, 'latin1').map((b) => (b + 128) & 255));
    }
    case 'random': return randomBytes(size);
    case 'window': return randomBytes(1125).toString('base64').repeat(size / 1500);
    case 'repeat': return REPEATED;
    case 'utf8':
    case 'fragments': return [...UTF8_UNIT.repeat(Math.ceil(size / 16))].slice(0, size).join('');
  }
}

/** 16 code points: 1-, 2-, 3- and 4-byte UTF-8 characters. */
const UTF8_UNIT = 'h\u00e9llo w\u00f6rld \u2603 \u{1F389} ';

// --- what the peers report ---

interface Row {
  fiveTuple: string;
  state: string;
  protocol: string | null;
  extensions?: string;
  bytesIn: number;
  bytesOut: number;
  self?: true;
}

interface PythonClientResult {
  websockets: string;
  offered: string | null;
  agreed: string | null;
  params: { remoteNoContextTakeover: boolean; localNoContextTakeover: boolean; remoteMaxWindowBits: number; localMaxWindowBits: number } | null;
  local: [string, number];
  results: Array<{ name: string; kind: Kind; size: number; equal: boolean; echoType: string; sent: WireMessage[]; received: WireMessage[] }>;
  row: Row | null;
  closeCode: number;
}

/**
 * What a peer logged of the messages one end sent, checked against the cases: below the threshold
 * uncompressed, from it on compressed, compressible ones far below their size, and the window and
 * repeat probes as `strict` (10-bit windows, no context takeover) or not predicts.
 */
function assertCompressedAsAgreed(messages: readonly WireMessage[], cases: readonly Case[], strict: boolean, who: string): void {
  assert.equal(messages.length, cases.length, `${who}: one logged message per case: ${JSON.stringify(messages)}`);
  const byName = new Map(cases.map(([name], i) => [name, messages[i]!]));
  cases.forEach(([name, kind, content, size], i) => {
    const message = messages[i]!;
    const label = `${who}, ${name}: ${JSON.stringify(message)}`;
    assert.equal(message.opcode, kind === 'text' ? 'TEXT' : 'BINARY', label);
    if (size < THRESHOLD) {
      assert.deepEqual([message.rsv1, message.wire], [false, size], `${label}: below ${THRESHOLD} B, sent uncompressed`);
    } else if (content === 'pattern') {
      assert.equal(message.rsv1, true, `${label}: compressed (RSV1)`);
      if (size >= 1024) assert.ok(message.wire < size / 5, `${label}: deflated well below its ${size} B`);
    }
  });
  const window = byName.get('window')!;
  const [first, second] = [byName.get('repeat 1')!, byName.get('repeat 2')!];
  assert.equal(window.rsv1, true);
  if (strict) {
    // A 10-bit window cannot see the copy 1500 characters back: about 6 bits per base64 character stay.
    assert.ok(window.wire > 2_500, `${who}: the window probe took ${window.wire} B; with a 10-bit window it cannot go below ~3000 B`);
    assert.equal(second.wire, first.wire, `${who}: no context takeover, so the second copy costs what the first did (${first.wire} vs ${second.wire} B)`);
    assert.ok(first.wire > 300, `${who}: 500 random base64 characters do not deflate below ~375 B without history (${first.wire} B)`);
  } else {
    assert.ok(window.wire < 2_000, `${who}: the window probe took ${window.wire} B; a 12-bit window sees the copies`);
    assert.ok(second.wire < first.wire / 4, `${who}: with context takeover, the repeated message is a back reference (${first.wire} then ${second.wire} B)`);
  }
}

// --- helpers for the switchyard serve child ---

interface Serve extends Served {
  /** Everything serve wrote on stderr (its --trace lines), from the start. */
  trace(): string;
}

async function startTracingServe(): Promise<Serve> {
  const served = await startServe(['--port', '0', '--trace', '--limit', 'keepAliveTimeoutMs=60000']);
  let trace = '';
  served.child.stderr.on('data', (d: string) => { trace += d; });
  return { ...served, trace: () => trace };
}

/** The server's trace lines for the connection from 127.0.0.1:`clientPort`. */
function traceOf(serve: Serve, clientPort: number): string[] {
  const tuple = `tcp 127.0.0.1:${serve.port} 127.0.0.1:${clientPort} `;
  return serve.trace().split('\n').filter((line) => line.includes(tuple));
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The trace of a connection once its `close` line is there (the trace may lag the peer's exit). */
function closedTrace(serve: Serve, clientPort: number): Promise<string[]> {
  return until(() => {
    const lines = traceOf(serve, clientPort);
    return lines.some((line) => / close +#/.test(line)) ? lines : undefined;
  }, WAIT_MS, `the close of 127.0.0.1:${clientPort} in the server's trace`);
}

async function connections(port: number): Promise<Row[]> {
  const response = await fetch(`http://127.0.0.1:${port}/connections`, { signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { connections: Row[] }).connections;
}

async function runPythonClient(serve: Serve, path: string, mode: 'default' | 'none' | 'strict' | 'bare' | 'two-offers' | 'mixed', cases: readonly Case[] = CASES): Promise<PythonClientResult> {
  const ran = await runCommand(PYTHON, ['-c', PYTHON_CLIENT, `http://127.0.0.1:${serve.port}`, path, mode, JSON.stringify(cases)], PEER_TIMEOUT_MS);
  assert.equal(ran.code, 0, `python client (${mode}) failed:\n${ran.stderr}\n--- serve trace (tail) ---\n${serve.trace().slice(-4_000)}`);
  return JSON.parse(ran.stdout) as PythonClientResult;
}

function assertEchoes(result: PythonClientResult, cases: readonly Case[] = CASES): void {
  assert.deepEqual(result.results.map((r) => r.name), cases.map(([name]) => name));
  for (const r of result.results) {
    assert.equal(r.equal, true, `${r.name}: echoed byte for byte`);
    assert.equal(r.echoType, r.kind === 'text' ? 'str' : 'bytes', `${r.name}: echoed as ${r.kind}`);
  }
  assert.equal(result.closeCode, 1000);
}

// --- our client against the Python server ---

/** Messages of a WebSocket, queued, each waited for with a deadline. */
function inbox(ws: WebSocket): (ms?: number) => Promise<{ data: string | Uint8Array; isBinary: boolean }> {
  const queue: Array<{ data: string | Uint8Array; isBinary: boolean }> = [];
  const waiters: Array<() => void> = [];
  let closed: string | undefined;
  ws.on('message', (data, isBinary) => { queue.push({ data, isBinary }); waiters.shift()?.(); });
  ws.on('close', (code, reason) => { closed = `closed ${code} ${reason}`; for (const wake of waiters.splice(0)) wake(); });
  return async (ms = WAIT_MS) => {
    if (queue.length === 0) {
      if (closed) throw new Error(`no message: ${closed}`);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
        waiters.push(() => { clearTimeout(timer); resolve(); });
      });
      if (queue.length === 0) throw new Error(`no message: ${closed}`);
    }
    return queue.shift()!;
  };
}

/** Send every case over `ws` and check each echo byte for byte; then a clean close 1000. Returns what was sent. */
async function exchangeAll(ws: WebSocket): Promise<Array<string | Buffer>> {
  const next = inbox(ws);
  const sent: Array<string | Buffer> = [];
  for (const [name, kind, content, size] of CASES) {
    const data = payload(kind, content, size);
    sent.push(data);
    ws.send(data);
    const echo = await next();
    assert.equal(echo.isBinary, kind === 'binary', `${name}: echoed as ${kind}`);
    if (typeof data === 'string') {
      assert.equal(typeof echo.data, 'string', name);
      assert.ok(echo.data === data, `${name}: the ${size}-character echo differs`);
    } else {
      assert.ok(echo.data instanceof Uint8Array, name);
      assert.ok(Buffer.from(echo.data).equals(data), `${name}: the ${size}-byte echo differs`);
    }
  }
  const closed = new Promise<[number, string, boolean]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close event within 10 s')), WAIT_MS);
    ws.once('close', (code, reason, wasClean) => { clearTimeout(timer); resolve([code, reason, wasClean]); });
  });
  ws.close(1000, 'done');
  assert.deepEqual(await closed, [1000, 'done', true], 'a clean close 1000');
  return sent;
}

/** What was sent, as the Python server logged the plain messages it received (text length in code points). */
function assertPlain(plain: ReadonlyArray<[string, number]>, sent: ReadonlyArray<string | Buffer>): void {
  assert.deepEqual(plain, sent.map((data) => (typeof data === 'string' ? ['str', [...data].length] : ['bytes', data.length])));
}

/**
 * `switchyard connect ARGS`, one line of stdin at a time: each is written once the previous one's echo
 * is on stdout, then stdin ends. (All at once, the CLI's Close follows the last line at once, and
 * websockets answers a Close before echoing the messages still queued, so the last echoes may never come:
 * RFC 6455 §7.1.2 lets it, and the CLI documents that it closes at the end of stdin.)
 */
async function connectLineByLine(args: string[], lines: readonly string[]): Promise<CliResult> {
  const child = runCli(args);
  let stdout = '';
  // No setEncoding: finish() collects the same stream as Buffers.
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString('latin1'); });
  child.stdin.on('error', () => {});
  const result = finish(child);
  result.catch(() => {}); // awaited below; a failure while writing lines must not go unhandled meanwhile
  let expected = '';
  try {
    for (const line of lines) {
      child.stdin.write(`${line}\n`);
      expected += `${line}\n`;
      await until(() => (stdout.length >= expected.length ? true : undefined), WAIT_MS, `the echo of line ${JSON.stringify(line.slice(0, 20))}`);
    }
  } finally {
    child.stdin.end();
  }
  return result;
}

// --- Chromium ---

const BROWSER_PEER = (port: number): string => `(async () => {
  const ws = new WebSocket('ws://127.0.0.1:${port}/echo');
  ws.binaryType = 'arraybuffer';
  window.__ws = ws;
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('WebSocket error event before open'));
    setTimeout(() => reject(new Error('not open within 10 s')), 10000);
  });
  const queue = [], waiters = [];
  ws.onmessage = (m) => { if (waiters.length) waiters.shift()(m.data); else queue.push(m.data); };
  const next = () => new Promise((resolve, reject) => {
    if (queue.length) return resolve(queue.shift());
    waiters.push(resolve);
    setTimeout(() => reject(new Error('no echo within 10 s')), 10000);
  });
  let text = '';
  for (let i = 0; text.length < 65536; i++) text += String(i).padStart(6, '0') + ' switchyard permessage-deflate interop from chromium\\n';
  text = text.slice(0, 65536);
  const binary = new Uint8Array(65536).map((_, i) => (text.charCodeAt(i) + 128) & 255);
  const random = crypto.getRandomValues(new Uint8Array(16384));
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  ws.send(text);
  const textBack = await next();
  ws.send(binary.buffer);
  const binaryBack = await next();
  ws.send(random);
  const randomBack = await next();
  return {
    extensions: ws.extensions, protocol: ws.protocol,
    text: typeof textBack === 'string' && textBack === text,
    binary: binaryBack instanceof ArrayBuffer && same(new Uint8Array(binaryBack), binary),
    random: randomBack instanceof ArrayBuffer && same(new Uint8Array(randomBack), random),
  };
})()`;

const BROWSER_CLOSE = `new Promise((resolve, reject) => {
  window.__ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
  window.__ws.close(1000, 'bye');
  setTimeout(() => reject(new Error('no close event within 10 s')), 10000);
})`;

describe('permessage-deflate (RFC 7692) with independent peers', () => {
  let serve: Serve | undefined;

  before(async () => { serve = await startTracingServe(); });
  after(async () => { if (serve) await stopServe(serve.child); });

  describe('Python websockets as the client of switchyard serve', () => {
    it('default offer: the 101 agrees 12-bit windows, every size echoes byte for byte, compressed from 64 B on', { timeout: 90_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      const result = await runPythonClient(serve!, '/echo', 'default');
      t.diagnostic(`python websockets ${result.websockets}`);
      assert.equal(result.offered, 'permessage-deflate; client_max_window_bits', "websockets' default offer");
      assert.equal(result.agreed, DEFAULT_AGREED, 'the server compresses with at most 12 bits and asks the same of the client');
      assert.deepEqual(result.params, { remoteNoContextTakeover: false, localNoContextTakeover: false, remoteMaxWindowBits: 12, localMaxWindowBits: 12 }, 'as Python applies it');
      assertEchoes(result);

      // What the server sent, as Python saw it on the wire; and Python's own messages went compressed too.
      assertCompressedAsAgreed(result.results.map((r) => { assert.equal(r.received.length, 1, r.name); return r.received[0]!; }), CASES, false, 'server → python');
      for (const r of result.results) assert.equal(r.sent[0]?.rsv1, true, `${r.name}: python compresses every message`);
      const fragments = result.results.find((r) => r.name === 'fragments 20000')!;
      // websockets sends an iterable as one frame per item and then an empty final frame.
      assert.equal(fragments.sent.length, 1, JSON.stringify(fragments.sent));
      assert.ok(fragments.sent[0]!.frames >= 4 && fragments.sent[0]!.rsv1, `python sent one compressed message in several frames: ${JSON.stringify(fragments.sent)}`);

      const row = result.row;
      assert.ok(row, `the server lists the connection from port ${result.local[1]}`);
      assert.deepEqual([row.state, row.protocol, row.extensions], ['upgraded', 'websocket', DEFAULT_AGREED]);
      // The socket carried the random bytes plus a small fraction of the compressible ones (542 KB each way).
      const budget = OTHER_TOTAL + COMPRESSIBLE_TOTAL / 10;
      t.diagnostic(`payload ${COMPRESSIBLE_TOTAL + OTHER_TOTAL} B each way; on the wire in ${row.bytesIn} B, out ${row.bytesOut} B`);
      assert.ok(row.bytesIn < budget && row.bytesOut < budget, `bytesIn ${row.bytesIn}, bytesOut ${row.bytesOut}: ${COMPRESSIBLE_TOTAL} B of compressible payload each way must cost under ${budget} B`);
      assert.ok(row.bytesIn > RANDOM_TOTAL && row.bytesOut > RANDOM_TOTAL, 'the random bytes cannot shrink');

      // The server's own view, in its trace: RSV1 on the frames, the deflated size per message.
      const trace = (await closedTrace(serve!, result.local[1])).join('\n');
      for (const kind of ['text', 'binary']) {
        for (const size of SIZES) {
          const out = new RegExp(`websocket → message ${kind} ${size} B \\((?:deflated to (\\d+) B|uncompressed)\\)`).exec(trace);
          assert.ok(out, `the trace has the server's ${kind} ${size} B message:\n${trace.slice(0, 3_000)}`);
          if (size < THRESHOLD) assert.equal(out[1], undefined, `${kind} ${size} B goes out uncompressed`);
          else assert.ok(out[1] !== undefined && (size < 1024 || Number(out[1]) < size / 5), `${kind} ${size} B goes out deflated: ${out[0]}`);
          assert.match(trace, new RegExp(`websocket ← message ${kind} ${size} B \\(deflated to \\d+ B\\)`), `python's ${kind} ${size} B arrived deflated`);
        }
        assert.match(trace, new RegExp(`websocket → frame ${kind} fin=\\d rsv1=1 len=\\d+`));
        assert.match(trace, new RegExp(`websocket ← frame ${kind} fin=\\d rsv1=1 len=\\d+`));
      }
    });

    it('a strict offer (10-bit windows, no context takeover both ways) is agreed as offered and the server keeps to it', { timeout: 90_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      const result = await runPythonClient(serve!, '/echo', 'strict');
      assert.equal(result.offered, STRICT_AGREED, 'the strict offer: the same parameters, in the same order');
      assert.equal(result.agreed, STRICT_AGREED);
      assertEchoes(result);
      // Python inflates every message with a fresh 10-bit context: a server keeping its context would have
      // made "decompression failed" above; the sizes show the window was small too.
      assertCompressedAsAgreed(result.results.map((r) => r.received[0]!), CASES, true, 'server → python');
      assert.equal(result.row?.extensions, STRICT_AGREED);
      const trace = await closedTrace(serve!, result.local[1]);
      assert.ok(trace.some((line) => / → frame text fin=\d rsv1=1 /.test(line)), trace.join('\n'));
    });

    it('an offer without client_max_window_bits: the server may not limit the client window (RFC 7692 §7.1.2.2)', { timeout: 90_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      const result = await runPythonClient(serve!, '/echo', 'bare');
      assert.equal(result.offered, 'permessage-deflate');
      assert.equal(result.agreed, 'permessage-deflate; server_max_window_bits=12', 'no client_max_window_bits in the answer: it was not offered');
      assert.deepEqual(result.params, { remoteNoContextTakeover: false, localNoContextTakeover: false, remoteMaxWindowBits: 12, localMaxWindowBits: 15 });
      assertEchoes(result);
      assertCompressedAsAgreed(result.results.map((r) => r.received[0]!), CASES, false, 'server → python');
      assert.equal(result.row?.extensions, 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=15', 'the row lists both windows: the client may use 15 bits');
    });

    it('two offers, the first asking for an 8-bit server window: declined, and the second agreed (RFC 7692 §5.1, §7.1.2.1)', { timeout: 90_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      const result = await runPythonClient(serve!, '/echo', 'two-offers');
      assert.equal(result.offered, 'permessage-deflate; server_max_window_bits=8; client_max_window_bits, permessage-deflate; client_max_window_bits');
      assert.equal(result.agreed, DEFAULT_AGREED, 'zlib cannot compress with 8 bits, so the server takes the second offer');
      assert.deepEqual(result.params, { remoteNoContextTakeover: false, localNoContextTakeover: false, remoteMaxWindowBits: 12, localMaxWindowBits: 12 });
      assertEchoes(result);
      assertCompressedAsAgreed(result.results.map((r) => r.received[0]!), CASES, false, 'server → python');
      assert.equal(result.row?.extensions, DEFAULT_AGREED);
    });

    it('small messages sent uncompressed between compressed ones: the server keeps them out of its inflate history', { timeout: 90_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      // Each compressed message after the first refers back into an earlier one across the small ones
      // between them; had the server put those into its window, the references would land on wrong bytes.
      const cases: Case[] = [
        ['repeat 1', 'text', 'repeat', 500], ['text 16', 'text', 'pattern', 16], ['binary 0', 'binary', 'pattern', 0],
        ['repeat 2', 'text', 'repeat', 500], ['text 1024', 'text', 'pattern', 1024], ['binary 63', 'binary', 'pattern', 63],
        ['text 2048', 'text', 'pattern', 2048], ['text 63', 'text', 'pattern', 63], ['repeat 3', 'text', 'repeat', 500],
      ];
      const result = await runPythonClient(serve!, '/echo', 'mixed', cases);
      assert.equal(result.agreed, DEFAULT_AGREED);
      assertEchoes(result, cases);
      for (const r of result.results) {
        const small = (cases.find(([name]) => name === r.name)![3]) < THRESHOLD;
        assert.equal(r.sent[0]?.rsv1, !small, `${r.name}: python sent it ${small ? 'uncompressed' : 'compressed'}`);
      }
      const trace = (await closedTrace(serve!, result.local[1])).join('\n');
      assert.match(trace, /websocket ← message text 16 B \(uncompressed\)/);
      assert.match(trace, /websocket ← message text 1024 B \(deflated to \d+ B\)/);
      const repeats = [...trace.matchAll(/websocket ← message text 500 B \(deflated to (\d+) B\)/g)].map((m) => Number(m[1]));
      assert.equal(repeats.length, 3);
      assert.ok(repeats[1]! < 20 && repeats[2]! < 20, `the repeats were back references across the uncompressed messages: ${repeats.join(', ')} B`);
    });

    it('compression=None: no extension in the 101 or on the row, no RSV1 frame, and the same echoes', { timeout: 90_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      const result = await runPythonClient(serve!, '/echo', 'none');
      assert.equal(result.offered, null);
      assert.equal(result.agreed, null, 'nothing offered, nothing agreed');
      assert.equal(result.params, null);
      assertEchoes(result);
      const row = result.row;
      assert.ok(row);
      assert.equal(row.extensions, undefined, JSON.stringify(row));
      const payloadBytes = COMPRESSIBLE_TOTAL + OTHER_TOTAL;
      assert.ok(row.bytesIn > payloadBytes && row.bytesOut > payloadBytes, `uncompressed, every payload byte is on the wire: in ${row.bytesIn}, out ${row.bytesOut}, payload ≥ ${payloadBytes}`);
      const trace = await closedTrace(serve!, result.local[1]);
      const frames = trace.filter((line) => / websocket [←→] frame (?:text|binary|continuation)/.test(line));
      assert.ok(frames.length >= 2 * CASES.length, trace.join('\n'));
      assert.deepEqual(frames.filter((line) => /rsv1=1|deflated/.test(line)), [], 'no compressed frame either way');
    });
  });

  describe('Python websockets as the server, our client and CLI', () => {
    let defaultServer: PythonServer | undefined;
    let strictServer: PythonServer | undefined;
    let client8Server: PythonServer | undefined;
    let python = false;

    before(async () => {
      // requireCommand needs a test context; probe here, and let each test skip or fail by itself.
      const probe = await runCommand(PYTHON, ['-c', 'import websockets'], PEER_TIMEOUT_MS).catch(() => undefined);
      python = probe?.code === 0;
      if (!python) return;
      defaultServer = await startPythonServer('default');
      strictServer = await startPythonServer('strict');
      client8Server = await startPythonServer('client8');
    });
    after(async () => {
      if (defaultServer) await stopPythonServer(defaultServer);
      if (strictServer) await stopPythonServer(strictServer);
      if (client8Server) await stopPythonServer(client8Server);
    });

    it("connect(): websockets' default policy is agreed, every size echoes byte for byte, closed cleanly with 1000", { timeout: 90_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      assert.ok(python && defaultServer);
      const ws = await connect(`ws://127.0.0.1:${defaultServer.port}/lib-default`, { timeoutMs: WAIT_MS });
      assert.equal(ws.extensions, DEFAULT_AGREED);
      const sent = await exchangeAll(ws);
      const seen = await defaultServer.closed('/lib-default');
      assert.equal(seen.offered, 'permessage-deflate; client_max_window_bits', 'our default offer');
      assert.equal(seen.agreed, DEFAULT_AGREED, "websockets' default answer");
      assert.deepEqual([seen.code, seen.reason], [1000, 'done']);
      assertPlain(seen.plain, sent);
      // What our client put on the wire, as Python logged it before inflating.
      assertCompressedAsAgreed(seen.in, CASES, false, 'our client → python');
    });

    it('connect(): a strict ServerPerMessageDeflateFactory (10-bit windows, no context takeover) is applied by our client', { timeout: 90_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      assert.ok(python && strictServer);
      const ws = await connect(`ws://127.0.0.1:${strictServer.port}/lib-strict`, { timeoutMs: WAIT_MS });
      assert.equal(ws.extensions, STRICT_AGREED);
      const sent = await exchangeAll(ws);
      const seen = await strictServer.closed('/lib-strict');
      assert.equal(seen.agreed, STRICT_AGREED);
      assert.deepEqual(seen.params, { remoteNoContextTakeover: true, localNoContextTakeover: true, remoteMaxWindowBits: 10, localMaxWindowBits: 10 });
      assert.deepEqual([seen.code, seen.reason], [1000, 'done']);
      assertPlain(seen.plain, sent);
      // Python inflates each message with a fresh 10-bit context; the sizes show our client compressed so.
      assertCompressedAsAgreed(seen.in, CASES, true, 'our client → python');
    });

    it('connect({ deflate: false }) offers nothing and still echoes', { timeout: 60_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      assert.ok(python && defaultServer);
      const ws = await connect(`ws://127.0.0.1:${defaultServer.port}/lib-none`, { timeoutMs: WAIT_MS, deflate: false });
      assert.equal(ws.extensions, '');
      const sent = await exchangeAll(ws);
      const seen = await defaultServer.closed('/lib-none');
      assert.deepEqual([seen.offered, seen.agreed, seen.params], [null, null, null]);
      assertPlain(seen.plain, sent);
    });

    it('a server demanding client_max_window_bits=8 fails the handshake, in connect() and in the CLI (RFC 7692 §7.1.2.2)', { timeout: 60_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      assert.ok(python && client8Server);
      // zlib cannot compress with an 8-bit window, so our client may not accept the extension as answered,
      // and RFC 7692 §7.1 says a client that does not accept a response must fail the connection.
      await assert.rejects(connect(`ws://127.0.0.1:${client8Server.port}/lib-client8`, { timeoutMs: WAIT_MS }),
        (error: Error & { code?: string; status?: number }) => {
          assert.equal(error.code, 'ERR_INVALID_EXTENSION_RESPONSE', error.message);
          assert.equal(error.status, 101);
          assert.match(error.message, /client_max_window_bits=8/);
          return true;
        });
      const cli = await connectLineByLine(['connect', `ws://127.0.0.1:${client8Server.port}/cli-client8`], []);
      assert.equal(cli.code, 1, `exit 1: a 101 that fails the checks\n${cli.stderr}`);
      assert.match(cli.stderr, /unacceptable permessage-deflate response \(client_max_window_bits=8: .*\): permessage-deflate; client_max_window_bits=8/);
      assert.equal(cli.stdout, '');
      // Python saw each connection end without a WebSocket close: the client dropped TCP, as §7.1.7 says.
      for (const path of ['/lib-client8', '/cli-client8']) {
        const seen = await client8Server.closed(path);
        assert.equal(seen.agreed, 'permessage-deflate; client_max_window_bits=8');
        assert.equal(seen.code, 1006, `${path}: no Close frame`);
        assert.deepEqual(seen.plain, []);
      }
    });

    it('switchyard connect --verbose shows the agreed extension and the deflated sizes; --no-deflate offers none', { timeout: 120_000 }, async (t) => {
      if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
      assert.ok(python && defaultServer && strictServer);
      const wide = 'switchyard '.repeat(30).trimEnd(); // 329 B, compressible
      const lines = ['hello', wide, REPEATED, REPEATED];
      const input = lines.map((line) => `${line}\n`).join('');

      const sizes = (stderr: string, direction: 'sent' | 'received'): Array<[number, number | undefined]> =>
        [...stderr.matchAll(new RegExp(`^\\* ${direction} text (\\d+) B, (?:deflated to (\\d+) B|uncompressed)$`, 'gm'))]
          .map((m) => [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])]);

      const plain = await connectLineByLine(['connect', '--verbose', `ws://127.0.0.1:${defaultServer.port}/cli-default`], lines);
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(plain.stdout, input, 'every line echoed');
      assert.match(plain.stderr, /^> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits$/m);
      assert.match(plain.stderr, new RegExp(`^< Sec-WebSocket-Extensions: ${DEFAULT_AGREED}$`, 'm'));
      assert.match(plain.stderr, new RegExp(`^\\* extensions: ${DEFAULT_AGREED} \\(RFC 7692\\)$`, 'm'));
      const sent = sizes(plain.stderr, 'sent');
      assert.deepEqual(sent.map(([size]) => size), [5, 329, 500, 500], plain.stderr);
      assert.equal(sent[0]![1], undefined, '5 B go uncompressed');
      assert.ok(sent[1]![1]! < 60, `329 B of "switchyard " deflate to a few bytes: ${sent[1]![1]}`);
      assert.ok(sent[3]![1]! < sent[2]![1]! / 4, `with context takeover the repeated line is a back reference: ${sent[2]![1]} then ${sent[3]![1]} B`);
      // Python compresses all its messages, even 5 B.
      assert.deepEqual(sizes(plain.stderr, 'received').map(([size, deflated]) => [size, deflated !== undefined]), [[5, true], [329, true], [500, true], [500, true]]);
      assert.match(plain.stderr, /^\* closed cleanly: 1000$/m);
      const seen = await defaultServer.closed('/cli-default');
      assert.equal(seen.agreed, DEFAULT_AGREED);
      assert.deepEqual(seen.in.map((m) => [m.rsv1, m.wire]), sent.map(([size, deflated]) => [deflated !== undefined, deflated ?? size]), 'the CLI reports the sizes Python saw on the wire');

      const strict = await connectLineByLine(['connect', '--verbose', `ws://127.0.0.1:${strictServer.port}/cli-strict`], lines);
      assert.equal(strict.code, 0, strict.stderr);
      assert.equal(strict.stdout, input);
      assert.match(strict.stderr, new RegExp(`^\\* extensions: ${STRICT_AGREED} \\(RFC 7692\\)$`, 'm'));
      const strictSent = sizes(strict.stderr, 'sent');
      assert.equal(strictSent[3]![1], strictSent[2]![1], `no context takeover: the repeated line costs the same: ${strict.stderr}`);
      assert.equal((await strictServer.closed('/cli-strict')).agreed, STRICT_AGREED);

      const none = await connectLineByLine(['connect', '--verbose', '--no-deflate', `ws://127.0.0.1:${defaultServer.port}/cli-none`], lines);
      assert.equal(none.code, 0, none.stderr);
      assert.equal(none.stdout, input);
      assert.match(none.stderr, /^\* extensions: none offered \(--no-deflate\)$/m);
      assert.doesNotMatch(none.stderr, /Sec-WebSocket-Extensions/i, 'no offer, no answer');
      assert.doesNotMatch(none.stderr, /deflated/);
      const noneSeen = await defaultServer.closed('/cli-none');
      assert.deepEqual([noneSeen.offered, noneSeen.agreed], [null, null]);
      assert.deepEqual(noneSeen.plain, [['str', 5], ['str', 329], ['str', 500], ['str', 500]]);
    });
  });

  describe('Chromium', () => {
    it('new WebSocket(ws://…/echo): 64 KiB text and binary echo equal, ws.extensions is the agreed line, the row shows it', { timeout: 90_000 }, async (t) => {
      const executable = findChromium();
      if (!executable) {
        if (process.env.CI === 'true') assert.fail('CI is set but chromium is not installed (apt-get install chromium)');
        t.skip('chromium is not installed (apt-get install chromium); under CI this test fails instead');
        return;
      }
      const port = serve!.port;
      const browser = await launchChromium(executable, 15_000);
      let cdp: Cdp | undefined;
      try {
        cdp = await Cdp.connect(browser.wsUrl);
        const page = await CdpPage.open(cdp);
        const events: CdpEvent[] = [];
        cdp.on((event) => { if (event.sessionId === page.sessionId && event.method.startsWith('Network.webSocket')) events.push(event); });
        await page.send('Network.enable');

        const seen = await page.evaluate<{ extensions: string; protocol: string; text: boolean; binary: boolean; random: boolean }>(BROWSER_PEER(port), 30_000);
        assert.deepEqual([seen.text, seen.binary, seen.random], [true, true, true], 'all three echoed equal');
        assert.equal(seen.protocol, '');

        const request = events.find((e) => e.method === 'Network.webSocketWillSendHandshakeRequest');
        const response = events.find((e) => e.method === 'Network.webSocketHandshakeResponseReceived');
        assert.ok(request && response, `the handshake was seen: ${events.map((e) => e.method).join(' ')}`);
        const header = (headers: Record<string, string>, name: string): string | undefined =>
          Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
        assert.equal(header(request.params.request.headers, 'sec-websocket-extensions'), 'permessage-deflate; client_max_window_bits', "Chromium's offer");
        assert.equal(response.params.response.status, 101);
        const agreed = header(response.params.response.headers, 'sec-websocket-extensions');
        assert.equal(agreed, DEFAULT_AGREED, 'the server answers Chromium as it answers any client_max_window_bits offer');
        assert.equal(seen.extensions, agreed, 'ws.extensions is the agreed line as Chromium reports it');

        // While the browser's WebSocket is still open: the server's row for it (the only WebSocket now).
        const rows = (await connections(port)).filter((row) => row.protocol === 'websocket' && row.state === 'upgraded');
        assert.equal(rows.length, 1, JSON.stringify(rows));
        const row = rows[0]!;
        assert.equal(row.extensions, seen.extensions, 'the row shows what the browser agreed');
        // 128 KiB of compressible payload and 16 KiB of random bytes each way.
        t.diagnostic(`chromium ${(await cdp.send<{ product: string }>('Browser.getVersion')).product}: 144 KiB each way, on the wire in ${row.bytesIn} B, out ${row.bytesOut} B`);
        assert.ok(row.bytesIn < 16_384 + 16_384 && row.bytesOut < 16_384 + 16_384, `compressed on the wire: in ${row.bytesIn} B, out ${row.bytesOut} B`);
        assert.ok(row.bytesIn > 16_384 && row.bytesOut > 16_384, 'the random bytes cannot shrink');

        const closed = await page.evaluate<{ code: number; reason: string; wasClean: boolean }>(BROWSER_CLOSE, 15_000);
        assert.deepEqual(closed, { code: 1000, reason: 'bye', wasClean: true });
        const clientPort = Number(/ 127\.0\.0\.1:(\d+)$/.exec(row.fiveTuple)?.[1]);
        const trace = (await closedTrace(serve!, clientPort)).join('\n');
        assert.match(trace, /websocket ← message text 65536 B \(deflated to \d+ B\)/, 'Chromium compressed its text');
        assert.match(trace, /websocket ← message binary 65536 B \(deflated to \d+ B\)/, 'and its binary');
        assert.match(trace, /websocket → message text 65536 B \(deflated to \d+ B\)/);
        assert.match(trace, /websocket → message binary 65536 B \(deflated to \d+ B\)/);
        assert.match(trace, /websocket ← close code=1000/);
        assert.deepEqual(page.problems, [], 'no script errors');
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- chromium stderr (tail) ---\n${browser.stderrTail().slice(-4_000)}`, { cause: error });
      } finally {
        await cdp?.send('Browser.close', {}, undefined, 3_000).catch(() => {});
        cdp?.close();
        await browser.close();
      }
    });
  });
});
