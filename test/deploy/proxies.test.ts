/**
 * docs/deploy.md's configurations, run for real: each block is read from the file, filled in and started
 * (Debian's nginx with libnginx-mod-stream, haproxy) in front of `switchyard serve --workers 2`, and a
 * WebSocket, a `lab-chat/1` session and a `tcp` tunnel go through it. The table must show the client as
 * the proxy saw it: through the stream proxies by the PROXY protocol (the row's 5-tuple is the client's,
 * the hop the proxy's), through the HTTP proxy by `Forwarded`. The proxies connect from 127.0.0.2, the
 * only trusted address, so the tests' direct clients on 127.0.0.1 are untrusted, as the public would be.
 * Each proxy skips when missing locally and fails under CI (test/helpers/require-command.ts).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../src/protocols/websocket/client.js';
import { freePort } from '../helpers/free-port.js';
import { requireCommand } from '../helpers/require-command.js';
import { type Served, startServe, stopServe } from '../helpers/serve.js';

const DEPLOY = fileURLToPath(new URL('../../../docs/deploy.md', import.meta.url));
const NGINX = '/usr/sbin/nginx';
const HAPROXY = '/usr/sbin/haproxy';
const NGINX_MODULES = '/usr/lib/nginx/modules';
const WAIT_MS = 10_000;

interface Row {
  fiveTuple: string;
  protocol: string | null;
  remote: { address: string; port: number };
  worker?: number;
  proxied?: { version: number; hop: string };
  forwarded?: { for: string };
}

/** The fenced block of docs/deploy.md whose first line is `# deploy: NAME`. */
function configBlock(name: string): string {
  const text = readFileSync(DEPLOY, 'utf8');
  const match = new RegExp('```\\w+\\n# deploy: ' + name + '\\n([\\s\\S]*?)```').exec(text);
  assert.ok(match, `docs/deploy.md has a block "# deploy: ${name}"`);
  return match[1]!;
}


async function waitForPort(port: number, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ port, host: '127.0.0.1' });
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Proxy { readonly child: ChildProcess; readonly port: number; readonly dir: string; stderr: string }

async function startProxy(kind: 'nginx-http' | 'nginx-stream' | 'haproxy', backend: number): Promise<Proxy> {
  const dir = mkdtempSync(join(tmpdir(), `switchyard-${kind}-`));
  const port = await freePort();
  const config = configBlock(kind).replaceAll('{{LISTEN}}', String(port)).replaceAll('{{BACKEND}}', String(backend))
    .replaceAll('{{DIR}}', dir).replaceAll('{{MODULES}}', NGINX_MODULES);
  const file = join(dir, kind === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf');
  writeFileSync(file, config);
  const child = kind === 'haproxy'
    ? spawn(HAPROXY, ['-f', file, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(NGINX, ['-p', dir, '-c', file, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const proxy: Proxy = { child, port, dir, stderr: '' };
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { proxy.stderr += d; });
  await waitForPort(port, kind);
  return proxy;
}

async function stopProxy(proxy: Proxy | undefined): Promise<void> {
  if (proxy === undefined) return;
  if (proxy.child.exitCode === null && proxy.child.signalCode === null) {
    const exited = once(proxy.child, 'exit');
    proxy.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    if (proxy.child.exitCode === null) proxy.child.kill('SIGKILL');
  }
  rmSync(proxy.dir, { recursive: true, force: true });
}

async function rows(backend: number): Promise<Row[]> {
  const response = await fetch(`http://127.0.0.1:${backend}/connections`, { headers: { Connection: 'close' }, signal: AbortSignal.timeout(5_000) });
  return ((await response.json()) as { connections: Row[] }).connections;
}

async function frontDoor(backend: number): Promise<Record<string, number>> {
  const response = await fetch(`http://127.0.0.1:${backend}/connections`, { headers: { Connection: 'close' }, signal: AbortSignal.timeout(5_000) });
  return ((await response.json()) as { frontDoor: Record<string, number> }).frontDoor;
}

/** An HTTP/1.1 upgrade through the proxy on a raw socket; resolves with the socket and what followed the head. */
async function rawUpgrade(port: number, path: string, token: string, expect: RegExp): Promise<{ socket: Socket; text: string }> {
  const socket = netConnect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: ${token}\r\n\r\n`);
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${expect} within ${WAIT_MS} ms: ${JSON.stringify(text)}`)), WAIT_MS);
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); if (expect.test(text)) { clearTimeout(timer); resolve(); } });
  });
  return { socket, text };
}

/** A TCP echo server: the `tcp` tunnel's backend. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => { socket.on('error', () => {}); socket.pipe(socket); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

/** WebSocket, lab-chat/1 and the tcp tunnel through `proxy`; `check` judges each row the backend shows for them. */
async function throughProxy(proxy: Proxy, backend: number, check: (row: Row, clientPort: number) => void): Promise<void> {
  const ws = await connect(`ws://127.0.0.1:${proxy.port}/echo`, { deflate: false });
  const clientPort = (ws.socket as unknown as Socket).localPort!;
  const echoed = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
  ws.send('through the proxy');
  assert.equal(await echoed, 'through the proxy');
  const wsRow = (await rows(backend)).find((r) => r.protocol === 'websocket');
  assert.ok(wsRow, 'the WebSocket has a row');
  check(wsRow, clientPort);

  const chat = await rawUpgrade(proxy.port, '/', 'lab-chat/1', /\nhello \S+ \d+\n/);
  assert.match(chat.text, /^HTTP\/1\.1 101 /);
  const chatPort = chat.socket.localPort!;
  const chatRow = (await rows(backend)).find((r) => r.protocol === 'lab-chat/1');
  assert.ok(chatRow, 'the lab-chat/1 session has a row');
  check(chatRow, chatPort);

  const tunnel = await rawUpgrade(proxy.port, '/tunnel/echo', 'tcp', /\r\n\r\n/);
  assert.match(tunnel.text, /^HTTP\/1\.1 101 /);
  const back = new Promise<string>((resolve) => { let got = ''; tunnel.socket.on('data', (d: Buffer) => { got += d.toString(); if (got.includes('ping through the tunnel')) resolve(got); }); });
  tunnel.socket.write('ping through the tunnel');
  assert.match(await back, /ping through the tunnel/);

  const closed = new Promise((resolve) => ws.once('close', resolve));
  ws.close();
  await closed;
  chat.socket.destroy();
  tunnel.socket.destroy();
}

