/**
 * One benchmark target per process, so the server's CPU and memory are measured apart from the load
 * client's: `node target-server.js <switchyard|switchyard-tls|node-http|node-http-upgrade|node-http2|node-http2-echo|net-echo|net-echo-kept|tls-echo|net-upgrade|net-http-floor|net-handshake-floor|ws> [JSON]` prints
 * `port <n>` and serves until killed. Every target answers the same way: `GET /healthz` → `ok\n`; echo
 * targets echo bytes. The optional JSON overrides switchyard's limits (e.g. `{"http2InitialWindowBytes":
 * 1048576}`), so a setting's cost can be measured without editing the server; for node-http2-echo it
 * sets the windows (`{"streamWindow":…,"sessionWindow":…}`); switchyard takes `sessionWindow` too (see there).
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab } from '../src/lab.js';
import { keepReadBufferPages } from '../src/read-buffer-pages.js';

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
/** The test fixture's self-signed certificate (test/fixtures/tls): switchyard-tls and tls-echo both serve it. */
const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'tls');
const certificate = (): { cert: Buffer; key: Buffer } => ({ cert: readFileSync(join(fixtures, 'cert.pem')), key: readFileSync(join(fixtures, 'key.pem')) });
const announce = (port: number): void => { process.stdout.write(`port ${port}\n`); };
/**
 * The 101 the minimal reference servers answer with (RFC 6455 §4.2.2): Sec-WebSocket-Accept computed
 * here, by hand, so no reference leans on switchyard's own handshake code.
 */
const switchingProtocols = (key: string): string =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')}\r\n\r\n`;

