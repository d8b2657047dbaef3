/**
 * One benchmark target per process, so the server's CPU and memory are measured apart from the load
 * client's: `node target-server.js <switchyard|node-http|net-echo|net-upgrade>` prints `port <n>` and serves
 * until killed. Every target answers the same way: `GET /healthz` → `ok\n`; echo targets echo bytes.
 */
import { createServer as createHttpServer } from 'node:http';
import { createHash } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { startLab } from '../src/lab.js';

// Handlers first: the orchestrator may signal as soon as it reads the port, and SIGUSR2's default action
// is to terminate the process.
// SIGUSR2 collects garbage (when started with --expose-gc) so memory samples measure live objects only.
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) { gc(); gc(); }
});

// Exit normally on a signal so `--cpu-prof` can write its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));

const kind = process.argv[2];
const announce = (port: number): void => { process.stdout.write(`port ${port}\n`); };

switch (kind) {
  case 'switchyard': {
    // Limits raised so the benchmark measures speed, not the defaults' protection.
    const lab = await startLab({ port: 0, backlog: 4096, limits: { maxConnections: 50_000, keepAliveTimeoutMs: 60_000, headersTimeoutMs: 60_000 } });
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
  default:
    process.stderr.write(`unknown target ${kind}\n`);
    process.exit(2);
}
