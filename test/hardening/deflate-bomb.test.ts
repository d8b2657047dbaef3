/**
 * The decompression bomb (RFC 7692 §8.1 leaves the limit to the implementation): 1 MiB of compressed
 * data on the wire that would inflate to 1 GiB. Against a real `switchyard serve` process with its
 * default 16 MiB message limit, the server must answer Close 1009 while inflating and its peak memory
 * (VmHWM, the kernel's high-water mark of the process's RSS) must grow by no more than about the limit.
 * The compressed bytes come from node:zlib directly: 16 MiB of zeros deflated with a sync flush end on a
 * byte boundary and refer only backwards within themselves, so copies of them one after another are one
 * valid deflate stream 64 times as long.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { computeAcceptKey } from '../../src/protocols/websocket/accept-key.js';
import { RawClient } from '../helpers/raw-client.js';
import { type Served, startServe, stopServe } from '../helpers/serve.js';

const LIMIT = 16 * 1024 * 1024;
const COPIES = 64;

function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)![1]) * 1024;
}

/** One masked client frame, FIN + RSV1 + binary, with the 64-bit length form (RFC 6455 §5.2). */
function compressedFrame(payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const head = Buffer.alloc(14);
  head[0] = 0xc2;
  head[1] = 0x80 | 127;
  head.writeBigUInt64BE(BigInt(payload.length), 2);
  mask.copy(head, 10);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, body]);
}

describe('a decompression bomb against serve', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  let serve: Served;
  before(async () => { serve = await startServe(['--port', '0']); });
  after(async () => { await stopServe(serve.child); });

  it('1 MiB that would inflate to 1 GiB: Close 1009 while inflating, peak RSS up by about the 16 MiB limit only', { timeout: 60_000 }, async (t) => {
    const block = deflateRawSync(Buffer.alloc(LIMIT), { finishFlush: constants.Z_SYNC_FLUSH });
    const bomb = Buffer.concat(Array.from({ length: COPIES }, () => block));
    const inflatesTo = COPIES * LIMIT;

    const client = await RawClient.open(serve.port);
    const key = randomBytes(16).toString('base64');
    client.write(`GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`);
    const head = await client.waitFor((text) => text.includes('\r\n\r\n'), 5_000, 'the 101');
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, new RegExp(`\r\nSec-WebSocket-Accept: ${computeAcceptKey(key).replace(/[+/]/g, '\\$&')}\r\n`));
    assert.match(head, /\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n/);
    const headLength = head.indexOf('\r\n\r\n') + 4;

    const peakBefore = peakRssBytes(serve.child.pid!);
    client.write(compressedFrame(bomb));
    // The server's Close: 0x88, a length, then the code 1009 (RFC 6455 §7.4.1: "too big to process").
    const seen = await client.waitFor((text) => text.length >= headLength + 4, 20_000, 'the Close frame');
    const close = Buffer.from(seen, 'latin1').subarray(headLength);
    assert.equal(close[0], 0x88, `a Close frame, got ${close.subarray(0, 8).toString('hex')}`);
    assert.equal(close.readUInt16BE(2), 1009);
    await client.waitFor(() => client.ended, 10_000, 'the server to close TCP');
    const grew = peakRssBytes(serve.child.pid!) - peakBefore;
    t.diagnostic(`bomb: ${bomb.length} B compressed would inflate to ${inflatesTo} B; serve's peak RSS grew ${(grew / 2 ** 20).toFixed(1)} MiB (limit ${LIMIT / 2 ** 20} MiB)`);
    // The limit's worth of output, plus zlib's last output chunk and the frame itself (1 MiB, unmasked in place).
    assert.ok(grew < LIMIT + 24 * 2 ** 20, `peak RSS grew ${grew} bytes`);
    client.socket.destroy();
  });
});
