/**
 * One connection while it speaks HTTP/2: node:http2 does the framing, HPACK and flow control on the
 * accepted socket (or the TLS socket over it); this file maps each stream onto what the rest of the lab
 * already knows. A plain request goes through the same router as HTTP/1.1 (route-request.ts); an
 * extended CONNECT (RFC 8441 §4: `:method CONNECT`, `:protocol TOKEN`) goes through the same registry as
 * `Upgrade: TOKEN`, and the handler's `takeover` gets the stream as its duplex. So one 5-tuple carries many
 * conversations, each with its own protocol: the table row lists them as streams.
 *
 * Limits are node:http2's own options, set from the one limits object: concurrent streams, header list
 * size, windows, session memory, and the flood guards (rapid reset, invalid frames, PING and SETTINGS
 * floods). A malformed or refused stream costs that stream, never the session.
 */
import type { Socket } from 'node:net';
import { constants, performServerHandshake, type ServerHttp2Session, type ServerHttp2Stream, type ServerSessionOptions, type Settings } from 'node:http2';
import type { Duplex } from 'node:stream';
import { ProtocolError } from '../errors.js';
import { http2RequestHead } from '../http/http2-request-head.js';
import { bridgeForTap } from './capture/stream-bridge.js';
import type { RequestHead } from '../http/request-head.js';
import { reasonPhrase } from '../http/response.js';
import type { Limits } from '../limits.js';
import type { HandshakeDecision, ProtocolHandler, TakeoverContext } from '../registry/plugin.js';
import { parseUpgradeOffers } from '../registry/upgrade-offers.js';
import { routeRequest } from '../server/route-request.js';
import type { HttpResponse } from '../server/router.js';
import type { ConnectionRecord, Http2Details } from './connection-table.js';
import { runTakeover, type TakeoverOwner } from './handover.js';
import { errorMessage, HandshakeTimeout, isThenable, settleWithin } from './http-connection.js';
import type { ConnectionServices } from './services.js';
import type { StreamRecord } from './stream-record.js';

const EMPTY = new Uint8Array(0);

/** How long GOAWAY waits at shutdown for the streams' goodbye frames to be written. */
const SHUTDOWN_FLUSH_MS = 1_000;

/**
 * RFC 9113 §8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing connection-specific header
 * fields": Connection, Proxy-Connection, Keep-Alive, Transfer-Encoding, Upgrade. A handler's HTTP/1.1-minded
 * headers lose these on a stream (node:http2 would refuse the whole response otherwise).
 */
const CONNECTION_SPECIFIC = new Set(['connection', 'proxy-connection', 'keep-alive', 'transfer-encoding', 'upgrade']);

/** node:http2's options for a server session, from the lab's limits. */
export function http2SessionOptions(limits: Limits): ServerSessionOptions {
  return {
    settings: {
      // RFC 8441 §3: this is what lets a client send :protocol at all.
      enableConnectProtocol: true,
      maxConcurrentStreams: limits.http2MaxConcurrentStreams,
      maxHeaderListSize: limits.http2MaxHeaderListBytes,
      initialWindowSize: limits.http2InitialWindowBytes,
    },
    maxSessionMemory: limits.http2SessionMemoryMiB,
    maxSessionRejectedStreams: limits.http2MaxRejectedStreams,
    maxSessionInvalidFrames: limits.http2MaxInvalidFrames,
    maxOutstandingPings: limits.http2MaxOutstandingPings,
    maxSettings: limits.http2MaxSettingsEntries,
    // A CONTINUATION flood (CVE-2024-27316) is a header block that never ends: node bounds the block by
    // maxHeaderListSize and its count of fields by this.
    maxHeaderListPairs: 128,
  };
}

export class Http2Connection {
  readonly #socket: Duplex;
  readonly #raw: Socket;
  readonly #record: ConnectionRecord;
  readonly #services: ConnectionServices;
  #details: Http2Details | undefined;
  #session: ServerHttp2Session | undefined;
  /** The streams not yet closed, so shutdown can wait for their goodbyes to be written. */
  readonly #streams = new Set<ServerHttp2Stream>();

  static readonly shutdown = (connection: Http2Connection): void => connection.shutdown();

  constructor(socket: Duplex, raw: Socket, record: ConnectionRecord, services: ConnectionServices) {
    this.#socket = socket;
    this.#raw = raw;
    this.#record = record;
    this.#services = services;
  }

