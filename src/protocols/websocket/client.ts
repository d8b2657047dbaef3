/**
 * A WebSocket client over `node:net` (or `node:tls` for wss:), used by the tests, the CLI and the browser
 * test's DevTools connection. It sends the opening handshake (RFC 6455 §4.1), reads the response with the
 * sans-IO ResponseHeadParser, verifies `Sec-WebSocket-Accept` and the chosen subprotocol (§4.2.2 /
 * §4.1 items 5-6 of the client's checks), then hands the socket and any bytes that followed the 101 to a
 * `WebSocket` in the client role (every frame masked with a fresh random key from node:crypto).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ProtocolError } from '../../errors.js';
import type { Field } from '../../http/request-head.js';
import { ResponseHeadParser, type ResponseHead } from '../../http/response-parser.js';
import { DEFAULT_LIMITS } from '../../limits.js';
import { generateClientKey } from './accept-key.js';
import { buildClientHandshakeRequest, verifyServerHandshake } from './handshake.js';
import { DEFAULT_DEFLATE_TUNING, type DeflateTuning } from './permessage-deflate.js';
import { WebSocket } from './session.js';

export interface ConnectOptions {
  /** Subprotocols to offer, most preferred first. */
  readonly protocols?: readonly string[];
  /** Extra request headers. */
  readonly headers?: readonly Field[];
  readonly origin?: string;
  /** Give up on connect + handshake after this many ms (default 10 s). */
  readonly timeoutMs?: number;
  readonly maxMessageBytes?: number;
  readonly closeTimeoutMs?: number;
  /**
   * Offer permessage-deflate (RFC 7692), on by default as in browsers; `false` offers no extension. An
   * object tunes our compressor (level, memLevel, the threshold below which messages go uncompressed).
   */
  readonly deflate?: boolean | Partial<DeflateTuning>;
  /** TLS options for wss: URLs, e.g. `{ ca }` or `{ rejectUnauthorized: false }` for a lab certificate. */
  readonly tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean; servername?: string };
  /** Called with the raw request and response heads (for `connect --verbose` and `probe`). */
  readonly onHandshake?: (request: string, response: ResponseHead) => void;
}

/** The server answered, but not with a valid 101 for us. */
export class HandshakeError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly response: ResponseHead | undefined;
  constructor(code: string, message: string, response?: ResponseHead) {
    super(message);
    this.name = 'HandshakeError';
    this.code = code;
    this.status = response?.status;
    this.response = response;
  }
}

export function connect(url: string | URL, options: ConnectOptions = {}): Promise<WebSocket> {
  const target = new URL(url);
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(target.protocol)) {
    return Promise.reject(new HandshakeError('ERR_BAD_URL', `not a WebSocket URL: ${target.href}`));
  }
  const port = Number(target.port || (secure ? 443 : 80));
  const hostname = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const key = generateClientKey();
  const offerDeflate = options.deflate !== false;
  const tuning: DeflateTuning = { ...DEFAULT_DEFLATE_TUNING, ...(typeof options.deflate === 'object' ? options.deflate : {}) };
  const request = buildClientHandshakeRequest({
    deflate: offerDeflate,
    host: target.host,
    path: (target.pathname || '/') + target.search,
    key,
    ...(options.protocols ? { protocols: options.protocols } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.origin ? { origin: options.origin } : {}),
  });
  return new Promise((resolve, reject) => {
    const socket: Socket = secure
      ? tlsConnect({ host: hostname, port, servername: options.tls?.servername ?? hostname, ...options.tls })
      : netConnect({ host: hostname, port });
    const parser = new ResponseHeadParser();
    const timer = setTimeout(() => fail(new HandshakeError('ERR_HANDSHAKE_TIMEOUT', `no handshake response from ${target.host} within ${options.timeoutMs ?? 10_000} ms`)), options.timeoutMs ?? 10_000);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const onError = (error: Error): void => fail(error);
    const onClose = (): void => fail(new HandshakeError('ERR_HANDSHAKE_CLOSED', `${target.host} closed the connection during the handshake`));
    const onData = (chunk: Buffer): void => {
      const event = parser.receive(chunk);
      if (event.type === 'need-data') return;
      if (event.type === 'error') { fail(new HandshakeError(event.error.code, event.error.message)); return; }
      const { head, rest } = event;
      options.onHandshake?.(request, head);
      const verdict = verifyServerHandshake(head.status, head.fields, { key, protocols: options.protocols ?? [], deflate: offerDeflate });
      if (!verdict.ok) {
        fail(new HandshakeError(verdict.error.code, head.status === 101 ? verdict.error.message : `server answered ${head.status} ${head.reason}, not 101`, head));
        return;
      }
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      // Frames are whole messages already; Nagle's algorithm would only delay small ones (pings, pongs).
      socket.setNoDelay(true);
      resolve(new WebSocket(socket, {
        role: 'client',
        maxMessageBytes: options.maxMessageBytes ?? DEFAULT_LIMITS.webSocketMaxMessageBytes,
        closeTimeoutMs: options.closeTimeoutMs ?? DEFAULT_LIMITS.webSocketCloseTimeoutMs,
        protocol: verdict.protocol ?? '',
        ...(verdict.deflate === undefined ? {} : { deflate: { params: verdict.deflate, ...tuning } }),
      }, rest));
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(request));
  });
}

export { ProtocolError };
