/**
 * Graceful shutdown, as a client sees it: close() (or SIGTERM for `switchyard serve`) stops accepting,
 * lets a request in flight finish, sends WebSocket clients 1001, aborts each raw protocol's signal, and
 * resolves once every connection is gone. Whatever is still open at `shutdownTimeoutMs` is destroyed,
 * and the log says so.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { eventually, withLab } from '../helpers/lab.js';
import { connect } from '../../src/protocols/websocket/client.js';
import type { ProtocolHandler } from '../../src/registry/plugin.js';
import type { HttpResponse } from '../../src/server/router.js';
import type { SwitchyardServer } from '../../src/server/server.js';
import type { WebSocket } from '../../src/protocols/websocket/session.js';

const CLI = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));

const upgradeTo = (token: string): string => `GET / HTTP/1.1\r\nHost: lab\r\nConnection: upgrade\r\nUpgrade: ${token}\r\n\r\n`;

function watchClose(ws: WebSocket): { code?: number; wasClean?: boolean } {
  const seen: { code?: number; wasClean?: boolean } = {};
  ws.once('close', (code, _reason, wasClean) => { seen.code = code; seen.wasClean = wasClean; });
  return seen;
}

/** A raw protocol that says "bye" and ends when the server's shutdown signal aborts. */
function politeProtocol(aborted: string[]): ProtocolHandler {
  return {
    token: 'polite',
    takeover: ({ socket, signal }) => new Promise<void>((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => {});
      socket.resume();
      signal.addEventListener('abort', () => {
        aborted.push('polite');
        socket.end('bye\n');
      }, { once: true });
    }),
  };
}

/** A raw protocol that ignores the shutdown signal entirely. */
const stubbornProtocol: ProtocolHandler = {
  token: 'stubborn',
  takeover: ({ socket }) => new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => {});
    socket.resume();
  }),
};

/** GET /slow: answered `finished` only when the test calls release(). */
function slowRoute(server: SwitchyardServer): { reached: () => boolean; release: () => void } {
  let release: ((response: HttpResponse) => void) | undefined;
  server.router.get('/slow', () => new Promise<HttpResponse>((resolve) => { release = resolve; }));
  return { reached: () => release !== undefined, release: () => release?.({ status: 200, body: 'finished\n' }) };
}

describe('graceful shutdown', () => {
  it('finishes the request in flight, sends WebSocket 1001, aborts raw handlers, closes idle ones, refuses new ones', { timeout: 60_000 }, () => {
    const aborted: string[] = [];
    return withLab({ plugins: [politeProtocol(aborted)], limits: { shutdownTimeoutMs: 60_000 } }, async (server, events) => {
      const slow = slowRoute(server);
      const port = server.port;
      try {
        const inFlight = await RawClient.open(port);
        inFlight.write('GET /slow HTTP/1.1\r\nHost: lab\r\n\r\n');
        const idle = await RawClient.open(port);
        idle.write('GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n');
        await idle.waitFor((t) => parseResponses(t).length === 1, 10_000, 'the idle client\'s response');
        const ws = await connect(`ws://127.0.0.1:${port}/echo`);
        const wsClose = watchClose(ws);
        const polite = await RawClient.open(port);
        polite.write(upgradeTo('polite'));
        const echo = await RawClient.open(port);
        echo.write(upgradeTo('echo'));
        await polite.waitFor((t) => t.includes('\r\n\r\n'), 10_000, 'the polite 101');
        await echo.waitFor((t) => t.includes('\r\n\r\n'), 10_000, 'the echo 101');
        await eventually(() => slow.reached(), 10_000, 'the slow request to reach its handler');

        let closed = false;
        const closing = server.close().then(() => { closed = true; });
        await eventually(() => events.some((e) => e.type === 'shutdown'), 10_000, 'shutdown to begin');

        // Everyone but the request in flight hears about it; the server still waits for that request.
        await eventually(() => wsClose.code !== undefined, 30_000, 'the WebSocket close');
        assert.equal(wsClose.code, 1001);
        assert.equal(wsClose.wasClean, true);
        assert.match(await polite.waitForEnd(30_000), /bye\n$/);
        assert.deepEqual(aborted, ['polite']);
        await echo.waitForEnd(30_000);
        await idle.waitForEnd(30_000);
        await assert.rejects(RawClient.open(port), /ECONNREFUSED/, 'no new connections once shutdown began');
        assert.equal(closed, false, 'close() waits for the request in flight');
        assert.equal(inFlight.ended, false);

        slow.release();
        const [response] = parseResponses(await inFlight.waitForEnd(30_000));
        assert.equal(response!.status, 200);
        assert.equal(response!.body, 'finished\n');
        assert.equal(response!.headers['connection'], 'close', 'the last response says the connection closes');
        await closing;
        assert.equal(server.table.size, 0);
        const phases = events.flatMap((e) => (e.type === 'shutdown' ? [e.phase] : []));
        assert.deepEqual(phases, ['stop accepting', 'closed'], 'nothing had to be destroyed');
      } finally {
        // Whatever failed, let the request finish so the lab's own close() need not wait for the deadline.
        slow.release();
      }
    });
  });

  it('destroys what is still open at shutdownTimeoutMs and logs each one', { timeout: 60_000 }, () =>
    withLab({ plugins: [stubbornProtocol], limits: { shutdownTimeoutMs: 300 } }, async (server, events) => {
      let called = false;
      server.router.get('/never', () => { called = true; return new Promise<HttpResponse>(() => {}); });
      const stuck = await RawClient.open(server.port);
      stuck.write('GET /never HTTP/1.1\r\nHost: lab\r\n\r\n');
      const stubborn = await RawClient.open(server.port);
      stubborn.write(upgradeTo('stubborn'));
      await stubborn.waitFor((t) => t.includes('\r\n\r\n'), 10_000, 'the 101');
      await eventually(() => called, 10_000, 'the request to reach its handler');

      await server.close();
      await stuck.waitForEnd(10_000);
      await stubborn.waitForEnd(10_000);
      assert.equal(server.table.size, 0);
      const deadline = events.find((e) => e.type === 'shutdown' && e.phase.startsWith('deadline passed'));
      assert.ok(deadline, 'the shutdown log says the deadline passed');
      assert.equal(deadline.type === 'shutdown' && deadline.live, 2, 'with the number of connections destroyed');
      const destroyed = events.filter((e) => e.type === 'close' && e.reason === 'shutdown deadline passed' && e.closedBy === 'server');
      assert.equal(destroyed.length, 2, 'each destroyed connection is logged with the reason');
    }));

  it('switchyard serve on SIGTERM: WebSocket clients get 1001, raw echo gets a FIN, exit code 0', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.resume();
    try {
      await eventually(() => /listening on http:\/\/[^:]+:\d+\//.test(stdout), 30_000, 'the server to listen');
      const port = Number(/listening on http:\/\/[^:]+:(\d+)\//.exec(stdout)![1]);
      const ws = await connect(`ws://127.0.0.1:${port}/echo`);
      const wsClose = watchClose(ws);
      const echo = await RawClient.open(port);
      echo.write(upgradeTo('echo'));
      await echo.waitFor((t) => t.includes('\r\n\r\n'), 10_000, 'the echo 101');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0);
      await eventually(() => wsClose.code !== undefined, 10_000, 'the WebSocket close');
      assert.equal(wsClose.code, 1001);
      await echo.waitForEnd(10_000);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
