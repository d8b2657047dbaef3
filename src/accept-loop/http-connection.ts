/**
 * One connection while it speaks HTTP/1.1. Bytes from the socket go into the sans-IO RequestParser; its
 * events drive this file: route a plain request and write the response, or — for an upgrade request —
 * ask the registry's handlers in the client's order and, on accept, write the 101 and hand the socket
 * over (see handover.ts). Requests are answered strictly in order (pipelining, RFC 9112 §9.3.2): the
 * parser stays paused on the next request until the current response is written.
 *
 * Every wait has a deadline: the first byte of a request starts `headersTimeoutMs` for the whole header
 * section (slowloris → 408), an idle keep-alive connection is closed after `keepAliveTimeoutMs`, and a
 * stalled body gets 408 after `headersTimeoutMs` without progress. Every buffer has a cap: while a
 * response is pending the socket is paused once the parser holds more than a request head's worth.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProtocolError } from '../errors.js';
import { closeWhenFlushed } from '../socket-close.js';
import { noteReadSize } from '../read-buffer-pages.js';
import type { RequestHead } from '../http/request-head.js';
import { RequestParser } from '../http/request-parser.js';
import { formatResponseHead, reasonPhrase } from '../http/response.js';
import type { HandshakeDecision, ProtocolHandler } from '../registry/plugin.js';
import { parseUpgradeOffers } from '../registry/upgrade-offers.js';
import type { HttpResponse } from '../server/router.js';
import { routeRequest, type RoutedAnswer } from '../server/route-request.js';
import type { ConnectionRecord, ForwardedDetails } from './connection-table.js';
import { parseForwarded, parseXForwardedFor, resolveClient, type ForwardedNode } from '../http/forwarded.js';
import type { TrustedProxies } from './trusted-proxies.js';
import { ConnectionState } from './connection-state.js';
import { handOver } from './handover.js';
import type { Deadline } from './deadline-wheel.js';
import type { ConnectionServices } from './services.js';

const EMPTY = new Uint8Array(0);
/** Frozen, so a body piece pushed for a request declared without content would throw, not leak across requests. */
const NO_BODY = Object.freeze([]) as unknown as Uint8Array[];
/** After our final response on a closing connection, keep draining the peer's bytes this long, then drop. */
const LINGER_MS = 2_000;

type TimerKind = 'headers' | 'idle' | 'body' | 'linger';

export class HttpConnection implements Deadline {
  readonly #socket: Duplex;
  readonly #raw: Socket;
  readonly #record: ConnectionRecord;
  readonly #services: ConnectionServices;
  readonly #parser: RequestParser;
  readonly #maxBuffered: number;
  #head: RequestHead | undefined;
  /** The current request's content pieces; the shared empty list while a request has none (most). */
  #bodyChunks: Uint8Array[] = NO_BODY;
  #bodyBytes = 0;
  /** A response or a handshake decision is pending; the parser waits. */
  #busy = false;
  #closing = false;
  #detached = false;
  #timerKind: TimerKind | undefined;
  /** This connection's entry in the server's deadline wheel (`expire` below); `timerKind` says what expiring means. */
  deadlineAt = 0;

  /** For `record.onShutdown`: one function for every connection instead of a closure each. */
  static readonly shutdown = (connection: HttpConnection): void => connection.shutdown();

  // The stream's listeners are shared by every connection (the connection rides on the stream): four
  // closures per connection cost both memory and time on a server accepting thousands per second.
  static readonly #onData = function (this: StreamWithConnection, chunk: Buffer): void { this[kConnection]!.#receive(chunk); };
  static readonly #onEnd = function (this: StreamWithConnection): void { this[kConnection]!.#receiveEnd(); };
  static readonly #onDrain = function (this: StreamWithConnection): void { this[kConnection]!.#pump(); };
  static readonly #onClose = function (this: StreamWithConnection): void { const connection = this[kConnection]; if (connection !== undefined) connection.#disarm(); };

  constructor(socket: Duplex, raw: Socket, record: ConnectionRecord, services: ConnectionServices) {
    this.#socket = socket;
    this.#raw = raw;
    this.#record = record;
    this.#services = services;
    this.#parser = new RequestParser(services.limits);
    this.#maxBuffered = services.limits.requestLineBytes + services.limits.headerBytes;
  }

