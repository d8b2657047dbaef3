/**
 * The CLI's HTTP/2 client: `connect --http2` and `probe --http2` open their sessions and streams here.
 * node:http2 does all the framing and HPACK; this file decides what to connect to, what to ask, and how
 * to say what happened.
 *
 * How this works: we open the TCP (or TLS, with ALPN `h2`, RFC 9113 §3.2) connection ourselves, with
 * exactly the trust and SNI rules of the HTTP/1.1 path (`tlsOptions` in upgrade-client.ts), so every
 * failure before HTTP/2 starts reads the same as it does there. Then the socket is handed to
 * `http2.connect` (`createConnection`), which writes the connection preface (RFC 9113 §3.4) and our
 * SETTINGS. Cleartext is "prior knowledge" (RFC 9113 §3.3): the preface first, no Upgrade, no ALPN. We
 * wait for the server's SETTINGS, because only they say whether an extended CONNECT (RFC 8441 §3) may
 * be sent, then open one stream: an extended CONNECT with `:protocol` (RFC 8441 §4), or a GET.
 */
import { CLIENT_DEFLATE_OFFER } from '../protocols/websocket/deflate-negotiation.js';
import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Settings } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Field } from '../http/request-head.js';
import { CliError } from './cli-error.js';
import { describeSocketError, printable, tlsOptions, type TlsTrust, type UpgradeTarget } from './upgrade-client.js';

/** RFC 9113 §3.4: the 24 octets every HTTP/2 client sends first, before its SETTINGS frame. */
export const CONNECTION_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

export interface Http2Session {
  readonly session: ClientHttp2Session;
  /** The TCP or TLS socket under the session (for the 5-tuple and the TLS report). */
  readonly socket: Socket;
  /** The SETTINGS we sent after the preface, as node:http2 reports them. */
  readonly localSettings: Settings;
  /** The server's first SETTINGS frame. */
  readonly remoteSettings: Settings;
}

export interface Http2OpenOptions {
  readonly timeoutMs: number;
  readonly tls: TlsTrust;
  /** Called once the socket is connected (and TLS agreed), before the preface goes out. */
  readonly onConnected?: (socket: Socket) => void;
}

/**
 * Connect and start HTTP/2; resolves once the server's SETTINGS have arrived. Every failure is a CliError
 * with exit code 1 and a one-line reason.
 */
export function openHttp2(target: UpgradeTarget, options: Http2OpenOptions): Promise<Http2Session> {
  const where = target.authority;
  const trust = options.tls;
  return new Promise((resolve, reject) => {
    const socket: Socket = target.secure
      ? tlsConnect(tlsOptions(target, trust, ['h2']))
      : netConnect({ host: target.hostname, port: target.port });
    let session: ClientHttp2Session | undefined;
    let connected = false;
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session?.destroy();
      socket.destroy();
      reject(new CliError(message, 1));
    };
    const timer = setTimeout(() => fail(connected
      ? `${where} sent no HTTP/2 SETTINGS within ${options.timeoutMs} ms (is it an HTTP/2 server?)`
      : `no response from ${where} within ${options.timeoutMs} ms`), options.timeoutMs);
    const onSocketError = (error: NodeJS.ErrnoException): void => {
      if (error.code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') {
        fail(`TLS with ${where} failed: the server refused ALPN h2 (it does not speak HTTP/2 over TLS); drop --http2 to use HTTP/1.1`);
        return;
      }
      fail(connected ? notHttp2(error) : describeSocketError(error, target, trust, target.secure));
    };
    const notHttp2 = (error: NodeJS.ErrnoException): string => `${where} did not answer in HTTP/2 (${error.message}${error.code ? `, ${error.code}` : ''}): ` +
      `it may speak only HTTP/1.1${target.secure ? '' : ' or not accept HTTP/2 with prior knowledge'}; drop --http2 to use HTTP/1.1`;
    socket.on('error', onSocketError);
    socket.once('close', () => fail(connected
      ? `${where} closed the connection before sending its HTTP/2 SETTINGS (is it an HTTP/2 server?)`
      : target.secure ? `${where} closed the connection during the TLS handshake` : `${where} closed the connection before answering`));
    socket.once(target.secure ? 'secureConnect' : 'connect', () => {
      connected = true;
      socket.setNoDelay(true);
      options.onConnected?.(socket);
      if (target.secure) {
        const alpn = (socket as TLSSocket).alpnProtocol;
        // RFC 9113 §3.2: over TLS, HTTP/2 is only spoken once ALPN agreed on "h2"; anything else is not it.
        if (alpn !== 'h2') {
          fail(`TLS with ${where} agreed ALPN ${alpn ? printable(alpn) : 'none'}, not h2: the server does not speak HTTP/2 over TLS; drop --http2 to use HTTP/1.1`);
          return;
        }
      }
      // The authority's scheme tells node:http2 which :scheme to default to; the socket is ours.
      session = http2Connect(`${target.secure ? 'https' : 'http'}://${target.authority}`, { createConnection: () => socket });
      // Before the server's SETTINGS, any error means it does not speak HTTP/2 here: an HTTP/1.1 server
      // answers the preface ("PRI * HTTP/2.0", RFC 9113 §3.4) with a 400 that node:http2 cannot parse.
      session.on('error', (error: NodeJS.ErrnoException) => fail(notHttp2(error)));
      session.once('remoteSettings', (settings: Settings) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // From here the caller owns the session; a late error must not crash before it listens.
        session!.on('error', () => {});
        resolve({ session: session!, socket, localSettings: session!.localSettings, remoteSettings: settings });
      });
    });
  });
}

