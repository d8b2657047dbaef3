/**
 * The front door of a port that serves TLS and cleartext at once. Before any protocol runs, the accept loop
 * reads the connection's first byte, and that byte decides who reads the rest:
 *
 *   0x16 (a TLS handshake record) → read the ClientHello in clear text — the SNI name and the ALPN offers,
 *        all a server can know before decrypting anything — then give every byte received so far to
 *        node:tls, and speak HTTP/1.1 inside the TLS session once the handshake is done
 *   a token character, CR or LF (an HTTP/1.1 request line) → straight to HTTP/1.1, with the bytes read
 *   the 24-byte HTTP/2 preface `PRI * HTTP/2.0…` (prior knowledge, RFC 9113 §3.3) → node:http2
 *   (inside TLS, ALPN `h2` → node:http2 as well)
 *   anything else → 400 in cleartext, then close
 *
 * The decisions are pure functions of the bytes (sniff.ts, tls/client-hello.ts); this file owns the socket
 * while they decide, and nothing is lost: what was read to decide is handed on to the reader chosen.
 * Behind a trusted proxy (`--proxy-protocol`): before any of this, a connection from a trusted address
 * must start with a PROXY protocol header (proxy-protocol.ts), read within `headersTimeoutMs`; the row
 * then shows the client the header names, and sniffing starts on the bytes after it. A header from an
 * untrusted address, or a missing, malformed or stalled one, closes the connection without a word (a
 * proxy would not understand an HTTP answer), counted as `proxyRejected`.
 *
 * Deadlines: a client that sends nothing within `headersTimeoutMs` gets the 408 HTTP's own header timeout
 * would give it; a TLS handshake not finished within `tlsHandshakeTimeoutMs` of its first byte is closed
 * and counted. Every failure costs its own connection only, and is counted in the table's `frontDoor`.
 */
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { formatResponseHead } from '../http/response.js';
import { ConnectionState } from './connection-state.js';
import { type ConnectionRecord, kConnectionRecord, type TlsDetails } from './connection-table.js';
import type { Deadline } from './deadline-wheel.js';
import { HttpConnection } from './http-connection.js';
import { Http2Connection } from './http2-connection.js';
import type { ConnectionServices } from './services.js';
import { sniffTransport } from './sniff.js';
import { ClientHelloReader } from './tls/client-hello.js';
import { PROXY_V1_PREFIX, PROXY_V2_SIGNATURE, ProxyHeaderReader, type ProxyHeader } from './proxy-protocol.js';
import { type FiveTuple, normaliseAddress } from './five-tuple.js';

/** The server's side of TLS on the front door: its certificate and key, and the ALPN protocols it speaks. */
export interface FrontDoorTls {
  readonly secureContext: SecureContext;
  /** In the server's order of preference; node:tls picks the first of these the client also offered. */
  readonly alpnProtocols: readonly string[];
}

/** After a 400 to bytes we could not read, keep draining the peer this long so the answer is not lost to a reset. */
const LINGER_MS = 2_000;

type Phase = 'proxy' | 'sniff' | 'client-hello' | 'handshake' | 'linger' | 'done';

const kDoor = Symbol('switchyard.frontDoor');
type SocketWithDoor = Socket & { [kDoor]?: FrontDoor | undefined };
type SecureWithRecord = TLSSocket & { [kConnectionRecord]: ConnectionRecord; [kDoor]?: FrontDoor | undefined };

export class FrontDoor implements Deadline {
  readonly #socket: Socket;
  readonly #record: ConnectionRecord;
  readonly #services: ConnectionServices;
  /** Undefined when the port serves cleartext only: a ClientHello then gets a 400 saying so. */
  readonly #tls: FrontDoorTls | undefined;
  /** Every chunk read so far, kept as received: the chosen reader gets all of them. */
  #received: Buffer[] = [];
  #receivedBytes = 0;
  #hello: ClientHelloReader | undefined;
  #proxyHeader: ProxyHeaderReader | undefined;
  #details: TlsDetails | undefined;
  /** node:tls's socket while its handshake runs; from then on it, not the TCP socket, is what to destroy. */
  #secure: TLSSocket | undefined;
  #phase: Phase = 'sniff';
  deadlineAt = 0;

  static readonly shutdown = (door: FrontDoor): void => door.#abandon('server shutting down');