  get record(): ConnectionRecord { return this.#record; }
  get idle(): boolean { return !this.#busy && this.#head === undefined && this.#parser.bufferedBytes === 0; }

  /**
   * Start reading. `initial` are bytes already received for this stream; `pending` is a request to answer
   * before reading any (both used when a protocol such as TLS/1.0 carries HTTP again).
   */
  start(initial?: Uint8Array, pending?: RequestHead): void {
    const socket = this.#socket as StreamWithConnection;
    socket[kConnection] = this;
    socket.on('data', HttpConnection.#onData);
    socket.on('end', HttpConnection.#onEnd);
    socket.on('drain', HttpConnection.#onDrain);
    // A socket that closes under us (peer reset, server destroy) must not stay in the deadline wheel.
    socket.on('close', HttpConnection.#onClose);
    this.#arm('headers');
    if (pending) {
      this.#head = pending;
      this.#serve(pending, EMPTY);
    }
    if (initial && initial.length > 0) this.#receive(initial);
    if (!this.#closing && !this.#detached) this.#socket.resume();
  }

  /** Resolves when this stream closes. */
  closed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed) resolve(); else this.#socket.once('close', () => resolve());
    });
  }

  /** Graceful shutdown: an idle connection closes now, a busy one after its current response. */
  shutdown(): void {
    if (this.#detached || this.#closing) return;
    if (this.idle) this.#close('server', 'server shutting down');
  }

  #receive(chunk: Uint8Array): void {
    noteReadSize(chunk.length);
    if (this.#closing || this.#detached) return; // draining after our final answer: the bytes mean nothing now
    if (this.#timerKind === 'idle') this.#arm('headers');
    else if (this.#timerKind === 'body') this.#arm('body');
    this.#parser.receive(chunk);
    if (this.#busy) {
      if (this.#parser.bufferedBytes > this.#maxBuffered) this.#socket.pause();
      return;
    }
    this.#pump();
  }

  #receiveEnd(): void {
    if (this.#detached) return;
    this.#record.noteClose('client', 'peer closed');
    if (this.#closing) return; // our FIN is already out; with both sides ended the socket closes itself
    this.#parser.receiveEnd();
    if (!this.#busy) this.#pump();
  }

  /** Drive the parser until it needs bytes, waits for us, or the connection ends. */
  #pump(): void {
    while (!this.#busy && !this.#closing && !this.#detached) {
      if ((this.#socket as Socket).writableNeedDrain) {
        // The peer isn't reading our responses: stop producing them, and stop reading its requests too, or
        // a pipelining client that never reads would grow the parser's buffer without bound. 'drain' pumps
        // again, and the pump resumes reading once the buffered requests are answered.
        this.#socket.pause();
        return;
      }
      const event = this.#parser.next();
      switch (event.type) {
        case 'need-data':
          if (this.#socket.isPaused()) this.#socket.resume();
          return;
        case 'request':
          this.#startRequest(event.head);
          break;
        case 'body':
          this.#bodyChunks.push(event.data);
          this.#bodyBytes += event.data.length;
          break;
        case 'end':
          this.#endRequest();
          break;
        case 'paused':
          return;
        case 'closed':
          this.#close('client', 'peer closed');
          return;
        case 'error':
          this.#fail(event.error);
          return;
      }
    }
  }

  #startRequest(head: RequestHead): void {
    this.#head = head;
    this.#bodyChunks = head.body.kind === 'none' ? NO_BODY : [];
    this.#bodyBytes = 0;
    this.#record.countRequest();
    const proxy = this.#services.proxy;
    if (proxy !== undefined) this.#record.noteForwarded(forwardedClient(head, this.#record.fiveTuple.remoteAddress, proxy.trusted));
    const { events } = this.#services;
    if (events.active) {
      const upgrade = head.get('upgrade');
      events.report({
        type: 'request', id: this.#record.id, fiveTuple: this.#record.key,
        method: head.method, target: head.target, version: head.version,
        ...(upgrade === undefined ? {} : { upgrade }),
      });
    }
    if (head.body.kind === 'none') {
      this.#disarm();
    } else {
      this.#arm('body');
      // RFC 9110 §10.1.1: tell a waiting client to send the content. Limits were already checked on the head.
      if (head.expectContinue && head.version === '1.1') this.#socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
  }

  #endRequest(): void {
    const head = this.#head!;
    const body = this.#bodyChunks.length === 1 ? this.#bodyChunks[0]! : this.#bodyChunks.length === 0 ? EMPTY : Buffer.concat(this.#bodyChunks, this.#bodyBytes);
    this.#bodyChunks = NO_BODY;
    this.#disarm();
    // RFC 9110 §7.8: a server ignores Upgrade in HTTP/1.0, and only considers it when Connection lists it.
    if (head.version === '1.1' && head.connectionTokens.includes('upgrade') && head.has('upgrade') && !this.#services.isShuttingDown()) {
      const offers = parseUpgradeOffers(head.getAll('upgrade'));
      if (offers instanceof ProtocolError) { this.#fail(offers); return; }
      const matches = this.#services.registry.resolve(offers);
      if (matches.length > 0) {
        this.#busy = true;
        this.#negotiate(head, matches);
        return;
      }
    }
    this.#serve(head, body);
  }

  #serve(head: RequestHead, body: Uint8Array): void {
    const answer = routeRequest(this.#services.router, head, body, this.#record);
    if (answer instanceof Promise) {
      this.#busy = true;
      void answer.then((settled) => {
        this.#busy = false;
        if (this.#detached || this.#socket.destroyed) return;
        this.#deliver(head, settled);
        this.#pump();
      });
    } else {
      this.#deliver(head, answer);
    }
  }

  #deliver(head: RequestHead, answer: RoutedAnswer): void {
    if (answer.failure !== undefined) {
      this.#services.events.report({ type: 'error', id: this.#record.id, fiveTuple: this.#record.key, code: 'ERR_ROUTE_HANDLER', message: errorMessage(answer.failure) });
    }
    this.#respond(head, answer.response, answer.close);
  }

  /**
   * Ask the matching handlers in the client's order. Synchronous while their decisions are (WebSocket's
   * is: a pure function of the request), so a handshake costs no promise and no timer; a handler that
   * answers with a promise gets `handshakeTimeoutMs` to settle it.
   */
  #negotiate(head: RequestHead, matches: HandlerMatches, from = 0): void {
    if (from === 0) {
      this.#socket.pause();
      this.#record.transition(ConnectionState.Switching);
      this.#reportState('http', 'switching');
    }
    const { limits } = this.#services;
    for (let index = from; index < matches.length; index++) {
      const { offer, handler } = matches[index]!;
      let decision: HandshakeDecision | PromiseLike<HandshakeDecision>;
      try {
        decision = handler.handshake === undefined ? ACCEPT : handler.handshake({
          request: head, offered: offer.token, fiveTuple: this.#record.fiveTuple, limits,
          secure: (this.#socket as { encrypted?: boolean }).encrypted === true,
        });
      } catch (error) {
        this.#handshakeFailed(head, handler, error);
        return;
      }
      if (isThenable(decision)) {
        settleWithin(Promise.resolve(decision), limits.handshakeTimeoutMs).then(
          (settled) => {
            if (this.#socket.destroyed) return;
            if (!this.#apply(head, handler, settled)) this.#negotiate(head, matches, index + 1);
          },
          (error: unknown) => { if (!this.#socket.destroyed) this.#handshakeFailed(head, handler, error); },
        );
        return;
      }
      if (this.#apply(head, handler, decision)) return;
    }
    // Every handler declined: the request is plain HTTP after all (RFC 9110 §7.8: the server MAY ignore Upgrade).
    this.#backToHttp();
    this.#serve(head, EMPTY);
    // Called from the pump when every decision was synchronous: the pump goes on by itself.
    if (from > 0) this.#pump();
  }

  /** Act on one handler's decision; false when it declined and the next offer should be tried. */
  #apply(head: RequestHead, handler: ProtocolHandler, decision: HandshakeDecision): boolean {
    if (decision.action === 'accept') {
      this.#detach();
      handOver({
        socket: this.#socket, raw: this.#raw, record: this.#record, services: this.#services,
        request: head, head: this.#parser.takeBuffered(), handler, headers: decision.headers ?? [], state: decision.state,
      });
      return true;
    }
    if (decision.action === 'reject') {
      this.#backToHttp();
      this.#respond(head, { status: decision.status, headers: decision.headers ?? [], body: decision.body ?? `${decision.status} ${reasonPhrase(decision.status)}\n` }, true);
      return true;
    }
    return false;
  }

  #handshakeFailed(head: RequestHead, handler: ProtocolHandler, error: unknown): void {
    const timedOut = error instanceof HandshakeTimeout;
    this.#services.events.report({
      type: 'error', id: this.#record.id, fiveTuple: this.#record.key,
      code: timedOut ? 'ERR_HANDSHAKE_TIMEOUT' : 'ERR_PLUGIN_HANDSHAKE',
      message: `${handler.token} handshake ${timedOut ? 'timed out' : `threw: ${errorMessage(error)}`}`,
    });
    this.#backToHttp();
    this.#respond(head, { status: timedOut ? 503 : 500, body: `${timedOut ? 503 : 500} ${reasonPhrase(timedOut ? 503 : 500)}\nthe ${handler.token} handler failed\n` }, true);
  }

  #backToHttp(): void {
    this.#busy = false;
    this.#record.transition(ConnectionState.Http);
    this.#reportState('switching', 'http');
  }

  #reportState(from: ConnectionState, to: ConnectionState): void {
    if (this.#services.events.active) this.#services.events.report({ type: 'state', id: this.#record.id, fiveTuple: this.#record.key, from, to });
  }

  /** A peer's protocol error: answer once with its status, then close (RFC 9112 §9.6 — framing is now unknown). */
  #fail(error: ProtocolError): void {
    this.#services.events.report({ type: 'error', id: this.#record.id, fiveTuple: this.#record.key, code: error.code, message: error.message });
    this.#respond(undefined, { status: error.status, headers: error.headers, body: `${error.status} ${reasonPhrase(error.status)}\n${error.message}\n` }, true, error.code);
  }

  /** Write one response; then either start on the next request or close. */
  #respond(head: RequestHead | undefined, response: HttpResponse, forceClose = false, reason?: string): void {
    if (this.#detached || this.#socket.destroyed) return;
    const close = forceClose || head === undefined || !head.keepAlive || this.#services.isShuttingDown();
    const status = response.status;
    const text = typeof response.body === 'string' ? response.body : undefined;
    const bodyLength = text !== undefined ? Buffer.byteLength(text) : response.body === undefined ? 0 : response.body.length;
    const headers: Array<readonly [string, string]> = [['Date', httpDate()]];
    // RFC 9110 §8.6: no Content-Length in 1xx and 204; a HEAD response carries the GET's length.
    if (status !== 204 && status >= 200) headers.push(['Content-Length', String(bodyLength)]);
    if (bodyLength > 0 && !response.headers?.some(([n]) => n.toLowerCase() === 'content-type')) headers.push(['Content-Type', 'text/plain; charset=utf-8']);
    if (response.headers) headers.push(...response.headers);
    if (close) headers.push(['Connection', 'close']);
    else if (head!.version === '1.0') headers.push(['Connection', 'keep-alive']);
    const headText = formatResponseHead({ status, headers });
    const withBody = head?.method !== 'HEAD' && status !== 204 && status !== 304 && bodyLength > 0;
    const socket = this.#socket;
    if (!withBody) {
      socket.write(headText, 'latin1');
    } else if (text !== undefined && bodyLength === text.length && bodyLength <= 16 * 1024) {
      // Byte length equal to string length: the text is ASCII, so head and body are one latin1 string,
      // written without building a Buffer for either (the common case: every built-in route's answer).
      socket.write(headText + text, 'latin1');
    } else {
      const body = text !== undefined ? Buffer.from(text) : (response.body as Uint8Array);
      if (body.length <= 16 * 1024) {
        socket.write(Buffer.concat([Buffer.from(headText, 'latin1'), body]));
      } else {
        socket.cork();
        socket.write(headText, 'latin1');
        socket.write(body);
        socket.uncork();
      }
    }
    const { events } = this.#services;
    if (events.active) events.report({ type: 'response', id: this.#record.id, fiveTuple: this.#record.key, status, bytes: bodyLength });
    this.#head = undefined;
    if (close) {
      // The client said this was its last request and sent nothing after it: no lingering needed, close
      // as soon as the response is flushed (saves the read of its FIN). Otherwise (an error, pipelined
      // bytes, shutdown) linger, so unread input cannot turn our close into a reset that eats the answer.
      const clean = head !== undefined && !head.keepAlive && !forceClose && this.#parser.bufferedBytes === 0;
      this.#close('server', reason ?? (status >= 400 ? `answered ${status} and closed` : 'response sent with Connection: close'), !clean);
      return;
    }
    this.#parser.resume();
    this.#arm(this.#parser.bufferedBytes > 0 ? 'headers' : 'idle');
  }

  /** Half-close our side and drain briefly, so the peer reads our last response instead of a reset. */
  /**
   * Half-close our side. With `linger`, keep draining the peer's bytes for a moment (RFC 9112 §9.6, like
   * nginx's lingering close) so it reads our last response instead of a reset; without, destroy the
   * socket as soon as everything we wrote is flushed.
   */
  #close(by: 'client' | 'server', reason: string, linger = true): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#busy = false;
    this.#disarm();
    this.#record.noteClose(by, reason);
    if (!linger) {
      closeWhenFlushed(this.#socket);
      return;
    }
    this.#socket.end();
    this.#socket.resume();
    this.#arm('linger');
  }

  #arm(kind: TimerKind): void {
    const { limits } = this.#services;
    this.#timerKind = kind;
    this.deadlineAt = Date.now() + (kind === 'idle' ? limits.keepAliveTimeoutMs : kind === 'linger' ? LINGER_MS : limits.headersTimeoutMs);
    this.#services.deadlines.add(this);
  }

  #disarm(): void {
    this.#timerKind = undefined;
    this.#services.deadlines.delete(this);
  }

  /** The deadline wheel's call: the armed timer ran out. */
  expire(): void {
    const kind = this.#timerKind;
    if (kind === undefined) return;
    this.#timerKind = undefined;
    if (kind === 'linger') { this.#socket.destroy(); return; }
    if (this.#detached || this.#closing) return;
    if (kind === 'idle' && this.#parser.bufferedBytes === 0 && this.#head === undefined) {
      this.#close('server', 'keep-alive timeout');
      return;
    }
    // RFC 9110 §15.5.9: 408 for a request that did not complete in time (slowloris, stalled body).
    const what = kind === 'body' ? 'request content' : 'request header section';
    this.#fail(new ProtocolError('ERR_REQUEST_TIMEOUT', `the ${what} did not arrive within ${this.#services.limits.headersTimeoutMs} ms`, { status: 408 }));
  }

  /** Stop speaking HTTP on this socket: listeners and timers go, so the next owner starts clean. */
  #detach(): void {
    this.#detached = true;
    this.#disarm();
    const socket = this.#socket as StreamWithConnection;
    socket.pause();
    socket.off('data', HttpConnection.#onData);
    socket.off('end', HttpConnection.#onEnd);
    socket.off('drain', HttpConnection.#onDrain);
    socket.off('close', HttpConnection.#onClose);
    // Nothing of HTTP may stay reachable from a socket that now lives on as another protocol.
    socket[kConnection] = undefined;
  }
}

export class HandshakeTimeout extends Error {}

type HandlerMatches = ReturnType<ConnectionServices['registry']['resolve']>;
const ACCEPT: HandshakeDecision = Object.freeze({ action: 'accept' });

export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/** `decision`, or a HandshakeTimeout if it has not settled within `ms`. */
export function settleWithin<T>(decision: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new HandshakeTimeout()), ms);
    timer.unref();
    decision.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

const kConnection = Symbol('switchyard.httpConnection');
type StreamWithConnection = Duplex & { [kConnection]?: HttpConnection | undefined };

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

let cachedDate = '';
let cachedDateSecond = -1;
/** The Date field (RFC 9110 §6.6.1), formatted once per second rather than once per response. */
export function httpDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== cachedDateSecond) {
    cachedDateSecond = second;
    cachedDate = new Date(second * 1000).toUTCString();
  }
  return cachedDate;
}

/**
 * The client of this request as trusted HTTP proxies name it: `Forwarded` (RFC 7239) when present, else
 * `X-Forwarded-For`; walked back from the nearest hop while each hop is a trusted proxy. Undefined when
 * the peer is not trusted (anyone can write these fields), the fields are absent or malformed, or they
 * name nobody beyond the peer.
 */
function forwardedClient(head: RequestHead, peer: string, trusted: TrustedProxies): ForwardedDetails | undefined {
  if (!trusted.isTrusted(peer)) return undefined;
  const forwarded = head.getAll('forwarded');
  const field = forwarded.length > 0 ? 'Forwarded' : 'X-Forwarded-For';
  const parsed = forwarded.length > 0 ? parseForwarded(forwarded) : parseXForwardedFor(head.getAll('x-forwarded-for'));
  if (!parsed.ok || parsed.hops.length === 0) return undefined;
  const client = resolveClient(peer, parsed.hops, (address) => trusted.isTrusted(address));
  if (client.source !== 'header' || client.hopIndex === undefined) return undefined;
  const hop = parsed.hops[client.hopIndex]!;
  return {
    for: nodeText(client.node), field,
    ...(hop.proto === undefined ? {} : { proto: hop.proto }),
    ...(hop.host === undefined ? {} : { host: hop.host }),
  };
}

function nodeText(node: ForwardedNode): string {
  if (node.port === undefined) return node.address;
  return node.kind === 'ipv6' ? `[${node.address}]:${node.port}` : `${node.address}:${node.port}`;
}