switch (kind) {
  case 'switchyard':
  case 'switchyard-tls': {
    // switchyard-tls: the same lab with `tls` (the fixture certificate): a first byte 0x16 is TLS, the rest
    // is unchanged, so `wss://…/echo` is the same /echo endpoint behind node:tls.
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
    const lab = await startLab({ port: 0, backlog: 4096, ...(kind === 'switchyard-tls' ? { tls: certificate() } : {}), limits: { maxConnections: 50_000, keepAliveTimeoutMs: 60_000, headersTimeoutMs: 60_000, ...overrides } });
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
  case 'node-http-upgrade': {
    // The floor any WebSocket server built on node:http pays for a handshake cycle: node:http parses the
    // request and emits 'upgrade'; the handler answers a correct 101 (Sec-WebSocket-Accept computed) and
    // then speaks just enough RFC 6455 on the socket for the bench's handshake cycle: every masked frame is
    // unmasked, a data frame is echoed back (same opcode, unmasked), a close frame is answered with a close
    // carrying the same code and the socket ended. No validation, no extensions, no fragmentation.
    const server = createHttpServer((req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '3' });
        res.end('ok\n');
      } else {
        res.writeHead(426, { 'Content-Length': '0', Upgrade: 'websocket' });
        res.end();
      }
    });
    server.on('upgrade', (req, socket: Socket, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      const key = req.headers['sec-websocket-key'];
      if (req.headers.upgrade?.toLowerCase() !== 'websocket' || typeof key !== 'string') {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      socket.setNoDelay(true);
      socket.write(switchingProtocols(key));
      let pending: Buffer = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        while (pending.length >= 2) {
          const opcode = pending[0]! & 0x0f;
          const masked = (pending[1]! & 0x80) !== 0;
          let length = pending[1]! & 0x7f;
          let at = 2;
          if (length === 126) { if (pending.length < 4) return; length = pending.readUInt16BE(2); at = 4; }
          else if (length === 127) { if (pending.length < 10) return; length = Number(pending.readBigUInt64BE(2)); at = 10; }
          const mask = masked ? at : -1;
          if (masked) at += 4;
          if (pending.length < at + length) return;
          const payload = Buffer.from(pending.subarray(at, at + length));
          if (masked) for (let i = 0; i < length; i++) payload[i]! ^= pending[mask + (i & 3)]!;
          pending = pending.subarray(at + length);
          const header = length < 126 ? Buffer.from([0x80 | opcode, length])
            : length < 65536 ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
            : Buffer.concat([Buffer.from([0x80 | opcode, 127]), Buffer.alloc(8)]);
          if (length >= 65536) header.writeBigUInt64BE(BigInt(length), 2);
          if (opcode === 0x8) { socket.off('data', onData); socket.end(Buffer.concat([header, payload])); return; }
          if (opcode === 0x9) socket.write(Buffer.concat([Buffer.from([0x8a, length]), payload])); // ping → pong (≤ 125 B)
          else if (opcode !== 0xa) socket.write(Buffer.concat([header, payload]));
        }
      };
      socket.on('data', onData);
      socket.on('end', () => socket.end());
      if (head.length > 0) onData(head);
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
  case 'net-echo':
  case 'net-echo-kept': {
    // The ceiling for bytes through a Node socket: no parsing, no framing, just write what was read.
    // net-echo-kept: the same, with the heap's freed read buffers kept mapped as switchyard keeps them
    // (src/read-buffer-pages.ts): the raw echo without the page faults glibc's default
    // trimming can cost it, so the WebSocket echo is also compared with an equally tuned raw echo.
    if (kind === 'net-echo-kept') keepReadBufferPages();
    const server = createNetServer({ noDelay: true }, (socket) => {
      socket.on('data', (chunk) => { if (!socket.write(chunk)) socket.pause(); });
      socket.on('drain', () => socket.resume());
      socket.on('error', () => socket.destroy());
      socket.on('end', () => socket.end());
    });
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => announce((server.address() as { port: number }).port));
    break;
  }
  case 'tls-echo': {
    // The ceiling for bytes through TLS in Node, as net-echo is for a socket: node:tls with the fixture
    // certificate, writing back what was decrypted, no parsing, no framing.
    const server = createTlsServer({ ...certificate() }, (socket) => {
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => { if (!socket.write(chunk)) socket.pause(); });
      socket.on('drain', () => socket.resume());
      socket.on('error', () => socket.destroy());
      socket.on('end', () => socket.end());
    });
    server.on('tlsClientError', () => {});
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
        socket.write(switchingProtocols(key));
        socket.on('data', () => {});
      });
      socket.on('error', () => socket.destroy());
    });
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => announce((server.address() as { port: number }).port));
    break;
  }
  case 'net-http-floor': {
    // The ceiling for an HTTP server in Node under this load: no parser at all. Every chunk read is taken
    // to be one whole request (true for wrk's unpipelined GETs, not in general) and answered with the
    // same bytes switchyard's /healthz sends, in one write; a request asking `Connection: close` gets
    // them with `connection: close` and the socket ended. What keep-alive and close ratios against
    // node:http can reach is bounded by what this reaches.
    const answer = (close: boolean): Buffer => Buffer.from(`HTTP/1.1 200 OK\r\ndate: ${new Date().toUTCString()}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 3${close ? '\r\nconnection: close' : ''}\r\n\r\nok\n`, 'latin1');
    const keepAlive = answer(false);
    const closing = answer(true);
    const closeAsked = Buffer.from('onnection: close', 'latin1');
    const server = createNetServer({ noDelay: true }, (socket) => {
      socket.on('data', (chunk: Buffer) => { if (chunk.indexOf(closeAsked) === -1) socket.write(keepAlive); else socket.end(closing); });
      socket.on('error', () => socket.destroy());
      socket.on('end', () => socket.end());
    });
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => announce((server.address() as { port: number }).port));
    break;
  }
  case 'net-handshake-floor': {
    // The ceiling for the handshake cycle in Node under this load: node:net and one regular expression,
    // no HTTP parser, no validation, nothing kept. The first chunk is taken to hold the whole upgrade
    // request and the client's first frame (true for bench/load.ts, which sends them in one write): one
    // write answers both (the 101 and the unmasked echo); a close frame is answered and the socket ended.
    const server = createNetServer({ noDelay: true }, (socket) => {
      let upgraded = false;
      socket.on('data', (chunk: Buffer) => {
        if (upgraded) {
          if ((chunk[0]! & 0x0f) === 0x8) socket.end(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
          return;
        }
        upgraded = true;
        const text = chunk.toString('latin1');
        const key = /\r\nsec-websocket-key: *([^\r]*)\r\n/i.exec(text)?.[1] ?? '';
        const frame = chunk.subarray(text.indexOf('\r\n\r\n') + 4);
        const length = frame.length >= 6 ? frame[1]! & 0x7f : 0;
        const echo = Buffer.alloc(2 + length);
        echo[0] = 0x80 | (frame[0]! & 0x0f);
        echo[1] = length;
        for (let i = 0; i < length; i++) echo[2 + i] = frame[6 + i]! ^ frame[2 + (i & 3)]!;
        socket.write(Buffer.concat([Buffer.from(switchingProtocols(key), 'latin1'), length > 0 ? echo : Buffer.alloc(0)]));
      });
      socket.on('error', () => socket.destroy());
      socket.on('end', () => socket.end());
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