describe('docs/deploy.md: real proxies in front of serve --workers 2', () => {
  let echo: { server: Server; port: number };
  let streamServe: Served | undefined;
  let httpServe: Served | undefined;
  before(async () => {
    echo = await echoServer();
    streamServe = await startServe(['--port', '0', '--workers', '2', '--proxy-protocol', '--trust-proxy', '127.0.0.2', '--tunnel', `echo=127.0.0.1:${echo.port}`]);
    httpServe = await startServe(['--port', '0', '--workers', '2', '--trust-proxy', '127.0.0.2', '--tunnel', `echo=127.0.0.1:${echo.port}`]);
  });
  after(async () => {
    if (streamServe) await stopServe(streamServe.child);
    if (httpServe) await stopServe(httpServe.child);
    echo.server.close();
  });

  const proxiedRow = (version: number, proxyPort: number) => (row: Row, clientPort: number): void => {
    // The row is the client's connection as the proxy accepted it; the hop is the proxy's own, from 127.0.0.2.
    assert.equal(row.fiveTuple, `tcp 127.0.0.1:${proxyPort} 127.0.0.1:${clientPort}`, JSON.stringify(row));
    assert.equal(row.proxied?.version, version);
    assert.match(row.proxied?.hop ?? '', new RegExp(`^tcp 127\\.0\\.0\\.1:${streamServe!.port} 127\\.0\\.0\\.2:\\d+$`));
    assert.ok(row.worker, 'served by one of the workers');
  };

  it('nginx stream with proxy_protocol on (PROXY v1): the rows show the clients, the hop beside them', { timeout: 60_000 }, async (t) => {
    if (!requireCommand(t, NGINX, ['-v'])) return;
    const proxy = await startProxy('nginx-stream', streamServe!.port);
    try {
      await throughProxy(proxy, streamServe!.port, proxiedRow(1, proxy.port));
    } finally {
      await stopProxy(proxy);
    }
  });

  it('HAProxy with send-proxy-v2 (PROXY v2): the same, from the binary header', { timeout: 60_000 }, async (t) => {
    if (!requireCommand(t, HAPROXY, ['-v'])) return;
    const proxy = await startProxy('haproxy', streamServe!.port);
    try {
      await throughProxy(proxy, streamServe!.port, proxiedRow(2, proxy.port));
    } finally {
      await stopProxy(proxy);
    }
  });

  it('nginx as an HTTP proxy passing Upgrade on: the row is the proxy\'s, Forwarded names the client', { timeout: 60_000 }, async (t) => {
    if (!requireCommand(t, NGINX, ['-v'])) return;
    const proxy = await startProxy('nginx-http', httpServe!.port);
    try {
      await throughProxy(proxy, httpServe!.port, (row, clientPort) => {
        assert.match(row.fiveTuple, new RegExp(`^tcp 127\\.0\\.0\\.1:${httpServe!.port} 127\\.0\\.0\\.2:\\d+$`), 'the real TCP connection: from nginx');
        assert.equal(row.forwarded?.for, `127.0.0.1:${clientPort}`, JSON.stringify(row));
      });
    } finally {
      await stopProxy(proxy);
    }
  });

  it('refused: a trusted address without a header, an untrusted one with a header, a forged X-Forwarded-For', { timeout: 30_000 }, async () => {
    const port = streamServe!.port;
    const before = await frontDoor(port);
    // From the trusted address, no header: closed without an answer.
    const bare = netConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    await once(bare, 'connect');
    bare.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    let answer = '';
    bare.on('data', (d: Buffer) => { answer += d.toString(); });
    await once(bare, 'close');
    assert.equal(answer, '', 'no HTTP answer: the connection is closed');
    // From an untrusted address, a header: closed too.
    const forged = netConnect({ port, host: '127.0.0.1' });
    await once(forged, 'connect');
    forged.write('PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    let forgedAnswer = '';
    forged.on('data', (d: Buffer) => { forgedAnswer += d.toString(); });
    await once(forged, 'close');
    assert.equal(forgedAnswer, '');
    const after = await frontDoor(port);
    assert.ok((after.proxyRejected ?? 0) >= (before.proxyRejected ?? 0) + 2, JSON.stringify({ before, after }));

    // X-Forwarded-For from an untrusted client is not believed.
    const response = await fetch(`http://127.0.0.1:${httpServe!.port}/connections`, { headers: { 'X-Forwarded-For': '203.0.113.7', Connection: 'close' } });
    const table = (await response.json()) as { connections: Array<Row & { self?: true }> };
    const self = table.connections.find((r) => r.self);
    assert.ok(self);
    assert.equal(self.forwarded, undefined, 'a forged X-Forwarded-For from 127.0.0.1 is ignored');
  });
});
