/**
 * The load client, run in its own process by bench/run.ts: `node load.js <scenario> <json options>`
 * prints one JSON result line. It is built to cost less per operation than any server it drives: raw
 * sockets, requests and frames encoded (and masked) once and reused, responses counted by length and
 * compared with memcmp against the expected bytes rather than parsed.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { h2Requests, h2WebSocketStreams } from './http2-load.js';
import { echoFrames, runEcho, type EchoPlan } from './ws-echo-loop.js';
import { IncomingMessages, OutgoingFrames, openDeflate, payloadPool, runDeflateEcho, type DeflateConnection, type PayloadKind } from './ws-deflate-loop.js';

interface Options {
  port: number; seconds: number; connections: number; size?: number; window?: number; count?: number;
  /** Echo: messages per connection (or stream) instead of a duration. */
  messages?: number;
  /** HTTP/2: sessions, concurrent streams per session, the client's receive window (bench/http2-load.ts). */
  sessions?: number; streams?: number; clientWindow?: number;
  /** permessage-deflate echo and idle (bench/ws-deflate-loop.ts): JSON-like text or random binary. */
  payload?: PayloadKind;
  /** Echo (ws-echo, tcp-echo) over TLS: node:tls, no certificate check (the targets serve the test fixture's). */
  tls?: boolean;
}

const [scenario, json] = process.argv.slice(2);
const options = JSON.parse(json ?? '{}') as Options;
const HOST = '127.0.0.1';

/** A connected socket: plain TCP, or with `tls` a node:tls socket once its handshake is done (HTTP/1.1: no ALPN offered). */
function open(port: number, tls = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const ready = (): void => { socket.off('error', reject); socket.setNoDelay(true); resolve(socket); };
    const socket: Socket = tls
      ? connectTls({ port, host: HOST, rejectUnauthorized: false }, ready)
      : connect({ port, host: HOST, noDelay: true }, ready);
    socket.once('error', reject);
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

class Latencies {
  #values = new Float64Array(1 << 21);
  #count = 0;
  add(ms: number): void { if (this.#count < this.#values.length) this.#values[this.#count++] = ms; }
  summary(): { p50: number; p99: number } {
    const sorted = this.#values.slice(0, this.#count).sort();
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
  }
}

/** Keep-alive GET /healthz, one request in flight per connection (like wrk). */
async function httpKeepAlive(o: Options): Promise<object> {
  const request = Buffer.from('GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n');
  const latencies = new Latencies();
  let done = 0;
  let errors = 0;
  const deadline = performance.now() + o.seconds * 1000;
  const sockets = await Promise.all(Array.from({ length: o.connections }, () => open(o.port)));
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => {
    let responseBytes = 0; // learned from the first response: every response is the same size
    let head = '';
    let received = 0;
    let sentAt = performance.now();
    const send = (): void => {
      if (performance.now() >= deadline) { socket.destroy(); resolve(); return; }
      sentAt = performance.now();
      socket.write(request);
    };
    socket.on('data', (chunk: Buffer) => {
      if (responseBytes === 0) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        const length = Number(/content-length: *(\d+)/i.exec(head.slice(0, end))?.[1] ?? 0);
        responseBytes = end + 4 + length;
        received = head.length;
      } else {
        if (received === 0 && chunk[9] !== 0x32) errors++; // "HTTP/1.1 2xx": a response starts here
        received += chunk.length;
      }
      while (received >= responseBytes) {
        received -= responseBytes;
        done++;
        latencies.add(performance.now() - sentAt);
        if (received === 0) send();
      }
    });
    socket.on('error', () => { errors++; resolve(); });
    send();
  })));
  return { operations: done, errors, ...latencies.summary() };
}

/**
 * `connections` parallel loops, each running `cycle` (one connection's whole life) until the deadline:
 * the shape of every per-connection scenario.
 */
async function cycles(o: Options, cycle: () => Promise<void>): Promise<object> {
  const latencies = new Latencies();
  let done = 0;
  let errors = 0;
  const deadline = performance.now() + o.seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const started = performance.now();
      try {
        await cycle();
        done++;
        latencies.add(performance.now() - started);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: o.connections }, loop));
  return { operations: done, errors, ...latencies.summary() };
}

