/**
 * The HTTP/2 half of the load client (bench/load.ts dispatches to it): node:http2 client sessions over
 * cleartext TCP with prior knowledge, the same code against every target.
 *
 * - `h2Requests`: `sessions` sessions × `streams` concurrent streams, each stream slot a loop of
 *   `GET /healthz` (one request, its whole response, the next request) until the deadline.
 * - `h2WebSocketStreams`: `sessions` × `streams` RFC 8441 WebSockets (extended CONNECT, `:protocol
 *   websocket`, `sec-websocket-version: 13`, `:status 200`), each stream handed to the shared echo loop.
 *
 * `clientWindow` (bytes), when set, is the client's receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE)
 * and for the whole session (a connection-level WINDOW_UPDATE); unset, node's defaults (65,535 each).
 */
import { connect, type ClientHttp2Session } from 'node:http2';
import type { EchoConnection } from './ws-echo-loop.js';

const HOST = '127.0.0.1';

export interface Http2Options { port: number; seconds: number; sessions: number; streams: number; clientWindow?: number }

export function openSession(port: number, clientWindow?: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${HOST}:${port}`, clientWindow === undefined ? {} : { settings: { initialWindowSize: clientWindow } });
    session.once('error', reject);
    // The server's SETTINGS first: an extended CONNECT may only be sent once it has enabled them.
    session.once('remoteSettings', () => {
      session.off('error', reject);
      session.on('error', () => {});
      if (clientWindow !== undefined) session.setLocalWindowSize(clientWindow);
      resolve(session);
    });
  });
}

const percentile = (sorted: Float64Array, p: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!);

export async function h2Requests(o: Http2Options): Promise<object> {
  const sessions = await Promise.all(Array.from({ length: o.sessions }, () => openSession(o.port, o.clientWindow)));
  const latencies = new Float64Array(1 << 21);
  let done = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  const headers = { ':path': '/healthz', ':authority': 'bench' };
  const slot = (session: ClientHttp2Session): Promise<void> => new Promise((resolve) => {
    const next = (): void => {
      if (performance.now() >= deadline) { resolve(); return; }
      const sentAt = performance.now();
      const stream = session.request(headers);
      let ok = false;
      stream.once('response', (h) => { ok = h[':status'] === 200; });
      stream.on('data', () => {});
      stream.once('end', () => {
        if (ok) { if (done < latencies.length) latencies[done] = performance.now() - sentAt; done++; } else errors++;
        next();
      });
      stream.once('error', () => { errors++; resolve(); });
    };
    next();
  });
  await Promise.all(sessions.flatMap((session) => Array.from({ length: o.streams }, () => slot(session))));
  const seconds = (performance.now() - started) / 1000;
  for (const session of sessions) session.destroy();
  const sorted = latencies.slice(0, Math.min(done, latencies.length)).sort();
  return { operations: done, errors, seconds, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** Open the WebSockets; returns them and the sessions (to destroy once the echo loop is done). */
export async function h2WebSocketStreams(o: Http2Options): Promise<{ conns: EchoConnection[]; sessions: ClientHttp2Session[] }> {
  const sessions = await Promise.all(Array.from({ length: o.sessions }, () => openSession(o.port, o.clientWindow)));
  const headers = { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/echo', ':authority': 'bench', 'sec-websocket-version': '13' };
  const conns = await Promise.all(sessions.flatMap((session) => Array.from({ length: o.streams }, () => new Promise<EchoConnection>((resolve, reject) => {
    const stream = session.request(headers, { endStream: false });
    stream.once('response', (h) => {
      if (h[':status'] !== 200) { reject(new Error(`extended CONNECT answered ${String(h[':status'])}`)); return; }
      stream.off('error', reject);
      resolve({ stream, rest: Buffer.alloc(0) });
    });
    stream.once('error', reject);
  }))));
  return { conns, sessions };
}