/** RFC 8441 §3: without SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 a client MUST NOT send `:protocol`. */
export function requireExtendedConnect(target: UpgradeTarget, settings: Settings): void {
  if (settings.enableConnectProtocol === true) return;
  throw new CliError(
    `${target.authority} speaks HTTP/2 but did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, so it does not accept ` +
    'an extended CONNECT with :protocol (RFC 8441 §3); try without --http2', 1);
}

/**
 * The header block of an extended CONNECT (RFC 8441 §4): `:method CONNECT` with `:protocol`, plus the
 * `:scheme` and `:path` a plain CONNECT would not carry, and `:authority` in place of Host. For websocket,
 * RFC 8441 §5: `sec-websocket-version: 13` and the offered subprotocols; no Sec-WebSocket-Key, because
 * the stream is new and cannot hold a stale cached answer.
 */
export function buildConnectHeaders(
  target: UpgradeTarget, protocol: string, headers: readonly Field[], websocket?: { readonly protocols: readonly string[]; readonly deflate?: boolean },
): OutgoingHttpHeaders {
  const block: OutgoingHttpHeaders = {
    ':method': 'CONNECT',
    ':protocol': protocol,
    ':scheme': target.secure ? 'https' : 'http',
    ':path': target.path,
    ':authority': target.authority,
  };
  if (websocket) {
    block['sec-websocket-version'] = '13';
    if (websocket.protocols.length > 0) block['sec-websocket-protocol'] = websocket.protocols.join(', ');
    if (websocket.deflate === true) block['sec-websocket-extensions'] = CLIENT_DEFLATE_OFFER;
  }
  addExtraHeaders(block, headers, websocket ? ['sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-key', 'sec-websocket-extensions'] : []);
  return block;
}

/** A plain GET (RFC 9113 §8.3.1), for probing an http:// or https:// URL. */
export function buildGetHeaders(target: UpgradeTarget, headers: readonly Field[]): OutgoingHttpHeaders {
  const block: OutgoingHttpHeaders = {
    ':method': 'GET', ':scheme': target.secure ? 'https' : 'http', ':path': target.path, ':authority': target.authority,
  };
  addExtraHeaders(block, headers, []);
  return block;
}

/**
 * RFC 9113 §8.2.2: connection-specific fields (Connection, Upgrade, Keep-Alive, …) are malformed in
 * HTTP/2, and Host is replaced by :authority (§8.3.1); refuse them as usage errors before node does.
 */
const NOT_IN_HTTP2 = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'host', 'te']);

function addExtraHeaders(block: OutgoingHttpHeaders, headers: readonly Field[], own: readonly string[]): void {
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (NOT_IN_HTTP2.has(lower)) throw new CliError(`-H ${name} cannot be sent over HTTP/2: it is connection-specific or replaced by :authority (RFC 9113 §8.2.2)`);
    if (own.includes(lower)) throw new CliError(`-H ${name} is set by the request itself`);
    const previous = block[lower];
    // HTTP/2 field names are lowercase (RFC 9113 §8.2.1); repeats become one list.
    block[lower] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
  }
}

export interface StreamResponse {
  readonly stream: ClientHttp2Stream;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
}