/** Connection: close — connect, one request, read to EOF, repeat: accept + parse + respond + close. */
function httpClose(o: Options): Promise<object> {
  const request = Buffer.from('GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n');
  return cycles(o, () => new Promise<void>((resolve, reject) => {
    const socket = connect({ port: o.port, host: HOST, noDelay: true }, () => socket.write(request));
    let ok = false;
    socket.on('data', (chunk: Buffer) => { if (!ok && chunk[9] === 0x32) ok = true; });
    socket.on('end', () => { socket.end(); ok ? resolve() : reject(new Error('bad response')); });
    socket.on('error', reject);
  }));
}

const GUID_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const HANDSHAKE = Buffer.from(`GET /echo HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${GUID_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);

async function upgrade(port: number, tls = false): Promise<{ socket: Socket; rest: Buffer }> {
  const socket = await open(port, tls);
  socket.write(HANDSHAKE);
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      if (!head.subarray(0, 12).equals(Buffer.from('HTTP/1.1 101'))) { reject(new Error(`no 101: ${head.subarray(0, 40)}`)); return; }
      resolve({ socket, rest: head.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/**
 * Echo throughput with a window of messages in flight per connection. Against switchyard the client
 * speaks WebSocket (masked frames out, unmasked echoes checked byte for byte); against the raw TCP echo
 * it sends the same masked frame bytes and checks they come back unchanged. With `messages`, every
 * connection sends that many and the run lasts as long as it takes; else it stops after `seconds`.
 * With `tls` the same over node:tls (wss:// against switchyard-tls, raw bytes against tls-echo).
 */
async function echo(o: Options, websocket: boolean): Promise<object> {
  const { masked, unmasked } = echoFrames(o.size!);
  const conns = await Promise.all(Array.from({ length: o.connections }, async () => {
    if (websocket) { const { socket, rest } = await upgrade(o.port, o.tls); return { stream: socket, rest }; }
    return { stream: await open(o.port, o.tls), rest: Buffer.alloc(0) };
  }));
  const result = await runEcho(conns, echoPlan(o, masked, websocket ? unmasked : masked));
  return { ...result, bytes: result.operations * o.size! };
}

function echoPlan(o: Options, send: Buffer, expected: Buffer): EchoPlan {
  const window = o.window ?? 4;
  return o.messages !== undefined ? { send, expected, window, messages: o.messages } : { send, expected, window, deadline: performance.now() + o.seconds * 1000 };
}

/**
 * The same echo loop over RFC 8441 WebSockets: `sessions` HTTP/2 sessions × `streams` streams each. With
 * `websocket` false the target is a raw stream echo (bench/target-server.ts node-http2-echo): the same
 * masked frames are sent and must come back unchanged.
 */
async function http2Echo(o: Options, websocket: boolean): Promise<object> {
  const { masked, unmasked } = echoFrames(o.size!);
  const { conns, sessions } = await h2WebSocketStreams({ ...o, sessions: o.sessions!, streams: o.streams! });
  const result = await runEcho(conns, echoPlan(o, masked, websocket ? unmasked : masked));
  for (const session of sessions) session.destroy();
  return { ...result, bytes: result.operations * o.size! };
}

/** connect → upgrade → one echo → close handshake → TCP closed, in `connections` parallel loops. */
function handshakeCycles(o: Options): Promise<object> {
  const { masked, unmasked } = echoFrames(16);
  const close = Buffer.from([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]);
  const request = Buffer.concat([HANDSHAKE, masked]);
  return cycles(o, () => new Promise<void>((resolve, reject) => {
    const socket = connect({ port: o.port, host: HOST, noDelay: true }, () => socket.write(request));
    let buffer = '';
    let echoed = false;
    socket.on('data', (chunk: Buffer) => {
      if (echoed) return;
      buffer += chunk.toString('latin1');
      const end = buffer.indexOf('\r\n\r\n');
      if (end !== -1 && buffer.length >= end + 4 + unmasked.length) {
        echoed = true;
        socket.write(close);
      }
    });
    socket.on('end', () => { socket.end(); echoed ? resolve() : reject(new Error('no echo')); });
    socket.on('error', reject);
  }));
}

/** Open `count` idle connections (WebSocket-upgraded or bare), report, and hold them until told to stop. */
async function idle(o: Options, websocket: boolean): Promise<object> {
  const held: Socket[] = [];
  const batch = 200;
  for (let i = 0; i < o.count!; i += batch) {
    const opened = await Promise.all(Array.from({ length: Math.min(batch, o.count! - i) }, async () => (websocket ? (await upgrade(o.port)).socket : open(o.port))));
    held.push(...opened);
  }
  process.stdout.write(JSON.stringify({ opened: held.length }) + '\n');
  // Hold until the orchestrator has sampled the server, then close everything.
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  for (const socket of held) socket.destroy();
  return { closed: held.length };
}

/**
 * Echo with permessage-deflate offered (bench/ws-deflate-loop.ts): the same client whether the server
 * agrees (compressed both ways) or declines (plain frames), so rows compare the servers.
 */
async function deflateEcho(o: Options): Promise<object> {
  const pool = payloadPool(o.payload ?? 'json', o.size!);
  // Open in batches: hundreds of simultaneous connects overflow nothing, but spread the handshakes.
  const conns: DeflateConnection[] = [];
  for (let i = 0; i < o.connections; i += 100) {
    conns.push(...await Promise.all(Array.from({ length: Math.min(100, o.connections - i) }, () => openDeflate(o.port))));
  }
  const window = o.window ?? 4;
  return runDeflateEcho(conns, o.messages !== undefined ? { kind: o.payload ?? 'json', size: o.size!, window, messages: o.messages } : { kind: o.payload ?? 'json', size: o.size!, window, deadline: performance.now() + o.seconds * 1000 }, pool);
}

/**
 * Idle connections that offered permessage-deflate and exchanged one message each way (a `size`-byte
 * JSON-like text, compressed when agreed, its echo verified), held until told to stop.
 */
async function idleDeflate(o: Options): Promise<object> {
  const pool = payloadPool('json', o.size ?? 1024);
  const held: Socket[] = [];
  let errors = 0;
  let agreed = 0;
  let frames: OutgoingFrames | undefined;
  const one = async (): Promise<void> => {
    const { socket, rest, params } = await openDeflate(o.port);
    if (params !== undefined) agreed++;
    frames ??= new OutgoingFrames(pool, 0x1, params);
    await new Promise<void>((resolve) => {
      const incoming = new IncomingMessages(params, (payload) => {
        if (pool[0]!.compare(payload) !== 0) errors++;
        socket.removeAllListeners('data');
        resolve();
      }, () => { errors++; resolve(); });
      socket.on('data', (chunk: Buffer) => incoming.push(chunk));
      if (rest.length > 0) incoming.push(rest);
      socket.write(frames!.frame(0));
    });
    held.push(socket);
  };
  const batch = 200;
  for (let i = 0; i < o.count!; i += batch) await Promise.all(Array.from({ length: Math.min(batch, o.count! - i) }, one));
  process.stdout.write(JSON.stringify({ opened: held.length, agreed, errors }) + '\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  for (const socket of held) socket.destroy();
  return { closed: held.length, agreed, errors };
}

const run = async (): Promise<object> => {
  switch (scenario) {
    case 'http-keepalive': return httpKeepAlive(options);
    case 'http-close': return httpClose(options);
    case 'ws-echo': return echo(options, true);
    case 'tcp-echo': return echo(options, false);
    case 'handshake': return handshakeCycles(options);
    case 'h2-requests': return h2Requests({ ...options, sessions: options.sessions ?? 1, streams: options.streams ?? 1 });
    case 'h2-ws-echo': return http2Echo(options, true);
    case 'h2-raw-echo': return http2Echo(options, false);
    case 'idle-ws': return idle(options, true);
    case 'idle-tcp': return idle(options, false);
    case 'ws-deflate-echo': return deflateEcho(options);
    case 'idle-ws-deflate': return idleDeflate(options);
    default: throw new Error(`unknown scenario ${scenario}`);
  }
};

run().then((result) => {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}, (error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
