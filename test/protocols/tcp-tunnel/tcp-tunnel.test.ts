import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import type { ConnectionSnapshot } from '../../../src/accept-loop/connection-table.js';
import { eventually, withLab } from '../../helpers/lab.js';
import { parseResponses, RawClient } from '../../helpers/raw-client.js';
import { Backend, bannerEcho, closedPort } from './backend.js';

const upgrade = (target: string, extra = ''): string =>
  `GET ${target} HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n${extra}\r\n`;

const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\n';
const afterHead = (text: string): string => text.slice(text.indexOf('\r\n\r\n') + 4);

async function connections(port: number): Promise<ConnectionSnapshot[]> {
  const client = await RawClient.open(port);
  client.write('GET /connections HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
  const [response] = parseResponses(await client.waitForEnd());
  return (JSON.parse(response!.body) as { connections: ConnectionSnapshot[] }).connections;
}

/** A plain socket that records how it ended, for the tests where RawClient's manners get in the way. */
async function openSocket(port: number): Promise<Socket & { got: string; error?: string; gone: Promise<void> }> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }) as Socket & { got: string; error?: string; gone: Promise<void> };
  socket.got = '';
  socket.gone = new Promise((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (chunk: Buffer) => { socket.got += chunk.toString('latin1'); });
  socket.on('error', (error: NodeJS.ErrnoException) => { socket.error = error.code ?? error.message; });
  await once(socket, 'connect');
  return socket;
}

