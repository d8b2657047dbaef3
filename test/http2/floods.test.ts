/** HTTP/2 floods written as raw frames (RFC 9113 §4.1) over net.Socket; another client must still be served. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { once } from 'node:events';
import { connect as h2connect } from 'node:http2';
import { withLab } from '../helpers/lab.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type; head[4] = flags; head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}
// HPACK: :method GET (2), :scheme http (6), :path / (4), :authority "lab" (literal, indexed name 1).
const GET_BLOCK = Buffer.from([0x82, 0x86, 0x84, 0x41, 0x03, 0x6c, 0x61, 0x62]);

interface Outcome { closed: boolean; goaway: number | undefined; framesSent: number; ms: number }

/** Write frames from `next` until the server closes or `max` frames; parse incoming frames for GOAWAY. */
async function flood(port: number, next: (i: number) => Buffer, max: number, timeoutMs = 5_000, read = true): Promise<Outcome> {
  const socket: Socket = netConnect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
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
    if (!socket.write(Buffer.concat(batch))) await Promise.race([once(socket, 'drain'), once(socket, 'close'), new Promise((r) => setTimeout(r, 200))]);
    await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + timeoutMs;
  while (!closed && Date.now() < deadline) { if (!read) socket.resume(); await new Promise((r) => setTimeout(r, 10)); }
  const ms = Date.now() - started;
  socket.destroy();
  return { closed, goaway, framesSent: sent, ms };
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

describe('HTTP/2 floods', () => {
  it('rapid reset (HEADERS + RST_STREAM, CVE-2023-44487) tears the session down; others are served', () => withLab({}, async (server) => {
    const out = await flood(server.port, (i) => {
      const id = 2 * Math.floor(i / 2) + 1;
      return i % 2 === 0 ? frame(1, 0x5, id, GET_BLOCK) : frame(3, 0, id, Buffer.from([0, 0, 0, 8]));
    }, 20_000);
    console.log(`# rapid reset: ${JSON.stringify(out)}`);
    assert.equal(out.closed, true, `session survived ${out.framesSent} frames`);
    assert.equal(await healthz(server.port), 'ok\n');
  }));

  it('PING flood without reading is bounded; others are served', () => withLab({}, async (server) => {
    const out = await flood(server.port, (i) => { const p = Buffer.alloc(8); p.writeUInt32BE(i, 4); return frame(6, 0, 0, p); }, 20_000, 5_000, false);
    console.log(`# ping flood: ${JSON.stringify(out)}`);
    assert.equal(await healthz(server.port), 'ok\n');
  }));

  it('SETTINGS flood; others are served', () => withLab({}, async (server) => {
    const out = await flood(server.port, () => frame(4, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100])), 20_000, 5_000, false);
    console.log(`# settings flood: ${JSON.stringify(out)}`);
    assert.equal(await healthz(server.port), 'ok\n');
  }));

  it('CONTINUATION flood (HEADERS without END_HEADERS, then endless CONTINUATION) closes the connection', () => withLab({}, async (server) => {
    const junk = Buffer.concat(Array.from({ length: 100 }, (_, k) => Buffer.from([0x40, 0x03, 0x78, 0x2d, 0x61 + (k % 26), 0x03, 0x61, 0x61, 0x61])));
    const out = await flood(server.port, (i) => i === 0 ? frame(1, 0x1, 1, GET_BLOCK) : frame(9, 0, 1, junk), 20_000);
    console.log(`# continuation flood: ${JSON.stringify(out)}`);
    assert.equal(out.closed, true, `connection survived ${out.framesSent} frames`);
    assert.equal(await healthz(server.port), 'ok\n');
  }));
});
