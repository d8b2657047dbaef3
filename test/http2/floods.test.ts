/**
 * HTTP/2 floods written as raw frames (RFC 9113 §4.1) over net.Socket against a `serve` process of its own,
 * so the server's memory is its own: each flood must be cut by the server, cost it little memory (VmRSS
 * before and at the peak), and leave it serving another client. The figures printed go to docs/reliability.md.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { once } from 'node:events';
import { connect as h2connect } from 'node:http2';
import { readFileSync } from 'node:fs';
import { withLab } from '../helpers/lab.js';
import { type Served, startServe, stopServe } from '../helpers/serve.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type; head[4] = flags; head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}
// HPACK: :method GET (2), :scheme http (6), :path / (4), :authority "lab" (literal, indexed name 1).
const GET_BLOCK = Buffer.from([0x82, 0x86, 0x84, 0x41, 0x03, 0x6c, 0x61, 0x62]);

/** `framesSent` counts what the client wrote (some of it may sit unread in buffers when the server cuts). */
interface Outcome { closed: boolean; goaway: number | undefined; reset: boolean; framesSent: number; ms: number; rssGrowthKiB: number }

/** The server process's resident set, from /proc (Linux); what the flood costs is its growth. */
const rssKiB = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

/** Well above what a cut flood costs (≈0.5–4 MiB measured) and far below what an uncut one would hold. */
const MAX_RSS_GROWTH_KIB = 32 * 1024;

/** Write frames from `next` until the server closes or `max` frames; parse incoming frames for GOAWAY. */
/** The server to flood: its port, and the process whose memory is measured. */
interface Target { readonly port: number; readonly pid: number }
const targetOf = (served: Served): Target => ({ port: served.port, pid: served.child.pid! });

async function flood(target: Target, next: (i: number) => Buffer, max: number, timeoutMs = 5_000, read = true): Promise<Outcome> {
  const { pid } = target;
  const rssBefore = rssKiB(pid);
  let rssPeak = rssBefore;
  const socket: Socket = netConnect({ port: target.port, host: '127.0.0.1' });
  let reset = false;
  socket.on('error', (error: NodeJS.ErrnoException) => { if (error.code === 'ECONNRESET') reset = true; });
  await once(socket, 'connect');
  let closed = false; let goaway: number | undefined; let buf = Buffer.alloc(0);
  socket.on('close', () => { closed = true; });
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      if (buf[3] === 7 && goaway === undefined) goaway = buf.readUInt32BE(9 + 4);
      buf = buf.subarray(9 + len);
    }
  });
  if (!read) socket.pause();
  const started = Date.now();
  socket.write(Buffer.concat([PREFACE, frame(4, 0, 0)]));
  let sent = 0;
  while (sent < max && !closed && Date.now() - started < timeoutMs) {
    const batch: Buffer[] = [];
    for (let k = 0; k < 50 && sent < max; k++) batch.push(next(sent++));
    // Not events.once: it rejects on the EPIPE that a server cutting us off produces.
    if (!socket.write(Buffer.concat(batch))) await new Promise((r) => { socket.once('drain', r); socket.once('close', r); setTimeout(r, 200); });
    if (sent % 1_000 === 0) rssPeak = Math.max(rssPeak, rssKiB(pid));
    await new Promise((r) => setImmediate(r));
  }
  rssPeak = Math.max(rssPeak, rssKiB(pid));
  const deadline = Date.now() + timeoutMs;
  while (!closed && Date.now() < deadline) { if (!read) socket.resume(); await new Promise((r) => setTimeout(r, 10)); }
  const ms = Date.now() - started;
  socket.destroy();
  return { closed, goaway, reset, framesSent: sent, ms, rssGrowthKiB: rssPeak - rssBefore };
}

async function healthz(port: number): Promise<string> {
  const client = h2connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('healthz timed out')), 3_000);
      const req = client.request({ ':path': '/healthz' });
      let text = ''; req.setEncoding('utf8');
      req.on('data', (c: string) => { text += c; });
      req.once('end', () => { clearTimeout(timer); resolve(text); });
      req.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  } finally { client.destroy(); }
}

