/**
 * The experiments' clients: real sockets on 127.0.0.1, each wait bounded. Plain HTTP requests and raw
 * upgrades go through the CLI's generic upgrade client (it sends any request head and reads one response
 * head); WebSockets through the library's own client. HTTPS and wss:// clients (`httpsGet`,
 * `openSecureWebSocket`) connect to 127.0.0.1 but choose their SNI name themselves, as a browser does for
 * a URL whose host name resolves there, and verify the certificate against the one they are given.
 */
import { once } from 'node:events';
import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type IncomingHttpStatusHeader } from 'node:http2';
import type { Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { DEFAULT_LIMITS } from '../limits.js';
import { type ResponseHead, ResponseHeadParser } from '../http/response-parser.js';
import { connect as connectWebSocket } from '../protocols/websocket/client.js';
import { buildClientHandshakeRequest, generateClientKey, verifyServerHandshake } from '../protocols/websocket/handshake.js';
import { WebSocket } from '../protocols/websocket/session.js';
import { encodeFrame, FrameDecoder, type FrameHeader, Opcode } from '../protocols/websocket/frame-codec.js';
import { createMaskSource } from '../protocols/websocket/mask.js';
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

/** How a TLS client of an experiment names and trusts the server. */
export interface SecureTarget {
  /** The only certificate to trust (the experiment's own self-signed one): verification stays on. */
  readonly ca: string;
  /**
   * The SNI name to send (RFC 6066 §3), as a browser sends a URL's host name. Absent: none is sent, as for
   * a URL with an IP address, which "HostName" may not carry; the certificate is then checked for 127.0.0.1.
   */
  readonly servername?: string;
}

/**
 * A TLS connection to 127.0.0.1:`port`, handshake completed and certificate verified. ALPN offers only
 * `http/1.1`, like the CLI's client and like browsers for WebSocket: both requests that follow are HTTP/1.1.
 */
export async function connectTls(port: number, target: SecureTarget): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    ca: target.ca,
    ALPNProtocols: ['http/1.1'],
    ...(target.servername === undefined ? {} : { servername: target.servername }),
  });
  try {
    await withTimeout(once(socket, 'secureConnect'), WAIT_MS, 'the TLS handshake');
  } catch (error) {
    socket.destroy();
    throw error;
  }
  socket.setNoDelay(true);
  return socket;
}

/** The `Host` field for a secure target: the SNI name when there is one, else the address. */
const secureAuthority = (port: number, target: SecureTarget): string => `${target.servername ?? '127.0.0.1'}:${port}`;

/** Write `request` on a connected socket and read the response head; the socket is left paused. */
async function requestOn(socket: Socket, request: string): Promise<{ head: ResponseHead; rest: Buffer }> {
  const parser = new ResponseHeadParser();
  let cleanup = (): void => {};
  const answered = new Promise<{ head: ResponseHead; rest: Buffer }>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      const event = parser.receive(chunk);
      if (event.type === 'need-data') return;
      cleanup();
      socket.pause();
      if (event.type === 'error') reject(new Error(`not an HTTP/1.x response: ${event.error.message}`));
      else resolve({ head: event.head, rest: Buffer.from(event.rest) });
    };
    const onClose = (): void => { cleanup(); reject(new Error('the connection closed before the response head')); };
    const onError = (error: Error): void => { cleanup(); reject(error); };
    cleanup = () => { socket.off('data', onData); socket.off('close', onClose); socket.off('error', onError); };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.write(request);
    socket.resume();
  });
  try {
    const answer = await withTimeout(answered, WAIT_MS, 'the response head');
    // As openUpgrade does: a late reset must not crash the process; 'close' tells the caller.
    socket.on('error', () => {});
    return answer;
  } catch (error) {
    cleanup();
    socket.destroy();
    throw error;
  }
}

/** A keep-alive GET inside TLS on a new connection: `httpGet` for https://. The socket stays open. */
export async function httpsGet(port: number, path: string, target: SecureTarget): Promise<Exchange & { readonly socket: TLSSocket }> {
  const socket = await connectTls(port, target);
  const { head, rest } = await requestOn(socket, `GET ${path} HTTP/1.1\r\nHost: ${secureAuthority(port, target)}\r\n\r\n`);
  const data = await readAtLeast(socket, rest, Number(head.get('content-length') ?? 0));
  return { socket, head, data, clientPort: socket.localPort ?? 0 };
}

