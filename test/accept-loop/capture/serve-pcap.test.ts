/**
 * `switchyard serve --pcap FILE`, judged by Debian's tshark: the file a real server wrote while real
 * clients used it holds each connection as TCP on its real client port, with the HTTP upgrade, its 101,
 * the WebSocket frames both ways and the close code; TLS connections decrypted on their real ports, with
 * `--tls-keylog` holding the very secrets the client derived; HTTP/2 frames; a capped capture that still
 * opens and says why it ends; one file per worker.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../helpers/cli.js';
import { body, session, status } from '../../helpers/h2-client.js';
import { RawClient } from '../../helpers/raw-client.js';
import { requireCommand } from '../../helpers/require-command.js';
import { startServe, stopServe } from '../../helpers/serve.js';
import { hex } from '../../protocols/websocket/wire.js';

const upgrade = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
  + 'Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** A masked client frame (RFC 6455 §5.3), payloads under 126 bytes. */
function maskedFrame(opcode: number, payload: Uint8Array): Buffer {
  const key = [0x37, 0xfa, 0x21, 0x3d];
  return Buffer.from([0x80 | opcode, 0x80 | payload.length, ...key, ...payload.map((b, i) => b ^ key[i % 4]!)]);
}
const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const CLOSE_1000 = maskedFrame(8, hex('03 e8'));

/** One WebSocket session on /echo: upgrade, a text frame and its echo, the close handshake. */
async function echoSession(client: RawClient, message: string): Promise<void> {
  client.write(upgrade('/echo'));
  await client.waitFor((t) => t.includes('\r\n\r\n'), 5_000, 'the 101');
  client.write(maskedFrame(1, text(message)));
  await client.waitFor((t) => t.includes(message), 5_000, 'the echo');
  client.write(CLOSE_1000);
  await client.waitForEnd();
}

function tshark(file: string, port: number, ...args: string[]): string {
  const ran = spawnSync('tshark', ['-r', file, '-d', `tcp.port==${port},http`, ...args], { encoding: 'utf8' });
  assert.equal(ran.status, 0, `tshark ${args.join(' ')}: ${ran.stderr}`);
  return ran.stdout;
}
const rows = (output: string): string[][] => output.trim().split('\n').filter(Boolean).map((line) => line.split('\t'));