const MAX_FRAMES = 100_000;

function assertCut(name: string, out: Outcome): void {
  console.log(`# ${name}: ${JSON.stringify(out)}`);
  assert.equal(out.closed, true, `${name}: the session survived ${out.framesSent} frames`);
  assert.ok(out.rssGrowthKiB < MAX_RSS_GROWTH_KIB, `${name}: the server grew by ${out.rssGrowthKiB} KiB`);
}

describe('HTTP/2 floods against one serve process', () => {
  let served: Served | undefined;
  before(async () => { served = await startServe(['--port', '0']); });
  after(async () => { if (served) assert.equal(await stopServe(served.child), 0, 'a graceful exit after the floods'); });

  it('rapid reset (HEADERS + RST_STREAM, CVE-2023-44487) is cut with GOAWAY; others are served', async () => {
    const out = await flood(targetOf(served!), (i) => {
      const id = 2 * Math.floor(i / 2) + 1;
      return i % 2 === 0 ? frame(1, 0x5, id, GET_BLOCK) : frame(3, 0, id, Buffer.from([0, 0, 0, 8]));
    }, MAX_FRAMES);
    assertCut('rapid reset', out);
    // The server sends GOAWAY, then closes while this client is still sending: its kernel answers those
    // bytes with a RST, and a Linux receiver drops what it had not read yet when the RST comes, so on a
    // loaded machine the GOAWAY can be lost to the reset. Either way the server ended it, not a FIN alone.
    assert.ok(out.goaway !== undefined || out.reset, `a GOAWAY before the close, or the reset that overtook it: ${JSON.stringify(out)}`);
    assert.equal(await healthz(served!.port), 'ok\n');
  });

  it('PING flood from a client that never reads the ACKs is cut; others are served', async () => {
    const out = await flood(targetOf(served!), (i) => { const p = Buffer.alloc(8); p.writeUInt32BE(i, 4); return frame(6, 0, 0, p); }, MAX_FRAMES, 5_000, false);
    assertCut('ping flood', out);
    assert.equal(await healthz(served!.port), 'ok\n');
  });

  it('SETTINGS flood from a client that never reads the ACKs is cut; others are served', async () => {
    const out = await flood(targetOf(served!), () => frame(4, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100])), MAX_FRAMES, 5_000, false);
    assertCut('settings flood', out);
    assert.equal(await healthz(served!.port), 'ok\n');
  });

  it('CONTINUATION flood (CVE-2024-27316: HEADERS without END_HEADERS, then endless CONTINUATION) is cut; others are served', async () => {
    const junk = Buffer.concat(Array.from({ length: 100 }, (_, k) => Buffer.from([0x40, 0x03, 0x78, 0x2d, 0x61 + (k % 26), 0x03, 0x61, 0x61, 0x61])));
    const out = await flood(targetOf(served!), (i) => i === 0 ? frame(1, 0x1, 1, GET_BLOCK) : frame(9, 0, 1, junk), MAX_FRAMES);
    assertCut('continuation flood', out);
    assert.equal(await healthz(served!.port), 'ok\n');
  });

  it('the table blames the server for a connection nghttp2 cut off, with its reason', () => withLab({}, async (server, events) => {
    await flood({ port: server.port, pid: process.pid }, (i) => {
      const id = 2 * Math.floor(i / 2) + 1;
      return i % 2 === 0 ? frame(1, 0x5, id, GET_BLOCK) : frame(3, 0, id, Buffer.from([0, 0, 0, 8]));
    }, 20_000);
    const closes = events.filter((e) => e.type === 'close');
    assert.equal(closes.length, 1, JSON.stringify(closes));
    const [close] = closes;
    assert.ok(close?.type === 'close');
    assert.equal(close.closedBy, 'server', close.reason);
    assert.match(close.reason, /HTTP\/2/);
  }));
});