describe('tcp tunnel', { timeout: 120_000 }, () => {
  it('pipes both ways after the 101; bytes sent with the request arrive first; the backend\'s banner is not lost', async () => {
    const backend = await Backend.start(bannerEcho);
    await withLab({ experimental: { tunnels: { echo: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      const client = await RawClient.open(server.port);
      client.write(upgrade('/tunnel/echo') + 'first|');
      await client.waitFor((t) => afterHead(t) === 'banner\nfirst|', 5_000, 'the banner and the echo of the head bytes');
      assert.ok(client.text.startsWith(SWITCHED));
      assert.match(client.text, /\r\nUpgrade: tcp\r\n/);
      client.write('second|');
      await client.waitFor((t) => afterHead(t) === 'banner\nfirst|second|');
      // Half-close: our FIN reaches the backend, whose last words still come back before its FIN.
      client.socket.end();
      const text = await client.waitForEnd();
      assert.equal(afterHead(text), 'banner\nfirst|second|bye\n');
      await eventually(() => server.table.size === 0, 5_000, 'the tunnel to close');
    });
    await backend.close();
  });

  it('a plain GET on a tunnel path is told to upgrade (426 naming tcp), and never reaches the backend', async () => {
    let connections = 0;
    const backend = await Backend.start(() => { connections++; });
    await withLab({ experimental: { tunnels: { echo: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      const client = await RawClient.open(server.port);
      client.write('GET /tunnel/echo HTTP/1.1\r\nHost: lab\r\n\r\n');
      const text = await client.waitFor((t) => t.includes('\r\n\r\n'));
      assert.match(text, /^HTTP\/1\.1 426 /);
      assert.match(text, /\r\nUpgrade: tcp\r\n/);
      client.close();
    });
    await backend.close();
    assert.equal(connections, 0);
  });

  it('half-close the other way: after the backend\'s FIN the client can still send', async () => {
    let heard = '';
    const backend = await Backend.start((socket) => {
      socket.end('done talking\n');
      socket.on('data', (chunk: Buffer) => { heard += chunk; });
    });
    await withLab({ experimental: { tunnels: { quiet: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      const socket = await openSocket(server.port);
      socket.write(upgrade('/tunnel/quiet'));
      await once(socket, 'end');
      assert.equal(afterHead(socket.got), 'done talking\n');
      socket.end('but I was not\n');
      await eventually(() => heard === 'but I was not\n', 5_000, 'the client\'s bytes after the backend\'s FIN');
      await socket.gone;
    });
    await backend.close();
  });

  it('never an open proxy: unknown names and tricky paths get 404 before any connection is made', async () => {
    const backend = await Backend.start(bannerEcho);
    const decoy = await Backend.start(bannerEcho);
    await withLab({ experimental: { tunnels: { echo: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      const targets = [
        '/tunnel/nope', '/tunnel/', '/tunnel', '/tunnel/../tunnel/echo', '/tunnel/echo/../x', '/tunnel/./echo',
        '/tunnel/echo/', '/tunnel/echo/extra', '/tunnel/%65cho', '/tunnel/ECHO', `/tunnel/127.0.0.1:${decoy.port}`,
        '/tunnel/constructor', '/tunnel/__proto__', '/echo', '/',
      ];
      for (const target of targets) {
        const client = await RawClient.open(server.port);
        client.write(upgrade(target));
        const [response] = parseResponses(await client.waitForEnd());
        assert.equal(response!.status, 404, target);
      }
      assert.equal(backend.connections, 0, 'the configured backend was never contacted');
      assert.equal(decoy.connections, 0, 'nor anything else');
    });
    await Promise.all([backend.close(), decoy.close()]);
  });

  it('Host, an absolute-form target and the query cannot choose the address', async () => {
    const backend = await Backend.start(bannerEcho);
    const decoy = await Backend.start(bannerEcho);
    await withLab({ experimental: { tunnels: { echo: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      const elsewhere = `127.0.0.1:${decoy.port}`;
      const requests = [
        `GET /tunnel/echo HTTP/1.1\r\nHost: ${elsewhere}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
        `GET http://${elsewhere}/tunnel/echo HTTP/1.1\r\nHost: ${elsewhere}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
        upgrade(`/tunnel/echo?host=127.0.0.1&port=${decoy.port}`),
      ];
      for (const request of requests) {
        const client = await RawClient.open(server.port);
        client.write(request);
        await client.waitFor((t) => afterHead(t) === 'banner\n', 5_000, 'the configured backend\'s banner');
        client.close();
      }
      assert.equal(backend.connections, requests.length);
      assert.equal(decoy.connections, 0);
    });
    await Promise.all([backend.close(), decoy.close()]);
  });

  it('a backend that refuses gets the client a 502, and Upgrade: tcp is offered only with tunnels configured', async () => {
    const port = await closedPort();
    await withLab({ experimental: { tunnels: { gone: { host: '127.0.0.1', port } } } }, async (server) => {
      const client = await RawClient.open(server.port);
      client.write(upgrade('/tunnel/gone'));
      const [response] = parseResponses(await client.waitForEnd());
      assert.equal(response!.status, 502);
      assert.match(response!.body, /tunnel "gone": the backend cannot be reached \(ECONNREFUSED\)/);
      assert.doesNotMatch(response!.body, new RegExp(String(port)), 'the backend\'s address stays private');
    });
    await withLab({}, async (server) => {
      const client = await RawClient.open(server.port);
      client.write('GET /protocols HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
      const [response] = parseResponses(await client.waitForEnd());
      assert.doesNotMatch(response!.body, /"tcp"/);
    });
  });

  it('a reset on either side resets the other', async () => {
    const resetNow: Socket[] = [];
    const backend = await Backend.start((socket) => { resetNow.push(socket); });
    await withLab({ experimental: { tunnels: { fragile: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      // The backend resets: the client sees a reset, not a clean end.
      const client = await openSocket(server.port);
      client.write(upgrade('/tunnel/fragile'));
      await eventually(() => client.got.includes('\r\n\r\n') && resetNow.length === 1, 5_000, 'the tunnel');
      resetNow[0]!.resetAndDestroy();
      await client.gone;
      assert.equal(client.error, 'ECONNRESET');

      // The client resets: the backend sees a reset.
      const other = await openSocket(server.port);
      other.write(upgrade('/tunnel/fragile'));
      await eventually(() => other.got.includes('\r\n\r\n') && resetNow.length === 2, 5_000, 'the second tunnel');
      let backendError: string | undefined;
      const backendGone = new Promise((resolve) => resetNow[1]!.once('close', resolve));
      resetNow[1]!.on('error', (error: NodeJS.ErrnoException) => { backendError = error.code; });
      other.resetAndDestroy();
      await backendGone;
      assert.equal(backendError, 'ECONNRESET');
      await eventually(() => server.table.size === 0, 5_000, 'both tunnels to leave the table');
    });
    await backend.close();
  });

  it('counts the tunnel\'s bytes in /connections', async () => {
    const backend = await Backend.start((socket) => { socket.on('data', (chunk: Buffer) => socket.write(chunk)); });
    await withLab({ experimental: { tunnels: { echo: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      const client = await RawClient.open(server.port);
      const request = upgrade('/tunnel/echo');
      const payload = Buffer.alloc(100_000, 0x5a);
      client.write(request);
      await client.waitFor((t) => t.includes('\r\n\r\n'));
      const switched = client.received.length;
      client.write(payload);
      await client.waitForBytes(switched + payload.length, 10_000);
      const row = (await connections(server.port)).find((r) => r.remote.port === client.socket.localPort)!;
      assert.equal(row.protocol, 'tcp');
      assert.equal(row.state, 'upgraded');
      assert.equal(row.bytesIn, request.length + payload.length);
      assert.equal(row.bytesOut, switched + payload.length);
      client.close();
    });
    await backend.close();
  });

  // Without flow control the server would read everything the sender has at once. With it, what the
  // server takes from the sender stays near the socket buffers between it and the stalled reader.
  const TOTAL = 32 * 1024 * 1024;
  const BOUND = 16 * 1024 * 1024; // measured: about 4 MB on Linux loopback

  /** Wait until `read()` stops changing (sampled a few times), then return it. */
  async function plateau(read: () => Promise<number>): Promise<number> {
    let last = -1;
    let steady = 0;
    for (let i = 0; i < 100 && steady < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const now = await read();
      steady = now === last ? steady + 1 : 0;
      last = now;
    }
    return last;
  }

  it('flow control client → backend: a backend that does not read stops the server reading the client', async () => {
    let received = 0;
    let backendSocket: Socket | undefined;
    const backend = await Backend.start((socket) => {
      backendSocket = socket;
      socket.on('data', (chunk: Buffer) => { received += chunk.length; });
    }, { pauseOnConnect: true });
    await withLab({ experimental: { tunnels: { sink: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      const client = await RawClient.open(server.port);
      client.write(upgrade('/tunnel/sink'));
      await client.waitFor((t) => t.includes('\r\n\r\n'));
      client.write(Buffer.alloc(TOTAL, 1));
      const row = async (): Promise<number> => (await connections(server.port)).find((r) => r.remote.port === client.socket.localPort)!.bytesIn;
      const readByServer = await plateau(row);
      assert.ok(readByServer < BOUND, `the server read ${readByServer} of ${TOTAL} bytes while the backend was stalled`);
      backendSocket!.resume();
      await eventually(() => received === TOTAL, 30_000, 'every byte at the backend once it reads');
      client.close();
    });
    await backend.close();
  });

  it('flow control backend → client: a client that does not read stops the server reading the backend', async () => {
    const backend = await Backend.start((socket) => { socket.write(Buffer.alloc(TOTAL, 2)); });
    await withLab({ experimental: { tunnels: { source: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      const client = await openSocket(server.port);
      client.write(upgrade('/tunnel/source'));
      await eventually(() => client.got.includes('\r\n\r\n'), 5_000, 'the 101');
      client.pause();
      const switched = client.got.indexOf('\r\n\r\n') + 4;
      const row = async (): Promise<number> => (await connections(server.port)).find((r) => r.remote.port === client.localPort)!.bytesOut;
      const queuedForClient = await plateau(row);
      assert.ok(queuedForClient < BOUND, `the server took ${queuedForClient} of ${TOTAL} bytes for a client that was not reading`);
      let received = client.got.length - switched;
      client.removeAllListeners('data');
      client.on('data', (chunk: Buffer) => { received += chunk.length; });
      client.resume();
      await eventually(() => received === TOTAL, 30_000, 'every byte at the client once it reads');
      client.destroy();
    });
    await backend.close();
  });

  it('a tunnel with no traffic either way for idleTimeoutMs is ended on both sides', async () => {
    let backendEnded = false;
    const backend = await Backend.start((socket) => { socket.on('end', () => { backendEnded = true; socket.end(); }); socket.resume(); });
    const tunnels = { quiet: { host: '127.0.0.1', port: backend.port } };
    await withLab({ experimental: { tunnels, tunnel: { idleTimeoutMs: 200 } } }, async (server, events) => {
      const client = await RawClient.open(server.port);
      client.write(upgrade('/tunnel/quiet'));
      await client.waitForEnd(10_000);
      await eventually(() => backendEnded, 5_000, 'the backend to see our FIN');
      await eventually(() => events.some((e) => e.type === 'protocol' && /ended \(idle timeout\)/.test(e.detail)), 5_000, 'the traced reason');
    });
    await backend.close();
  });

  it('server shutdown ends both sides', async () => {
    let backendEnded = false;
    const backend = await Backend.start((socket) => { socket.on('end', () => { backendEnded = true; socket.end(); }); socket.resume(); });
    let client: RawClient | undefined;
    await withLab({ experimental: { tunnels: { echo: { host: '127.0.0.1', port: backend.port } } } }, async (server) => {
      client = await RawClient.open(server.port);
      client.write(upgrade('/tunnel/echo'));
      await client.waitFor((t) => t.includes('\r\n\r\n'));
      await eventually(() => backend.connections === 1);
    });
    await client!.waitForEnd();
    await eventually(() => backendEnded, 5_000, 'the backend to see our FIN');
    await backend.close();
  });
});