/** Open one stream with `block`; resolve with its response HEADERS, whatever the :status. */
export function requestStream(http2: Http2Session, target: UpgradeTarget, block: OutgoingHttpHeaders, timeoutMs: number): Promise<StreamResponse> {
  const where = target.authority;
  return new Promise((resolve, reject) => {
    let stream: ClientHttp2Stream;
    try {
      // A CONNECT keeps the stream open for data both ways; a GET ends our side with its HEADERS.
      stream = http2.session.request(block, { endStream: block[':method'] !== 'CONNECT' });
    } catch (error) {
      reject(new CliError(`cannot open an HTTP/2 stream to ${where}: ${(error as Error).message}`, 1));
      return;
    }
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.destroy();
      reject(new CliError(message, 1));
    };
    const timer = setTimeout(() => fail(`no response HEADERS from ${where} on stream ${stream.id ?? '?'} within ${timeoutMs} ms`), timeoutMs);
    stream.on('error', (error: NodeJS.ErrnoException) => fail(`${where} reset stream ${stream.id ?? '?'} before answering: ${error.message}`));
    stream.once('close', () => fail(`${where} closed stream ${stream.id ?? '?'} before answering (RST_STREAM code ${stream.rstCode ?? '?'})`));
    stream.once('response', (headers: IncomingHttpHeaders) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.removeAllListeners('close');
      stream.removeAllListeners('error');
      // The caller attaches its own; a late reset must not crash the process meanwhile.
      stream.on('error', () => {});
      stream.pause();
      resolve({ stream, status: Number(headers[':status']), headers });
    });
  });
}

/** Up to `max` bytes of a response body, as far as it arrives within `ms`; then the stream is closed. */
export async function readStreamBody(stream: ClientHttp2Stream, max: number, ms: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= max) { clearTimeout(timer); resolve(); }
    });
    stream.once('end', () => { clearTimeout(timer); resolve(); });
    stream.once('close', () => { clearTimeout(timer); resolve(); });
    stream.resume();
  });
  if (!stream.closed) stream.close();
  return Buffer.concat(chunks).subarray(0, max);
}

/** What each SETTINGS parameter means (RFC 9113 §6.5.2, RFC 8441 §3), by node:http2's name for it. */
const SETTING_NAMES: Readonly<Record<string, readonly [string, (value: number | boolean) => string]>> = {
  headerTableSize: ['SETTINGS_HEADER_TABLE_SIZE', (v) => `the HPACK dynamic table may hold ${v} bytes of header fields (RFC 9113 §6.5.2)`],
  enablePush: ['SETTINGS_ENABLE_PUSH', (v) => (v ? 'server push allowed' : 'server push is off (RFC 9113 §6.5.2)')],
  maxConcurrentStreams: ['SETTINGS_MAX_CONCURRENT_STREAMS', (v) => `at most ${v} streams open at once on this connection`],
  initialWindowSize: ['SETTINGS_INITIAL_WINDOW_SIZE', (v) => `each new stream may receive ${v} bytes before a WINDOW_UPDATE (flow control, RFC 9113 §6.9.2)`],
  maxFrameSize: ['SETTINGS_MAX_FRAME_SIZE', (v) => `the largest frame payload accepted is ${v} bytes`],
  maxHeaderListSize: ['SETTINGS_MAX_HEADER_LIST_SIZE', (v) => `header blocks up to ${v} bytes (decoded) are accepted`],
  enableConnectProtocol: ['SETTINGS_ENABLE_CONNECT_PROTOCOL', (v) => (v
    ? 'extended CONNECT is allowed: a stream may carry WebSocket or another :protocol (RFC 8441 §3)'
    : 'no extended CONNECT: a client must not send :protocol (RFC 8441 §3)')],
};

/**
 * One line per setting: `NAME = value  meaning`; booleans as 0/1 like on the wire. node:http2 fills in
 * the RFC 9113 §6.5.2 initial value for every parameter the server did not send.
 */
export function describeSettings(settings: Settings, withMeaning = true): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const [key, [name, meaning]] of Object.entries(SETTING_NAMES)) {
    const value = (settings as Record<string, unknown>)[key];
    seen.add(key);
    // node:http2 reports enableConnectProtocol false when the server never sent it: the default (§3).
    if (value === undefined) continue;
    const shown = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    const text = `${name} = ${String(shown)}`;
    lines.push(withMeaning ? `${text.padEnd(44)}  ${meaning(value as number | boolean)}` : text);
  }
  for (const [key, value] of Object.entries(settings)) {
    // maxHeaderSize is node's alias of maxHeaderListSize, not a setting of its own.
    if (!seen.has(key) && key !== 'customSettings' && key !== 'maxHeaderSize') lines.push(`${key} = ${String(value)}`);
  }
  return lines;
}

/** A header block as `name: value` lines, pseudo-headers first (RFC 9113 §8.3), values escaped. */
export function formatHeaderBlock(block: OutgoingHttpHeaders | IncomingHttpHeaders): string[] {
  const entries = Object.entries(block).filter(([, value]) => value !== undefined);
  const pseudo = entries.filter(([name]) => name.startsWith(':'));
  const regular = entries.filter(([name]) => !name.startsWith(':'));
  return [...pseudo, ...regular].flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map((v) => printable(`${name}: ${String(v)}`)));
}

/** The response's `sec-websocket-protocol`, if any, as one string. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return value === undefined ? undefined : Array.isArray(value) ? value.join(', ') : String(value);
}