export interface SecureWebSocketClient extends WebSocketClient {
  readonly socket: TLSSocket;
}

/** `openWebSocket` for wss://: the opening handshake (RFC 6455 §4.1) inside TLS, checked as the library's client checks it. */
export async function openSecureWebSocket(port: number, path: string, target: SecureTarget): Promise<SecureWebSocketClient> {
  const socket = await connectTls(port, target);
  const key = generateClientKey();
  const { head, rest } = await requestOn(socket, buildClientHandshakeRequest({ host: secureAuthority(port, target), path, key }));
  const verdict = verifyServerHandshake(head.status, head.fields, { key });
  if (!verdict.ok) {
    socket.destroy();
    throw new Error(`wss:// handshake on ${path} failed: ${head.status} ${head.reason}: ${verdict.error.message}`);
  }
  const ws = new WebSocket(socket, {
    role: 'client',
    maxMessageBytes: DEFAULT_LIMITS.webSocketMaxMessageBytes,
    closeTimeoutMs: DEFAULT_LIMITS.webSocketCloseTimeoutMs,
    protocol: verdict.protocol ?? '',
  }, rest);
  return { ws, socket, clientPort: socket.localPort ?? 0 };
}

// HTTP/2 (experiment one-connection): one session, many streams. node:http2's client speaks HTTP/2 with
// prior knowledge on http:// (RFC 9113 §3.3: the preface first, no Upgrade), so every stream below shares
// one TCP connection, one 5-tuple.

/** An HTTP/2 session to 127.0.0.1:`port` over cleartext, once the server's SETTINGS have arrived. */
export async function openHttp2Session(port: number): Promise<ClientHttp2Session> {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    await withTimeout(once(session, 'remoteSettings'), WAIT_MS, "the server's SETTINGS");
  } catch (error) {
    session.destroy();
    throw error;
  }
  return session;
}

/** The client's port of a session: the one part of the 5-tuple all its streams share with nobody else. */
export const sessionClientPort = (session: ClientHttp2Session): number => (session.socket as Socket).localPort ?? 0;

/** The `:status` of a stream's response (and its other header fields), bounded by WAIT_MS. */
export async function responseOf(stream: ClientHttp2Stream): Promise<IncomingHttpHeaders & IncomingHttpStatusHeader> {
  const [headers] = await withTimeout(once(stream, 'response'), WAIT_MS, 'the response HEADERS') as [IncomingHttpHeaders & IncomingHttpStatusHeader];
  return headers;
}

/** The whole body of a stream, until END_STREAM. */
export async function bodyOf(stream: ClientHttp2Stream): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await withTimeout(once(stream, 'end'), WAIT_MS, 'the end of the response');
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * RFC 8441 §4 extended CONNECT: `:method CONNECT`, `:protocol`, `:scheme`, `:path`, `:authority`. The
 * server must have announced SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (§3), or node refuses to send it.
 * Resolves with the stream once the server answered `:status 200`.
 */
export async function extendedConnect(session: ClientHttp2Session, path: string, protocol: string, fields: Record<string, string> = {}): Promise<ClientHttp2Stream> {
  const stream = session.request({ ':method': 'CONNECT', ':protocol': protocol, ':scheme': 'http', ':path': path, ...fields });
  stream.on('error', () => {});
  const headers = await responseOf(stream);
  if (headers[':status'] !== 200) {
    stream.close();
    throw new Error(`extended CONNECT :protocol ${protocol} on ${path} → ${String(headers[':status'])}`);
  }
  return stream;
}

/** A WebSocket over one HTTP/2 stream (RFC 8441 §5): frames written with the project's codec, masked. */
export class StreamWebSocket {
  readonly stream: ClientHttp2Stream;
  readonly #decoder = new FrameDecoder({ role: 'client' });
  readonly #mask = createMaskSource();
  readonly #frames: Array<{ opcode: number; payload: Buffer }> = [];
  #header: FrameHeader | undefined;
  #payload: Buffer[] = [];
  #waiting: (() => void) | undefined;

