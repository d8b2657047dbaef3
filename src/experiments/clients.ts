/**
 * The experiments' clients: real sockets on 127.0.0.1, each wait bounded. Plain HTTP requests and raw
 * upgrades go through the CLI's generic upgrade client (it sends any request head and reads one response
 * head); WebSockets through the library's own client.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { ResponseHead } from '../http/response-parser.js';
import { connect as connectWebSocket } from '../protocols/websocket/client.js';
import type { WebSocket } from '../protocols/websocket/session.js';
import { openUpgrade, type UpgradeTarget } from '../cli/upgrade-client.js';

/** Generous: the machine may be busy with other work; nothing here should take more than milliseconds. */
export const WAIT_MS = 10_000;

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function waitUntil(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const localTarget = (port: number, path = '/'): UpgradeTarget => ({
  href: `http://127.0.0.1:${port}${path}`, hostname: '127.0.0.1', port, secure: false, authority: `127.0.0.1:${port}`, path,
});

export interface Exchange {
  readonly socket: Socket;
  readonly head: ResponseHead;
  /** The body (plain HTTP) or the first bytes of the new protocol (after a 101) that were read. */
  readonly data: Buffer;
  /** The client's port: the only part of the 5-tuple that differs between two clients on this host. */
  readonly clientPort: number;
}

/**
 * Send `request` (plus `trailing` in the same write) on a new connection, read the response head, then
 * read until `expectBytes` bytes followed it (default: the Content-Length). The socket stays open.
 */
export async function exchange(port: number, request: string, options: { trailing?: Uint8Array; expectBytes?: number } = {}): Promise<Exchange> {
  const response = await openUpgrade(localTarget(port), request, { timeoutMs: WAIT_MS, ...(options.trailing ? { trailing: options.trailing } : {}) });
  const { socket, head } = response;
  const expected = options.expectBytes ?? Number(head.get('content-length') ?? 0);
  const data = await readAtLeast(socket, Buffer.from(response.rest), expected);
  return { socket, head, data, clientPort: socket.localPort ?? 0 };
}

/** A plain keep-alive GET on a new connection. */
export const httpGet = (port: number, path: string): Promise<Exchange> =>
  exchange(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);

/** Read from a paused socket until `count` bytes are there (`initial` counts), bounded by WAIT_MS. */
export async function readAtLeast(socket: Socket, initial: Buffer, count: number): Promise<Buffer> {
  let data = initial;
  if (data.length >= count) return data;
  await withTimeout(new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= count) { socket.off('data', onData); socket.pause(); resolve(); }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`the connection closed after ${data.length} of ${count} bytes`)));
    socket.resume();
  }), WAIT_MS, `${count} bytes`);
  return data;
}

/** Send our FIN and wait for the connection to be gone. */
export async function closeSocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return;
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('end', () => socket.end());
  socket.resume();
  socket.end();
  await withTimeout(closed, WAIT_MS, 'the connection to close');
}

export interface WebSocketClient {
  readonly ws: WebSocket;
  readonly clientPort: number;
}

export async function openWebSocket(port: number, path: string): Promise<WebSocketClient> {
  const ws = await connectWebSocket(`ws://127.0.0.1:${port}${path}`, { timeoutMs: WAIT_MS });
  return { ws, clientPort: (ws.socket as Socket).localPort ?? 0 };
}

/** Send one text message and return the next message received. */
export async function roundTrip(ws: WebSocket, text: string): Promise<string> {
  const reply = once(ws, 'message');
  ws.send(text);
  const [data] = await withTimeout(reply, WAIT_MS, `the reply to "${text}"`);
  return typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString('utf8');
}

export async function closeWebSocket(ws: WebSocket): Promise<void> {
  const closed = once(ws, 'close');
  ws.close(1000);
  await withTimeout(closed, WAIT_MS, 'the WebSocket to close');
}