  // Shared by every socket (the door rides on it): no closures per connection.
  static readonly #onData = function (this: SocketWithDoor, chunk: Buffer): void { const door = this[kDoor]; if (door !== undefined) door.#receive(chunk); };
  static readonly #onEnd = function (this: SocketWithDoor): void { const door = this[kDoor]; if (door !== undefined) door.#receiveEnd(); };
  static readonly #onClose = function (this: SocketWithDoor): void { const door = this[kDoor]; if (door !== undefined) door.#disarm(); };
  static readonly #onSecure = function (this: SecureWithRecord): void { const door = this[kDoor]; if (door !== undefined) door.#secured(this); };
  /**
   * The TCP socket allows half-open connections and node:tls copies that, so a client that gives up in the
   * middle of the handshake without an alert (Node's own client, on a certificate it does not trust) shows
   * only as 'end': no error, no close. Without this it would sit until tlsHandshakeTimeoutMs.
   */
  static readonly #onTlsEnd = function (this: SecureWithRecord): void {
    const door = this[kDoor];
    if (door !== undefined) door.#handshakeFailed(Object.assign(new Error('the client closed the connection during the handshake'), { code: 'EOF' }), 'client');
    this.destroy();
  };
  static readonly #onTlsError = function (this: SecureWithRecord, error: NodeJS.ErrnoException): void {
    const door = this[kDoor];
    if (door !== undefined) door.#handshakeFailed(error);
    else this[kConnectionRecord].noteClose('client', error.code === 'ECONNRESET' ? 'connection reset by peer' : `TLS error: ${error.code ?? error.message}`);
    this.destroy();
  };
  /** The TLS socket shares the TCP handle: when it closes, the raw socket (and the table's row) goes too. */
  static readonly #onTlsClose = function (this: SecureWithRecord): void {
    const door = this[kDoor];
    if (door !== undefined) door.#disarm();
    this[kConnectionRecord].socket.destroy();
  };

  constructor(socket: Socket, record: ConnectionRecord, services: ConnectionServices, tls: FrontDoorTls | undefined) {
    this.#socket = socket;
    this.#record = record;
    this.#services = services;
    this.#tls = tls;
  }

  /** Start reading the first bytes; the header timeout runs from the accept. */
  start(): void {
    const socket = this.#socket as SocketWithDoor;
    socket[kDoor] = this;
    socket.on('data', FrontDoor.#onData);
    socket.on('end', FrontDoor.#onEnd);
    socket.on('close', FrontDoor.#onClose);
    this.#record.onShutdown(FrontDoor.shutdown, this);
    this.#arm(this.#services.limits.headersTimeoutMs);
    const proxy = this.#services.proxy;
    if (proxy?.protocol === true && proxy.trusted.isTrusted(this.#record.socketFiveTuple.remoteAddress)) {
      this.#phase = 'proxy';
      this.#proxyHeader = new ProxyHeaderReader();
    }
    socket.resume();
  }

  #receive(chunk: Buffer): void {
    if (this.#phase === 'linger' || this.#phase === 'done') return;
    if (this.#phase === 'proxy') { this.#readProxyHeader(this.#proxyHeader!.receive(chunk)); return; }
    this.#received.push(chunk);
    this.#receivedBytes += chunk.length;
    if (this.#phase === 'sniff') {
      this.#sniff();
      return;
    }
    if (this.#phase === 'client-hello') this.#readHello(chunk);
  }

  /** The PROXY header's verdict (a trusted peer's connection only): the client it names, or the door shut. */
  #readProxyHeader(event: ReturnType<ProxyHeaderReader['receive']>): void {
    if (event.type === 'need-data') return;
    this.#proxyHeader = undefined;
    const record = this.#record;
    const { events, table } = this.#services;
    if (event.type === 'error') {
      this.#refuseProxy(`${event.code}: ${event.message}`);
      return;
    }
    const { header, rest } = event;
    const hop = record.key;
    const client = clientOf(header, record.socketFiveTuple.localAddress);
    record.noteProxied({ version: header.version, client, tlvs: shownTlvs(header) });
    table.frontDoor.proxied++;
    if (events.active) {
      const how = client === undefined ? `${header.command === 'local' ? 'LOCAL (a health check)' : 'no addresses'}: the real connection stands` : `client ${record.key}`;
      events.report({ type: 'proxy', id: record.id, fiveTuple: record.key, phase: 'accepted', detail: `v${header.version} from the hop ${hop}; ${how}` });
    }
    this.#phase = 'sniff';
    if (rest.length > 0) {
      this.#received = [Buffer.from(rest.buffer, rest.byteOffset, rest.length)];
      this.#receivedBytes = rest.length;
      this.#sniff();
    }
  }

  #refuseProxy(reason: string): void {
    const record = this.#record;
    const { events, table } = this.#services;
    table.frontDoor.proxyRejected++;
    if (events.active) events.report({ type: 'proxy', id: record.id, fiveTuple: record.key, phase: 'refused', detail: reason });
    this.#abandon(`PROXY header refused: ${reason}`);
  }

  #sniff(): void {
    // The first chunk almost always decides; only a client writing byte by byte makes us join.
    const bytes = this.#received.length === 1 ? this.#received[0]! : Buffer.concat(this.#received, this.#receivedBytes);
    // --proxy-protocol: only a trusted proxy may say who the client is; anyone else saying so is refused.
    if (this.#services.proxy?.protocol === true) {
      const looks = looksLikeProxyHeader(bytes);
      if (looks === 'maybe') return;
      if (looks === 'yes') { this.#refuseProxy(`a PROXY header from ${this.#record.socketFiveTuple.remoteAddress}, which is not a trusted proxy`); return; }
    }
    const verdict = sniffTransport(bytes);
    if (verdict.kind === 'need-data') return;
    const firstByte = bytes[0]!;
    const { events, table } = this.#services;
    const record = this.#record;
    if (events.active) {
      events.report({
        type: 'sniff', id: record.id, fiveTuple: record.key, firstByte, decided: verdict.kind,
        ...(verdict.kind === 'unknown' ? { reason: verdict.reason } : {}),
      });
    }
    table.frontDoor[verdict.kind]++;
    if (verdict.kind === 'http') {
      record.noteFirstByte(firstByte);
      this.#toHttp();
    } else if (verdict.kind === 'h2') {
      record.noteFirstByte(firstByte);
      this.#toHttp2();
    } else if (verdict.kind === 'tls' && this.#tls === undefined) {
      record.noteFirstByte(firstByte);
      this.#refuse('this is a TLS ClientHello, but this port has no certificate: it speaks cleartext HTTP only (serve --tls-self-signed or --tls-cert/--tls-key to add TLS)');
    } else if (verdict.kind === 'tls') {
      this.#details = { sni: null, offeredAlpn: [], version: null, cipher: null, alpn: null };
      record.noteFirstByte(firstByte, this.#details);
      record.transition(ConnectionState.Tls);
      if (events.active) events.report({ type: 'state', id: record.id, fiveTuple: record.key, from: ConnectionState.Accepted, to: ConnectionState.Tls });
      this.#phase = 'client-hello';
      this.#arm(this.#services.limits.tlsHandshakeTimeoutMs);
      this.#hello = new ClientHelloReader();
      for (const received of this.#received) if (this.#phase === 'client-hello') this.#readHello(received);
    } else {
      record.noteFirstByte(firstByte);
      this.#refuse(`this connection's first bytes are neither TLS nor HTTP: ${verdict.reason}`);
    }
  }

  #readHello(chunk: Buffer): void {
    const event = this.#hello!.receive(chunk);
    if (event.type === 'need-data') return;
    const record = this.#record;
    const { events, table } = this.#services;
    if (event.type === 'error') {
      table.frontDoor.tlsNotClientHello++;
      if (events.active) events.report({ type: 'tls', id: record.id, fiveTuple: record.key, phase: 'failed', detail: `not a ClientHello: ${event.message}` });
      this.#abandon(`TLS: not a ClientHello (${event.message})`);
      return;
    }
    const { hello } = event;
    const details = this.#details!;
    details.sni = hello.serverName ?? null;
    details.offeredAlpn = hello.alpnProtocols;
    if (events.active) {
      events.report({
        type: 'tls', id: record.id, fiveTuple: record.key, phase: 'client-hello',
        detail: `SNI ${hello.serverName ?? '(none)'}, ALPN offered ${hello.alpnProtocols.length > 0 ? hello.alpnProtocols.join(', ') : '(none)'} (read in clear text, before any decryption)`,
      });
    }
    this.#startTls();
  }

  /** Hand the socket, with every byte read so far put back in front of its stream, to node:tls. */
  #startTls(): void {
    const socket = this.#socket;
    this.#phase = 'handshake';
    this.#release();
    socket.unshift(this.#takeReceived());
    this.#hello = undefined;
    // node:tls reads what is buffered on the socket first ("emulate receiving it"), then the TCP handle.
    const secure = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.#tls!.secureContext,
      ALPNProtocols: [...this.#tls!.alpnProtocols],
    }) as SecureWithRecord;
    secure[kConnectionRecord] = this.#record;
    secure[kDoor] = this;
    // The byte view and the capture show what TLS carries, decrypted, from here on.
    this.#record.tap?.tls(secure);
    if (this.#services.tlsKeylog !== undefined) secure.on('keylog', this.#services.tlsKeylog);
    secure.once('secure', FrontDoor.#onSecure);
    secure.once('end', FrontDoor.#onTlsEnd);
    secure.on('error', FrontDoor.#onTlsError);
    secure.once('close', FrontDoor.#onTlsClose);
    this.#secure = secure;
  }

  #secured(secure: SecureWithRecord): void {
    secure[kDoor] = undefined;
    secure.off('end', FrontDoor.#onTlsEnd);
    this.#secure = undefined;
    this.#phase = 'done';
    this.#disarm();
    const details = this.#details!;
    details.version = secure.getProtocol();
    details.cipher = secure.getCipher()?.name ?? null;
    details.alpn = typeof secure.alpnProtocol === 'string' ? secure.alpnProtocol : null;
    const record = this.#record;
    const { events } = this.#services;
    if (events.active) {
      events.report({
        type: 'tls', id: record.id, fiveTuple: record.key, phase: 'established',
        detail: `${details.version ?? 'TLS'} ${details.cipher ?? ''}, ALPN ${details.alpn ?? '(none)'}${details.sni ? `, SNI ${details.sni}` : ''}`,
      });
    }
    if (details.alpn === 'h2') {
      // RFC 9113 §3.2: "h2" agreed by ALPN means both sides speak HTTP/2 from the first byte inside TLS.
      // Only tls.Server's own listener clears `secureConnecting` on a server socket; node:http2 sees it still
      // set, waits for a 'secureConnect' that a server socket never emits, and the session never writes.
      (secure as unknown as { secureConnecting: boolean }).secureConnecting = false;
      const connection = new Http2Connection(secure, this.#socket, record, this.#services);
      record.onShutdown(Http2Connection.shutdown, connection);
      connection.start();
      return;
    }
    if (events.active) events.report({ type: 'state', id: record.id, fiveTuple: record.key, from: ConnectionState.Tls, to: ConnectionState.Http });
    record.transition(ConnectionState.Http);
    const connection = new HttpConnection(secure, this.#socket, record, this.#services);
    record.onShutdown(HttpConnection.shutdown, connection);
    connection.start();
  }

  #handshakeFailed(error: NodeJS.ErrnoException, by?: 'client' | 'server'): void {
    if (this.#phase !== 'handshake') return;
    this.#phase = 'done';
    this.#secure = undefined;
    this.#disarm();
    this.#services.table.frontDoor.tlsHandshakeFailed++;
    const record = this.#record;
    const reason = error.code === 'ECONNRESET' ? 'the client reset the connection' : error.code === 'EOF' ? error.message : (error.code ?? error.message);
    const { events } = this.#services;
    if (events.active) events.report({ type: 'tls', id: record.id, fiveTuple: record.key, phase: 'failed', detail: `handshake failed: ${reason}` });
    record.noteClose(by ?? (error.code === 'ECONNRESET' ? 'client' : 'server'), `TLS handshake failed: ${reason}`);
  }

  /** The front door is done with the socket: every byte it read, for the reader that comes next. */
  #handOver(): Buffer {
    this.#phase = 'done';
    this.#disarm();
    this.#release();
    return this.#takeReceived();
  }

  #takeReceived(): Buffer {
    const received = this.#received.length === 1 ? this.#received[0]! : Buffer.concat(this.#received, this.#receivedBytes);
    this.#received = [];
    return received;
  }

  #toHttp(): void {
    this.#record.tap?.cleartext();
    const initial = this.#handOver();
    const record = this.#record;
    record.transition(ConnectionState.Http);
    const connection = new HttpConnection(this.#socket, this.#socket, record, this.#services);
    record.onShutdown(HttpConnection.shutdown, connection);
    connection.start(initial);
  }

  /** RFC 9113 §3.3: prior knowledge; the preface and whatever followed it are node:http2's to read. */
  #toHttp2(): void {
    this.#record.tap?.cleartext();
    const initial = this.#handOver();
    const connection = new Http2Connection(this.#socket, this.#socket, this.#record, this.#services);
    this.#record.onShutdown(Http2Connection.shutdown, connection);
    connection.start(initial);
  }

  /** RFC 9110 §15.5.1: 400 for bytes that are no request at all; the client may be a human with `nc`. */
  #refuse(reason: string): void {
    this.#phase = 'linger';
    this.#received = [];
    this.#record.tap?.cleartext();
    this.#record.noteClose('server', 'first byte is neither TLS nor HTTP');
    this.#answerAndClose(400, `400 Bad Request\n${reason}\n`);
  }

  #answerAndClose(status: number, body: string): void {
    const socket = this.#socket;
    const head = formatResponseHead({
      status,
      headers: [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Length', String(Buffer.byteLength(body))], ['Connection', 'close']],
    });
    socket.end(head + body, 'latin1');
    this.#arm(LINGER_MS);
  }

  #receiveEnd(): void {
    if (this.#phase === 'linger' || this.#phase === 'done') return;
    if (this.#phase === 'proxy') { this.#readProxyHeader(this.#proxyHeader!.receiveEnd()); return; }
    if (this.#phase === 'client-hello') this.#services.table.frontDoor.tlsHandshakeFailed++;
    this.#phase = 'done';
    this.#disarm();
    this.#record.noteClose('client', this.#receivedBytes === 0 ? 'peer closed before sending anything' : 'peer closed in the middle of its first bytes');
    this.#socket.destroy();
  }

  /** The deadline wheel's call. */
  expire(): void {
    const phase = this.#phase;
    if (phase === 'done') return;
    if (phase === 'linger') { this.#phase = 'done'; this.#socket.destroy(); return; }
    if (phase === 'proxy') { this.#refuseProxy(`no complete PROXY header within ${this.#services.limits.headersTimeoutMs} ms`); return; }
    if (phase === 'sniff' && this.#receivedBytes === 0) {
      // Nothing sent at all: exactly what HTTP's own header timeout would answer (RFC 9110 §15.5.9).
      this.#phase = 'linger';
      this.#record.noteClose('server', 'no request within headersTimeoutMs');
      this.#answerAndClose(408, `408 Request Timeout\nnothing arrived within ${this.#services.limits.headersTimeoutMs} ms\n`);
      return;
    }
    this.#services.table.frontDoor.tlsHandshakeTimeout++;
    const { events } = this.#services;
    const record = this.#record;
    const detail = `handshake not finished within ${this.#services.limits.tlsHandshakeTimeoutMs} ms`;
    if (events.active) events.report({ type: 'tls', id: record.id, fiveTuple: record.key, phase: 'failed', detail });
    this.#abandon(`TLS ${detail}`);
  }

  /** Close a connection the front door gave up on (or shutdown reached before any protocol began). */
  #abandon(reason: string): void {
    if (this.#phase === 'done') return;
    this.#phase = 'done';
    this.#disarm();
    this.#record.noteClose('server', reason);
    const secure = this.#secure;
    this.#secure = undefined;
    if (secure !== undefined) secure.destroy();
    this.#socket.destroy();
  }

  #arm(ms: number): void {
    this.deadlineAt = Date.now() + ms;
    this.#services.deadlines.add(this);
  }

  #disarm(): void {
    this.#services.deadlines.delete(this);
  }

  /** Stop reading for the front door: the next reader starts with a paused socket and no listener of ours. */
  #release(): void {
    const socket = this.#socket as SocketWithDoor;
    socket.pause();
    socket.off('data', FrontDoor.#onData);
    socket.off('end', FrontDoor.#onEnd);
    socket.off('close', FrontDoor.#onClose);
    socket[kDoor] = undefined;
  }
}

/** Whether the first bytes begin a PROXY header (v1 `PROXY `, v2's 12-byte signature), or might still. */
function looksLikeProxyHeader(bytes: Uint8Array): 'yes' | 'no' | 'maybe' {
  for (const signature of [PROXY_V1_PREFIX, PROXY_V2_SIGNATURE]) {
    const n = Math.min(bytes.length, signature.length);
    let same = true;
    for (let i = 0; i < n && same; i++) same = bytes[i] === signature[i];
    if (same) return n === signature.length ? 'yes' : 'maybe';
  }
  return 'no';
}

/** The client's 5-tuple as the proxy received it; undefined when the header names none (LOCAL, UNKNOWN, UNIX). */
function clientOf(header: ProxyHeader, fallbackLocal: string): FiveTuple | undefined {
  const { addresses } = header;
  if (header.command === 'local' || (addresses.family !== 'inet' && addresses.family !== 'inet6')) return undefined;
  return {
    transport: 'tcp',
    localAddress: normaliseAddress(addresses.destination.address) || fallbackLocal,
    localPort: addresses.destination.port,
    remoteAddress: normaliseAddress(addresses.source.address),
    remotePort: addresses.source.port,
  };
}

/** v2 TLVs a learner would want on the row: what the proxy saw of TLS and the requested host. */
function shownTlvs(header: ProxyHeader): Record<string, string> {
  const shown: Record<string, string> = {};
  if (header.tlv.alpn !== undefined) shown.alpn = header.tlv.alpn;
  if (header.tlv.authority !== undefined) shown.authority = header.tlv.authority;
  if (header.tlv.ssl?.version !== undefined) shown.tls = header.tlv.ssl.version;
  return shown;
}
