/**
 * keepReadBufferPages: one scrypt per process raises glibc's trim threshold (see the module), started by
 * the first large socket read. Its effect (page faults per 64 KiB message) is measured by the bench, not
 * asserted here; what is asserted is when it starts: once per process, on Linux only, never for small
 * reads, and at a WebSocket's first large message.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

const moduleUrl = new URL('../src/read-buffer-pages.js', import.meta.url).href;
const labUrl = new URL('../src/lab.js', import.meta.url).href;
const codecUrl = new URL('../src/protocols/websocket/frame-codec.js', import.meta.url).href;
const linux = process.platform === 'linux';

/** Runs `body` as an ES module in a fresh Node process (the flag is per process) and returns its stdout as JSON. */
const inFreshProcess = (body: string): unknown => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8', timeout: 30_000 }).trim());

/** A lab in a fresh process; a WebSocket to /echo sends one masked binary message of `size` bytes and waits for its echo; then asks whether the scrypt had already started. */
const afterEchoOf = (size: number): unknown => inFreshProcess(`
  import { startLab } from '${labUrl}';
  import { keepReadBufferPages } from '${moduleUrl}';
  import { connect } from 'node:net';
  import { encodeFrame, Opcode } from '${codecUrl}';
  const lab = await startLab({ port: 0 });
  const socket = connect(lab.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const frame = Buffer.concat(encodeFrame({ opcode: Opcode.Binary, payload: Buffer.alloc(${size}, 7), mask: Uint8Array.of(1, 2, 3, 4) }));
  socket.write('GET /echo HTTP/1.1\\r\\nHost: lab\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n');
  socket.write(frame);
  let received = 0;
  await new Promise((resolve) => socket.on('data', (chunk) => { received += chunk.length; if (received >= ${size}) resolve(); }));
  socket.destroy();
  const startedByThisCall = keepReadBufferPages();
  await lab.close();
  console.log(JSON.stringify({ received: received >= ${size}, startedByThisCall }));
`);

describe('keepReadBufferPages', () => {
  it('starts once per process, and only on Linux; its scrypt completes', () => {
    const out = inFreshProcess(`import { keepReadBufferPages } from '${moduleUrl}';
      const first = await new Promise((resolve) => { const started = keepReadBufferPages(() => resolve(started)); if (!started) resolve(false); });
      console.log(JSON.stringify([first, keepReadBufferPages()]));`);
    assert.deepEqual(out, linux ? [true, false] : [false, false]);
  });

  it('small reads never start it; a read of LARGE_READ_BYTES does', () => {
    const out = inFreshProcess(`import { noteReadSize, keepReadBufferPages, LARGE_READ_BYTES } from '${moduleUrl}';
      noteReadSize(1); noteReadSize(LARGE_READ_BYTES - 1); const small = keepReadBufferPages();
      console.log(JSON.stringify(small));`);
    assert.equal(out, linux);
    const large = inFreshProcess(`import { noteReadSize, keepReadBufferPages, LARGE_READ_BYTES } from '${moduleUrl}';
      noteReadSize(LARGE_READ_BYTES); console.log(JSON.stringify(keepReadBufferPages()));`);
    assert.equal(large, false);
  });

  it('a lab whose WebSocket echoed 1 KiB has not started it; one that echoed 256 KiB has', () => {
    assert.deepEqual(afterEchoOf(1024), { received: true, startedByThisCall: linux });
    assert.deepEqual(afterEchoOf(256 * 1024), { received: true, startedByThisCall: false });
  });
});