  /** `initial`: bytes the front door read to decide (the preface itself, maybe more); node reads them first. */
  start(initial?: Uint8Array): void {
    const socket = this.#socket;
    const record = this.#record;
    this.#details = record.startHttp2();
    if (initial !== undefined && initial.length > 0) socket.unshift(Buffer.from(initial.buffer, initial.byteOffset, initial.byteLength));
    const { events, limits } = this.#services;
    if (events.active) events.report({ type: 'state', id: record.id, fiveTuple: record.key, from: record.transport === 'tls' ? 'tls' : 'accepted', to: 'http2' });
    const session = performServerHandshake(this.#services.capture === undefined ? socket : bridgeForTap(socket), http2SessionOptions(limits));
    this.#session = session;
    // The connection window is not a SETTINGS value: node sends it as a WINDOW_UPDATE once connected.
    if (limits.http2SessionWindowBytes > 65_535) session.setLocalWindowSize(Math.min(limits.http2SessionWindowBytes, 2 ** 31 - 1));
    session.on('stream', (stream: ServerHttp2Stream, _headers: unknown, flags: number, rawHeaders: string[]) => this.#openStream(stream, flags, rawHeaders));
    session.on('localSettings', (settings: Settings) => this.#noteSettings('server', settings));
    session.on('remoteSettings', (settings: Settings) => this.#noteSettings('client', settings));
    session.on('goaway', (code: number) => {
      record.noteClose('client', `GOAWAY ${http2ErrorName(code)}`);
    });
    session.on('error', (error: NodeJS.ErrnoException) => {
      record.noteClose('server', `HTTP/2 session error: ${error.code ?? error.message}`);
    });
    session.on('frameError', () => { /* a frame node could not send: the stream's own 'error' says more */ });
    // An idle session (no stream open) goes after keepAliveTimeoutMs, like an idle HTTP/1.1 connection;
    // a session carrying a WebSocket is never idle in this sense, whatever its traffic.
    session.setTimeout(limits.keepAliveTimeoutMs, () => {
      if (this.#details!.liveCount > 0) return;
      record.noteClose('server', 'keep-alive timeout (no stream open)');
      session.close();
    });
    session.once('close', () => {
      this.#socket.destroy();
      this.#raw.destroy();
    });
  }

  /** Graceful shutdown: each stream's protocol says goodbye (WebSocket 1001), then GOAWAY, then close. */
  shutdown(): void {
    const session = this.#session;
    if (session === undefined || session.closed || session.destroyed) return;
    for (const entry of this.#details!.live()) entry.shutdown();
    this.#record.noteClose('server', 'server shutting down (GOAWAY)');
    // The goodbyes (a WebSocket's Close 1001) are DATA on their streams, still queued in node; GOAWAY is
    // a control frame nghttp2 sends ahead of queued DATA. RFC 9113 §6.8 lets the streams finish after
    // GOAWAY, but a peer that reads GOAWAY first may tear the session down before the goodbye arrives.
    // So GOAWAY waits until each stream's writes have reached the socket (bounded: a peer that stopped
    // reading must not hold the shutdown).
    const deadline = Date.now() + SHUTDOWN_FLUSH_MS;
    const goAway = (): void => {
      if (session.closed || session.destroyed) return;
      const pending = [...this.#streams].some((stream) => !stream.destroyed && stream.writableLength > 0);
      if (pending && Date.now() < deadline) { setTimeout(goAway, 1); return; }
      session.close();
    };
    goAway();
  }

  #noteSettings(side: 'server' | 'client', settings: Settings): void {
    const details = this.#details!;
    // Only the numbers and flags RFC 9113 §6.5.2 defines (node adds `customSettings`, an object, when any).
    const copy: Record<string, number | boolean> = {};
    for (const [name, value] of Object.entries(settings)) if (typeof value === 'number' || typeof value === 'boolean') copy[name] = value;
    if (side === 'server') details.serverSettings = copy; else details.clientSettings = copy;
    const { events } = this.#services;
    if (events.active) {
      const record = this.#record;
      events.report({ type: 'settings', id: record.id, fiveTuple: record.key, side, settings: Object.entries(copy).map(([k, v]) => `${k}=${String(v)}`).join(' ') });
    }
  }

  #openStream(stream: ServerHttp2Stream, flags: number, rawHeaders: string[]): void {
    const parsed = http2RequestHead(rawHeaders, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0);
    const record = this.#record;
    const method = parsed instanceof ProtocolError ? '?' : parsed.head.method;
    const path = parsed instanceof ProtocolError ? '?' : parsed.head.target;
    // A stream that reaches 'stream' has its id (node assigns it before emitting).
    const streamId = stream.id!;
    const entry = this.#details!.open(record, streamId, method, path);
    countStreamBytes(stream, entry);
    this.#streams.add(stream);
    const { events } = this.#services;
    if (events.active) {
      events.report({
        type: 'stream', id: record.id, fiveTuple: record.key, stream: streamId, phase: 'open',
        detail: parsed instanceof ProtocolError ? 'malformed' : `${method} ${path}${parsed.protocol === undefined ? '' : ` :protocol ${parsed.protocol}`}`,
      });
    }
    // A stream's failure (a reset, a write after the peer left) is the stream's: never the process's.
    stream.on('error', (error: NodeJS.ErrnoException) => entry.noteClose('client', `stream error: ${error.code ?? error.message}`));
    stream.once('close', () => {
      this.#streams.delete(stream);
      const code = stream.rstCode as number | undefined;
      const reason = code !== undefined && code !== constants.NGHTTP2_NO_ERROR ? `RST_STREAM ${http2ErrorName(code)}` : 'ended';
      this.#details!.close(entry, reason);
      if (events.active) {
        events.report({ type: 'stream', id: record.id, fiveTuple: record.key, stream: entry.id, phase: 'close', detail: `${entry.closeReason ?? reason} (in ${entry.bytesIn} B, out ${entry.bytesOut} B)` });
      }
    });
    if (parsed instanceof ProtocolError) {
      this.#respond(stream, entry, undefined, { status: parsed.status, body: `${parsed.status} ${reasonPhrase(parsed.status)}\n${parsed.message}\n` });
      return;
    }
    const { head, protocol } = parsed;
    record.countRequest();
    if (events.active) {
      events.report({
        type: 'request', id: record.id, fiveTuple: record.key, stream: entry.id, method: head.method, target: head.target, version: '2',
        ...(protocol === undefined ? {} : { upgrade: `:protocol ${protocol}` }),
      });
    }
    if (protocol !== undefined) {
      this.#extendedConnect(stream, entry, head, protocol);
      return;
    }
    // RFC 9113 §8.5: a classic CONNECT's DATA frames are the tunnel's bytes, not request content that
    // ends: waiting for END_STREAM would hang the stream forever. The router refuses it (501, not a proxy)
    // at once, without reading anything.
    if (head.body.kind === 'none' || head.method === 'CONNECT') {
      this.#route(stream, entry, head, EMPTY);
      return;
    }
    this.#readBody(stream, entry, head);
  }

  /** The request content, bounded by bodyBytes (413) and by headersTimeoutMs without progress (408). */
  #readBody(stream: ServerHttp2Stream, entry: StreamRecord, head: RequestHead): void {
    const { limits } = this.#services;
    if (head.body.kind === 'length' && head.body.length > limits.bodyBytes) {
      this.#respond(stream, entry, head, { status: 413, body: `413 Content Too Large\nthe limit is ${limits.bodyBytes} bytes\n` });
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    stream.setTimeout(limits.headersTimeoutMs, () => {
      this.#respond(stream, entry, head, { status: 408, body: `408 Request Timeout\nthe request content did not arrive within ${limits.headersTimeoutMs} ms\n` });
    });
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limits.bodyBytes) {
        stream.off('data', onData);
        this.#respond(stream, entry, head, { status: 413, body: `413 Content Too Large\nthe limit is ${limits.bodyBytes} bytes\n` });
        return;
      }
      chunks.push(chunk);
    };
    stream.on('data', onData);
    stream.once('end', () => {
      stream.setTimeout(0);
      if (received > limits.bodyBytes) return;
      this.#route(stream, entry, head, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    });
  }

  #route(stream: ServerHttp2Stream, entry: StreamRecord, head: RequestHead, body: Uint8Array): void {
    const answer = routeRequest(this.#services.router, head, body, this.#record);
    const deliver = (settled: Awaited<typeof answer>): void => {
      if (settled.failure !== undefined) {
        const record = this.#record;
        this.#services.events.report({ type: 'error', id: record.id, fiveTuple: record.key, code: 'ERR_ROUTE_HANDLER', message: errorMessage(settled.failure) });
      }
      this.#respond(stream, entry, head, settled.response);
    };
    if (answer instanceof Promise) void answer.then(deliver); else deliver(answer);
  }

  /** One response on one stream, in HTTP/2's terms: `:status`, no connection-specific fields, END_STREAM. */
  #respond(stream: ServerHttp2Stream, entry: StreamRecord, head: RequestHead | undefined, response: HttpResponse): void {
    if (stream.destroyed || stream.headersSent) return;
    const status = response.status;
    const body = typeof response.body === 'string' ? Buffer.from(response.body) : response.body ?? EMPTY;
    const headers: Record<string, string | number> = { ':status': status };
    if (status !== 204 && status !== 304) headers['content-length'] = body.length;
    if (body.length > 0) headers['content-type'] = 'text/plain; charset=utf-8';
    for (const [name, value] of response.headers ?? []) {
      const lower = name.toLowerCase();
      if (CONNECTION_SPECIFIC.has(lower)) continue;
      headers[lower] = lower in headers && lower !== 'content-type' && lower !== 'content-length' ? `${String(headers[lower])}, ${value}` : value;
    }
    const withBody = head?.method !== 'HEAD' && status !== 204 && status !== 304 && body.length > 0;
    entry.answered(status);
    try {
      stream.respond(headers, { endStream: !withBody });
      if (withBody) stream.end(body);
    } catch (error) {
      // A header value node refuses (a handler's bad field): the stream is reset, the session goes on.
      entry.noteClose('server', `response refused: ${errorMessage(error)}`);
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const { events } = this.#services;
    if (events.active) {
      const record = this.#record;
      events.report({ type: 'response', id: record.id, fiveTuple: record.key, stream: entry.id, status, bytes: withBody ? body.length : 0 });
    }
  }

  /**
   * RFC 8441 §4: the registry decides, exactly as for `Upgrade: TOKEN` on HTTP/1.1. Accept → `:status 200`
   * and the stream is the handler's; reject → its status; no handler → 501 (RFC 9110 §15.6.2: the server
   * does not support the functionality, here the protocol, the request needs).
   */
  #extendedConnect(stream: ServerHttp2Stream, entry: StreamRecord, head: RequestHead, protocol: string): void {
    const offers = parseUpgradeOffers([protocol]);
    if (offers instanceof ProtocolError) {
      this.#respond(stream, entry, head, { status: 400, body: `400 Bad Request\n:protocol ${JSON.stringify(protocol)} is not a protocol token (RFC 9110 §7.8)\n` });
      return;
    }
    const { registry, limits } = this.#services;
    const match = registry.resolve(offers)[0];
    if (match === undefined || this.#services.isShuttingDown()) {
      const known = registry.list().map((entry) => entry.token).join(', ');
      this.#respond(stream, entry, head, {
        status: 501,
        body: `501 Not Implemented\nno protocol handler for :protocol ${protocol}; this server speaks ${known || 'none'}\n`,
      });
      return;
    }
    const { offer, handler } = match;
    let decision: HandshakeDecision | PromiseLike<HandshakeDecision>;
    try {
      decision = handler.handshake === undefined ? { action: 'accept' } : handler.handshake({
        request: head, offered: offer.token, fiveTuple: this.#record.fiveTuple, limits,
        secure: (this.#socket as { encrypted?: boolean }).encrypted === true,
      });
    } catch (error) {
      this.#handshakeFailed(stream, entry, head, handler, error);
      return;
    }
    if (isThenable(decision)) {
      settleWithin(Promise.resolve(decision), limits.handshakeTimeoutMs).then(
        (settled) => { if (!stream.destroyed) this.#apply(stream, entry, head, handler, settled); },
        (error: unknown) => { if (!stream.destroyed) this.#handshakeFailed(stream, entry, head, handler, error); },
      );
      return;
    }
    this.#apply(stream, entry, head, handler, decision);
  }

  #apply(stream: ServerHttp2Stream, entry: StreamRecord, head: RequestHead, handler: ProtocolHandler, decision: HandshakeDecision): void {
    if (decision.action === 'reject') {
      this.#respond(stream, entry, head, { status: decision.status, headers: decision.headers ?? [], body: decision.body ?? `${decision.status} ${reasonPhrase(decision.status)}\n` });
      return;
    }
    if (decision.action === 'decline') {
      // HTTP/1.1 would serve the request as plain HTTP; a CONNECT has no plain meaning here.
      this.#respond(stream, entry, head, { status: 501, body: `501 Not Implemented\nthe ${handler.token} handler declined this request\n` });
      return;
    }
    const headers: Record<string, string | number> = { ':status': 200 };
    for (const [name, value] of decision.headers ?? []) {
      const lower = name.toLowerCase();
      if (!CONNECTION_SPECIFIC.has(lower)) headers[lower] = value;
    }
    try {
      stream.respond(headers);
    } catch (error) {
      this.#handshakeFailed(stream, entry, head, handler, error);
      return;
    }
    entry.answered(200);
    entry.upgraded(handler.token);
    const record = this.#record;
    const { events, limits } = this.#services;
    if (events.active) events.report({ type: 'upgrade', id: record.id, fiveTuple: record.key, stream: stream.id, protocol: handler.token, headBytes: 0 });
    const owner: TakeoverOwner = { id: record.id, key: record.key, noteClose: (by, reason) => entry.noteClose(by, reason) };
    const context: TakeoverContext = {
      request: head,
      socket: stream,
      head: EMPTY,
      fiveTuple: record.fiveTuple,
      limits,
      protocol: handler.token,
      state: decision.state,
      signal: this.#services.shutdownSignal,
      hooks: entry,
      emit: (event) => entry.emit(event),
      isTracing: () => entry.isTracing(),
      noteServerClose: (reason) => entry.noteServerClose(reason),
      continueHttp: () => Promise.reject(new Error('continueHttp: an HTTP/2 stream cannot carry HTTP/1.1 again')),
    };
    runTakeover(handler, context, { socket: stream, raw: stream, record: owner, events, token: handler.token });
  }

  #handshakeFailed(stream: ServerHttp2Stream, entry: StreamRecord, head: RequestHead, handler: ProtocolHandler, error: unknown): void {
    const timedOut = error instanceof HandshakeTimeout;
    const record = this.#record;
    this.#services.events.report({
      type: 'error', id: record.id, fiveTuple: record.key,
      code: timedOut ? 'ERR_HANDSHAKE_TIMEOUT' : 'ERR_PLUGIN_HANDSHAKE',
      message: `${handler.token} handshake on stream ${stream.id} ${timedOut ? 'timed out' : `threw: ${errorMessage(error)}`}`,
    });
    const status = timedOut ? 503 : 500;
    this.#respond(stream, entry, head, { status, body: `${status} ${reasonPhrase(status)}\nthe ${handler.token} handler failed\n` });
  }
}

/** Where a stream's counters hang: the one property every counted stream gains, so all share one shape. */
const kStreamEntry = Symbol('switchyard.streamEntry');
type Counted = { [kStreamEntry]?: StreamRecord };
interface StreamMethods {
  push(chunk: unknown, encoding?: BufferEncoding): boolean;
  _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void;
  _writev?(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void;
}
/** The stream prototypes whose methods count (node:http2 does not export its stream classes). */
const countingPrototypes = new WeakSet<object>();

/**
 * Count a stream's payload bytes both ways without reading it: node pushes what it receives and calls
 * `_write`/`_writev` with what is sent, whoever reads or writes the stream (the router or a handler).
 * The methods are wrapped once, on the streams' prototype, and look the stream's row up: wrapping them
 * on each stream cost three closures per stream and gave every stream a shape of its own.
 */
function countStreamBytes(stream: ServerHttp2Stream, entry: StreamRecord): void {
  (stream as unknown as Counted)[kStreamEntry] = entry;
  const proto = Object.getPrototypeOf(stream) as StreamMethods;
  if (countingPrototypes.has(proto)) return;
  countingPrototypes.add(proto);
  const { push, _write: write, _writev: writev } = proto;
  proto.push = function (this: Counted, chunk, encoding) {
    const counted = this[kStreamEntry];
    if (counted !== undefined && chunk !== null && chunk !== undefined) counted.bytesIn += (chunk as Buffer).length;
    return push.call(this, chunk, encoding);
  };
  proto._write = function (this: Counted, chunk, encoding, callback) {
    const counted = this[kStreamEntry];
    if (counted !== undefined) counted.bytesOut += chunk.length;
    write.call(this, chunk, encoding, callback);
  };
  if (writev !== undefined) {
    proto._writev = function (this: Counted, chunks, callback) {
      const counted = this[kStreamEntry];
      if (counted !== undefined) for (const { chunk } of chunks) counted.bytesOut += chunk.length;
      writev.call(this, chunks, callback);
    };
  }
}

/** RFC 9113 §7. */
const ERROR_NAMES: Readonly<Record<number, string>> = {
  0x0: 'NO_ERROR', 0x1: 'PROTOCOL_ERROR', 0x2: 'INTERNAL_ERROR', 0x3: 'FLOW_CONTROL_ERROR', 0x4: 'SETTINGS_TIMEOUT',
  0x5: 'STREAM_CLOSED', 0x6: 'FRAME_SIZE_ERROR', 0x7: 'REFUSED_STREAM', 0x8: 'CANCEL', 0x9: 'COMPRESSION_ERROR',
  0xa: 'CONNECT_ERROR', 0xb: 'ENHANCE_YOUR_CALM', 0xc: 'INADEQUATE_SECURITY', 0xd: 'HTTP_1_1_REQUIRED',
};

/** RFC 9113 §7 error codes by name, e.g. 8 → `CANCEL`. */
export function http2ErrorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}
