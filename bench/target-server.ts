/**
 * One benchmark target per process, so the server's CPU and memory are measured apart from the load
 * client's: `node target-server.js <switchyard|node-http|node-http2|node-http2-echo|net-echo|net-upgrade|ws> [JSON]` prints
 * `port <n>` and serves until killed. Every target answers the same way: `GET /healthz` → `ok\n`; echo
 * targets echo bytes. The optional JSON overrides switchyard's limits (e.g. `{"http2InitialWindowBytes":
 * 1048576}`), so a setting's cost can be measured without editing the server; for node-http2-echo it
 * sets the windows (`{"streamWindow":…,"sessionWindow":…}`); switchyard takes `sessionWindow` too (see there).
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab } from '../src/lab.js';

// Handlers first: the orchestrator may signal as soon as it reads the port, and SIGUSR2's default action
// is to terminate the process.
// SIGUSR2 collects garbage (when started with --expose-gc) so memory samples measure live objects only.
// With BENCH_MEMORY_LOG set, each SIGUSR2 also appends process.memoryUsage() (after the collection) to that
// file as a JSON line, so RSS can be split into V8's heap and native memory (zlib, buffers, malloc).
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) { gc(); gc(); }
  const log = process.env.BENCH_MEMORY_LOG;
  if (log) appendFileSync(log, JSON.stringify(process.memoryUsage()) + '\n');
});

// Exit normally on a signal so `--cpu-prof` can write its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));

const kind = process.argv[2];
const announce = (port: number): void => { process.stdout.write(`port ${port}\n`); };

switch (kind) {
  case 'switchyard': {
    // Limits raised so the benchmark measures speed, not the defaults' protection.
    const { sessionWindow, ...overrides } = JSON.parse(process.argv[3] ?? '{}') as Record<string, number>;
    // Diagnostic only, no limit sets this: `sessionWindow` wraps node:http2's performServerHandshake so each
    // session raises its connection-level receive window (what src/ would do with setLocalWindowSize).
    if (sessionWindow) {
      const http2 = createRequire(import.meta.url)('node:http2') as typeof import('node:http2');
      const original = http2.performServerHandshake;
      http2.performServerHandshake = (socket, options) => {
        const session = original(socket, options);
        session.once('localSettings', () => session.setLocalWindowSize(sessionWindow));
        return session;
      };
      syncBuiltinESMExports();
    }
    const lab = await startLab({ port: 0, backlog: 4096, limits: { maxConnections: 50_000, keepAliveTimeoutMs: 60_000, headersTimeoutMs: 60_000, ...overrides } });
    announce(lab.port);
    break;
  }
  case 'node-http': {
    const server = createHttpServer((req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '3' });
        res.end('ok\n');
      } else {
        res.writeHead(404, { 'Content-Length': '0' });
        res.end();
      }
    });
    server.keepAliveTimeout = 60_000;
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => announce((server.address() as { port: number }).port));
    break;
  }
  case 'node-http2': {
    // The reference for HTTP/2 requests: node:http2's core API, cleartext with prior knowledge, answering
    // like switchyard does on a stream (`:status 200`, content-length, content-type, `ok\n`).
    const server = createHttp2Server({ settings: { maxConcurrentStreams: 100 } });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      if (headers[':path'] === '/healthz') {
        stream.respond({ ':status': 200, 'content-type': 'text/plain; charset=utf-8', 'content-length': 3 });
        stream.end('ok\n');
      } else {
        stream.respond({ ':status': 404, 'content-length': 0 }, { endStream: true });
      }
    });
    server.on('sessionError', () => {});
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => announce((server.address() as { port: number }).port));
    break;
  }
  case 'node-http2-echo': {
    // The ceiling for bytes through node:http2 streams, as net-echo is for a socket: any extended CONNECT
    // gets `:status 200`, then the stream's bytes are written back unparsed. `sessionWindow` raises the
    // connection-level receive window, which SETTINGS cannot (RFC 9113 §6.9.2: only WINDOW_UPDATE can).
    const windows = JSON.parse(process.argv[3] ?? '{}') as { streamWindow?: number; sessionWindow?: number };
    const server = createHttp2Server({ settings: { enableConnectProtocol: true, maxConcurrentStreams: 100, ...(windows.streamWindow ? { initialWindowSize: windows.streamWindow } : {}) } });
    server.on('session', (session) => {
      if (windows.sessionWindow) session.once('localSettings', () => session.setLocalWindowSize(windows.sessionWindow!));
    });
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 200 });
      stream.on('data', (chunk: Buffer) => { if (!stream.write(chunk)) stream.pause(); });
      stream.on('drain', () => stream.resume());
      stream.on('end', () => stream.end());
    });
    server.on('sessionError', () => {});
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => announce((server.address() as { port: number }).port));
    break;
  }
  case 'net-echo': {
    // The ceiling for bytes through a Node socket: no parsing, no framing, just write what was read.
    const server = createNetServer({ noDelay: true }, (socket) => {
      socket.on('data', (chunk) => { if (!socket.write(chunk)) socket.pause(); });
      socket.on('drain', () => socket.resume());
      socket.on('error', () => socket.destroy());
      socket.on('end', () => socket.end());
    });
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => announce((server.address() as { port: number }).port));
    break;
  }
  case 'net-upgrade': {
    // The floor for any WebSocket server written in JS: answer the handshake with a correct 101 and keep
    // the socket with one listener, nothing else (no parser, no table, no frames). The idle scenario
    // measures it next to switchyard, so what the handshake itself costs a Node process is visible.
    const server = createNetServer({ noDelay: true }, (socket) => {
      socket.once('data', (request) => {
        const key = /\r\nsec-websocket-key: *([^\r]*)\r\n/i.exec(request.toString('latin1'))?.[1] ?? '';
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        socket.on('data', () => {});
      });
      socket.on('error', () => socket.destroy());
    });
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => announce((server.address() as { port: number }).port));
    break;
  }
  case 'ws': {
    // The `ws` package (an optional peer in bench/peers, `npm run bench:peers`; never a dependency of
    // switchyard), echoing like switchyard's /echo: text as text, binary as binary. The JSON is ws's
    // `perMessageDeflate` option (`true`: its defaults; an object: its fields; absent: no extension).
    const config = JSON.parse(process.argv[3] ?? '{}') as { perMessageDeflate?: boolean | object };
    const peers = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'peers', 'package.json');
    interface WsSocket { on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void; on(event: 'error', listener: () => void): void; send(data: Buffer, options: { binary: boolean }): void }
    interface WsServer { on(event: 'connection', listener: (ws: WsSocket) => void): void; on(event: 'listening', listener: () => void): void; address(): { port: number } }
    const { WebSocketServer } = createRequire(peers)('ws') as { WebSocketServer: new (options: object) => WsServer };
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 4096, maxPayload: 64 << 20, perMessageDeflate: config.perMessageDeflate ?? false });
    server.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    server.on('listening', () => announce(server.address().port));
    break;
  }
  default:
    process.stderr.write(`unknown target ${kind}\n`);
    process.exit(2);
}