  constructor(stream: ClientHttp2Stream) {
    this.stream = stream;
    stream.on('data', (chunk: Buffer) => {
      this.#decoder.receive(chunk);
      for (let event = this.#decoder.next(); event.type !== 'need-data'; event = this.#decoder.next()) {
        if (event.type === 'error') { stream.destroy(event.error); return; }
        if (event.type === 'header') { this.#header = event.header; this.#payload = []; }
        if (event.type === 'payload') this.#payload.push(Buffer.from(event.data));
        if (event.type === 'frame-end') this.#frames.push({ opcode: this.#header!.opcode, payload: Buffer.concat(this.#payload) });
      }
      this.#waiting?.();
    });
  }

  /** RFC 8441 §5: `:protocol websocket` and `sec-websocket-version: 13`; no key, no accept, no 101. */
  static async open(session: ClientHttp2Session, path: string): Promise<StreamWebSocket> {
    return new StreamWebSocket(await extendedConnect(session, path, 'websocket', { 'sec-websocket-version': '13' }));
  }

  send(opcode: Opcode, payload: Uint8Array): void {
    for (const buffer of encodeFrame({ opcode, payload, mask: this.#mask() })) this.stream.write(buffer);
  }

  /** The next whole frame the server sent (this client sends and expects unfragmented frames). */
  async nextFrame(): Promise<{ opcode: number; payload: Buffer }> {
    await withTimeout(new Promise<void>((resolve, reject) => {
      const check = (): void => { if (this.#frames.length > 0) { this.#waiting = undefined; resolve(); } };
      this.#waiting = check;
      this.stream.once('close', () => reject(new Error('the stream closed before a frame arrived')));
      check();
    }), WAIT_MS, 'a WebSocket frame');
    return this.#frames.shift()!;
  }

  /** Send one text message and return the text of the next frame. */
  async roundTrip(text: string): Promise<string> {
    this.send(Opcode.Text, Buffer.from(text));
    return (await this.nextFrame()).payload.toString('utf8');
  }

  /** The closing handshake (RFC 6455 §5.5.1) inside the stream, then END_STREAM; resolves with the server's close code. */
  async close(code = 1000): Promise<number> {
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.send(Opcode.Close, payload);
    let frame = await this.nextFrame();
    while (frame.opcode !== Opcode.Close) frame = await this.nextFrame();
    const closed = once(this.stream, 'close');
    this.stream.end();
    await withTimeout(closed, WAIT_MS, 'the WebSocket stream to close');
    return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
  }
}

/** A line protocol (lab-chat/1) on one stream: lines out, lines in. */
export class StreamLines {
  readonly stream: ClientHttp2Stream;
  readonly #lines: string[] = [];
  #rest = '';
  #waiting: (() => void) | undefined;

  constructor(stream: ClientHttp2Stream) {
    this.stream = stream;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (this.#rest + chunk).split('\n');
      this.#rest = parts.pop()!;
      this.#lines.push(...parts);
      this.#waiting?.();
    });
  }

  static async open(session: ClientHttp2Session, path: string, protocol: string): Promise<StreamLines> {
    return new StreamLines(await extendedConnect(session, path, protocol));
  }

  send(line: string): void { this.stream.write(`${line}\n`); }

  async nextLine(): Promise<string> {
    await withTimeout(new Promise<void>((resolve, reject) => {
      const check = (): void => { if (this.#lines.length > 0) { this.#waiting = undefined; resolve(); } };
      this.#waiting = check;
      this.stream.once('close', () => reject(new Error('the stream closed before a line arrived')));
      check();
    }), WAIT_MS, 'a line');
    return this.#lines.shift()!;
  }

  /** END_STREAM from us; the server ends its side and the stream closes. */
  async close(): Promise<void> {
    const closed = once(this.stream, 'close');
    this.stream.end();
    this.stream.resume();
    await withTimeout(closed, WAIT_MS, 'the stream to close');
  }
}