describe('serve --pcap', () => {
  it('writes what tshark reads as the real conversations: HTTP, the 101, WebSocket frames, close codes, TLS decrypted, HTTP/2', async (t) => {
    if (!requireCommand(t, 'tshark', ['--version'])) return;
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-pcap-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'lab.pcapng');
    const keylog = join(dir, 'keys.log');
    const cert = join(dir, 'cert.pem');
    const served = await startServe(['--port', '0', '--pcap', file, '--tls-self-signed', '--tls-export-cert', cert, '--tls-keylog', keylog]);
    const clientSecrets: string[] = [];
    let ports: { ws: number; wss: number; echo: number; h2: number };
    try {
      assert.match(served.stdout, new RegExp(`^pcap: writing ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      assert.match(served.stdout, /^tls: key log appended to /m);
      const ws = await RawClient.open(served.port);
      const wsPort = ws.socket.localPort!;
      await echoSession(ws, 'Hello pcap');
      const wss = await RawClient.openTls(served.port, { ca: readFileSync(cert), servername: 'localhost', ALPNProtocols: ['http/1.1'] }, '127.0.0.1',
        (socket) => socket.on('keylog', (line: Buffer) => { clientSecrets.push(line.toString().trim()); }));
      const wssPort = wss.socket.localPort!;
      await echoSession(wss, 'Hello inside TLS');
      // The Upgrade: echo protocol's bytes: no dissector knows them, so they show as data.
      const echo = await RawClient.open(served.port);
      const echoPort = echo.socket.localPort!;
      echo.write('GET / HTTP/1.1\r\nHost: lab\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nraw bytes after the 101');
      await echo.waitFor((t) => t.endsWith('raw bytes after the 101'), 5_000, 'the echo protocol');
      echo.close();
      const h2 = await session(served.port);
      const h2Port = (h2.socket as { localPort?: number }).localPort!;
      const stream = h2.request({ ':path': '/healthz' });
      assert.equal(await status(stream), 200);
      await body(stream);
      h2.close();
      await once(h2, 'close');
      ports = { ws: wsPort, wss: wssPort, echo: echoPort, h2: h2Port };
      // Node's client emits its keylog lines after the handshake; let them arrive.
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      assert.equal(await stopServe(served.child), 0, served.stderr());
    }
    const port = served.port;

    // Each connection: SYN, SYN-ACK, ACK on its real client port.
    const syns = rows(tshark(file, port, '-Y', 'tcp.flags.syn==1 && tcp.flags.ack==0', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.dstport'));
    for (const clientPort of Object.values(ports)) assert.ok(syns.some(([src, dst]) => src === String(clientPort) && dst === String(port)), `a SYN from ${clientPort}: ${JSON.stringify(syns)}`);

    const http = rows(tshark(file, port, '-Y', 'http', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.response.code'));
    assert.ok(http.some((r) => r[0] === String(ports.ws) && r[1] === 'GET' && r[2] === '/echo'), JSON.stringify(http));
    assert.ok(http.some((r) => r[0] === String(port) && r[3] === '101'), JSON.stringify(http));
    assert.ok(http.some((r) => r[0] === String(ports.wss) && r[1] === 'GET' && r[2] === '/echo'), `the TLS connection's request, decrypted: ${JSON.stringify(http)}`);

    const frames = rows(tshark(file, port, '-Y', 'websocket', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'websocket.opcode', '-e', 'websocket.mask', '-e', 'websocket.payload.text', '-e', 'websocket.payload.close.status_code'));
    for (const [clientPort, message] of [[ports.ws, 'Hello pcap'], [ports.wss, 'Hello inside TLS']] as const) {
      const mine = frames.filter((r) => r[0] === String(clientPort) || r[1] === String(clientPort));
      assert.deepEqual(mine.map((r) => [r[0] === String(clientPort) ? 'client' : 'server', r[2], r[3], r[4] || r[5]]), [
        ['client', '1', '1', message], ['server', '1', '0', message], ['client', '8', '1', '1000'], ['server', '8', '0', '1000'],
      ], `frames of ${clientPort}: ${JSON.stringify(frames)}`);
    }

    const data = rows(tshark(file, port, '-Y', `tcp.srcport==${ports.echo} && tcp.len>0`, '-T', 'fields', '-e', 'tcp.payload'));
    assert.ok(data.some(([payload]) => Buffer.from(payload!.replaceAll(':', ''), 'hex').toString().includes('raw bytes after the 101')), 'the echo protocol bytes as TCP payload');

    const h2Frames = rows(tshark(file, port, '-d', `tcp.port==${port},http2`, '-Y', `http2.type==1 && tcp.srcport==${ports.h2}`, '-T', 'fields', '-e', 'http2.header.value'));
    assert.ok(h2Frames.some(([values]) => values!.includes('/healthz')), `HTTP/2 HEADERS with :path /healthz: ${JSON.stringify(h2Frames)}`);

    assert.equal(tshark(file, port, '-Y', 'tcp.analysis.flags && !tcp.analysis.window_update', '-T', 'fields', '-e', 'frame.number').trim(), '', 'no retransmissions, gaps or zero windows');
    const conversations = tshark(file, port, '-q', '-z', 'conv,tcp');
    for (const clientPort of Object.values(ports)) assert.ok(conversations.includes(`127.0.0.1:${clientPort}`), conversations);

    // The server's key log holds the secrets the client itself derived for the same session.
    const serverSecrets = readFileSync(keylog, 'utf8').trim().split('\n');
    assert.ok(clientSecrets.length >= 4, `the client logged its TLS 1.3 secrets: ${clientSecrets.join('\n')}`);
    for (const line of clientSecrets) {
      assert.match(line, /^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+$/);
      assert.ok(serverSecrets.includes(line), `the server's key log has ${line.split(' ')[0]}`);
    }
  });

  it('stops at --pcap-max-bytes with a file that still opens and says why it ends', async (t) => {
    if (!requireCommand(t, 'tshark', ['--version'])) return;
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-pcap-cap-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'capped.pcapng');
    const served = await startServe(['--port', '0', '--pcap', file, '--pcap-max-bytes', '8k']);
    try {
      assert.match(served.stdout, /^pcap: writing .*capped\.pcapng, at most 8192 bytes$/m);
      for (let i = 0; i < 8; i++) {
        const client = await RawClient.open(served.port);
        await echoSession(client, `message ${i} `.repeat(8));
      }
      // The server goes on serving after the capture is cut.
      assert.equal((await fetch(`http://127.0.0.1:${served.port}/healthz`)).status, 200);
    } finally {
      assert.equal(await stopServe(served.child), 0, served.stderr());
    }
    assert.ok(statSync(file).size <= 8192, `file size ${statSync(file).size}`);
    const comments = rows(tshark(file, served.port, '-Y', 'frame.comment', '-T', 'fields', '-e', 'frame.comment'));
    assert.deepEqual(comments.map((r) => r[0]), ['capture cut at 8192 bytes (--pcap-max-bytes); later packets were not written']);
    assert.ok(rows(tshark(file, served.port, '-Y', 'websocket', '-T', 'fields', '-e', 'frame.number')).length > 0, 'the frames before the cut are there');
  });

  it('refuses a capture file it cannot write, and a cap without a capture, with exit 2', async () => {
    const unwritable = await run(['serve', '--port', '0', '--pcap', '/nonexistent-dir/x.pcapng']);
    assert.equal(unwritable.code, 2, unwritable.stderr);
    assert.match(unwritable.stderr, /cannot write the capture file \/nonexistent-dir\/x\.pcapng \(ENOENT\)/);
    const capOnly = await run(['serve', '--port', '0', '--pcap-max-bytes', '1m']);
    assert.equal(capOnly.code, 2);
    assert.match(capOnly.stderr, /--pcap-max-bytes goes with --pcap FILE/);
    const badSize = await run(['serve', '--port', '0', '--pcap', '/tmp/never.pcapng', '--pcap-max-bytes', 'lots']);
    assert.equal(badSize.code, 2);
    assert.match(badSize.stderr, /--pcap-max-bytes takes a size in bytes/);
    const badKeylog = await run(['serve', '--port', '0', '--tls-keylog', '/nonexistent-dir/keys.log']);
    assert.equal(badKeylog.code, 2);
    assert.match(badKeylog.stderr, /cannot write the TLS key log \/nonexistent-dir\/keys\.log/);
  });

  it('with --workers, writes one file per worker, each a capture of its own connections', async (t) => {
    if (!requireCommand(t, 'tshark', ['--version'])) return;
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-pcap-workers-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const served = await startServe(['--port', '0', '--workers', '2', '--pcap', join(dir, 'lab.pcapng')]);
    const clientPorts: number[] = [];
    try {
      assert.match(served.stdout, /^pcap: writing .*lab\.worker-\*\.pcapng \(one per worker; mergecap/m);
      for (let i = 0; i < 4; i++) {
        const client = await RawClient.open(served.port);
        clientPorts.push(client.socket.localPort!);
        await echoSession(client, `hello ${i}`);
      }
    } finally {
      assert.equal(await stopServe(served.child), 0, served.stderr());
    }
    const files = [1, 2].map((n) => join(dir, `lab.worker-${n}.pcapng`));
    for (const file of files) assert.ok(existsSync(file), file);
    const seen = files.flatMap((file) => rows(tshark(file, served.port, '-Y', 'tcp.flags.syn==1 && tcp.flags.ack==0', '-T', 'fields', '-e', 'tcp.srcport')).map((r) => Number(r[0])));
    assert.deepEqual(seen.sort(), [...clientPorts].sort(), 'every connection in exactly one worker\'s file');
  });
});
