import type { Socket } from 'node:net';
import type { ConnectionHooks, ProtocolEvent } from '../registry/plugin.js';
import { assertTransition, ConnectionState } from './connection-state.js';
import { type FiveTuple, formatFiveTuple } from './five-tuple.js';
import type { LabEvents } from './lab-events.js';
import type { ConnectionTap } from './capture/socket-tap.js';
import { ShutdownSlot } from './shutdown-slot.js';
import { type StreamSnapshot, StreamRecord } from './stream-record.js';

/**
 * The row of a connection, hung on its socket (and on the TLS socket over it) by the accept loop, so that
 * listeners and the byte tap shared by every socket find their connection without a closure each.
 */
export const kConnectionRecord = Symbol('switchyard.connectionRecord');

/** Who ended a connection: the peer (its FIN or RST reached us first) or this server. */
export type ClosedBy = 'client' | 'server';

/**
 * The four parts of a 5-tuple that many connections share (transport is always tcp): the listener's
 * address and port and one client address. Every connection from that client to that listener points here,
 * so a row holds only what is its own, the remote port, and the address strings exist once.
 */
interface SharedEnds {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  /** Remote port → row: the last part of the 5-tuple, unique among live connections. */
  readonly byRemotePort: Map<number, ConnectionRecord>;
}

/**
 * What the front door learnt of a connection that chose TLS: in clear text from its ClientHello (the SNI
 * name and the ALPN offers), then from node:tls once the handshake completed (version, cipher, ALPN).
 */
export interface TlsDetails {
  /** The server_name the ClientHello asked for (RFC 6066 §3), or null when it sent none (an IP URL). */
  sni: string | null;
  /** The ALPN protocols the client offered, in its order (RFC 7301 §3.1). */
  offeredAlpn: readonly string[];
  /** `TLSv1.3`, once the handshake completed. */
  version: string | null;
  cipher: string | null;
  /** The protocol both sides agreed on, or null when the client offered none. */
  alpn: string | null;
}

/**
 * What a PROXY protocol header said about a connection a trusted proxy relayed: the row's 5-tuple becomes
 * the client's as the proxy accepted it, and `hop` keeps the TCP connection this server accepted itself.
 */
export interface ProxiedDetails {
  readonly version: 1 | 2;
  /** The client's 5-tuple as the proxy received it; undefined for LOCAL (a health check) and UNKNOWN. */
  readonly client: FiveTuple | undefined;
  /** v2 TLVs worth showing: ALPN, authority (SNI), the TLS version the proxy terminated. */
  readonly tlvs: Readonly<Record<string, string>>;
}

/** What a trusted HTTP proxy said in `Forwarded` / `X-Forwarded-For` about the client of the latest request. */
export interface ForwardedDetails {
  /** `address:port` or `address` (or an obfuscated identifier, RFC 7239 §6.3) of the client. */
  readonly for: string;
  readonly proto?: string;
  readonly host?: string;
  /** Which field said so. */
  readonly field: 'Forwarded' | 'X-Forwarded-For';
}

/** Closed connections whose bytes stay viewable (each at most 2 × labBytesPerConnection). */
const RECENTLY_CLOSED_KEPT = 16;

/** Closed streams kept on a row after they end, newest last, so a learner still sees what a session carried. */
const CLOSED_STREAMS_KEPT = 8;

/**
 * An HTTP/2 connection's streams and the SETTINGS each side announced (RFC 9113 §6.5). Live streams are
 * all kept (bounded by http2MaxConcurrentStreams); closed ones only the last few.
 */
export class Http2Details {
  readonly #streams = new Map<number, StreamRecord>();
  readonly #closed: StreamRecord[] = [];
  /** Every stream the client opened on this connection, closed ones included. */
  opened = 0;
  /** What the server's SETTINGS frame said, and the client's (null until it arrives). */
  serverSettings: Record<string, number | boolean> | null = null;
  clientSettings: Record<string, number | boolean> | null = null;

  open(owner: ConnectionRecord, id: number, method: string, path: string): StreamRecord {
    const stream = new StreamRecord(owner, id, method, path);
    this.#streams.set(id, stream);
    this.opened++;
    return stream;
  }

  close(stream: StreamRecord, reason: string): void {
    stream.markClosed(reason);
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    this.#closed.push(stream);
    if (this.#closed.length > CLOSED_STREAMS_KEPT) this.#closed.shift();
  }

  /** Live streams, oldest first. */
  live(): IterableIterator<StreamRecord> { return this.#streams.values(); }
  get liveCount(): number { return this.#streams.size; }

  toJSON(now = Date.now()): { streams: StreamSnapshot[]; streamsOpened: number; settings: { server: Record<string, number | boolean> | null; client: Record<string, number | boolean> | null } } {
    return {
      streams: [...this.#closed, ...this.#streams.values()].map((stream) => stream.toJSON(now)),
      streamsOpened: this.opened,
      settings: { server: this.serverSettings, client: this.clientSettings },
    };
  }
}

/**
 * What the front door counted, per server: how each connection's first byte decided (or failed to), and
 * the TLS attempts that never reached HTTP. Rows leave the table when they close; these stay.
 */
export interface FrontDoorCounts {
  http: number;
  tls: number;
  /** The cleartext HTTP/2 preface (prior knowledge, RFC 9113 §3.3). */
  h2: number;
  /** First bytes that were neither a TLS record nor an HTTP request line: 400 and close. */
  unknown: number;
  /** A TLS record that did not carry a ClientHello, or one that was malformed or too large. */
  tlsNotClientHello: number;
  /** node:tls gave up (no shared cipher or version, a bad record, the peer's alert). */
  tlsHandshakeFailed: number;
  /** The ClientHello or the handshake did not complete within `tlsHandshakeTimeoutMs`. */
  tlsHandshakeTimeout: number;
  /** PROXY protocol headers read from trusted proxies. */
  proxied: number;
  /** Connections closed for their PROXY header: missing, malformed, stalled, or sent by an untrusted peer. */
  proxyRejected: number;
}

/** Milliseconds are kept relative to this, so a row's timestamp fits a small integer instead of a boxed number. */
const EPOCH = Date.now();

/**
 * One row of the connection table. It lives as long as the connection, so it is kept small: the 5-tuple
 * and its text form are built when asked for, byte counts are read from the socket (which keeps counting
 * after an upgrade and after close), and the row doubles as the connection's `ConnectionHooks` (trace,
 * close reason, shutdown), so a protocol handler needs no per-connection closures for them.
 */
export class ConnectionRecord implements ConnectionHooks {
  readonly id: number;
  readonly #ends: SharedEnds;
  readonly #remotePort: number;
  readonly #acceptedAt: number;
  readonly #socket: Socket;
  readonly #table: ConnectionTable;
  #state: ConnectionState = ConnectionState.Accepted;
  #protocol: string | undefined;
  #token: string | undefined;
  #closedAt: number | undefined;
  #closedBy: ClosedBy | undefined;
  #closeReason: string | undefined;
  #requests = 0;
  readonly #shutdown = new ShutdownSlot();
  /** The first byte, when the front door had to look at it to choose between TLS and HTTP; else -1. */
  #firstByte = -1;
  #tls: TlsDetails | undefined;
  #http2: Http2Details | undefined;
  #extensions: string | undefined;
  #proxied: ProxiedDetails | undefined;
  #forwarded: ForwardedDetails | undefined;
  /** What records this connection's bytes (the byte view, `--pcap`); set by the accept loop at accept. */
  tap: ConnectionTap | undefined;

  constructor(id: number, ends: SharedEnds, remotePort: number, socket: Socket, now: number, table: ConnectionTable) {
    this.id = id;
    this.#ends = ends;
    this.#remotePort = remotePort;
    this.#acceptedAt = now - EPOCH;
    this.#socket = socket;
    this.#table = table;
  }

  /**
   * The connection's 5-tuple as the lab shows it: the client's, as a trusted proxy reported it in a PROXY
   * header, or else the one the kernel gave the accepted socket (`socketFiveTuple`).
   */
  get fiveTuple(): FiveTuple {
    return this.#proxied?.client ?? this.socketFiveTuple;
  }

  /** The TCP connection this server accepted (behind a proxy: the hop from the proxy). */
  get socketFiveTuple(): FiveTuple {
    const ends = this.#ends;
    return { transport: 'tcp', localAddress: ends.localAddress, localPort: ends.localPort, remoteAddress: ends.remoteAddress, remotePort: this.#remotePort };
  }

  get proxied(): ProxiedDetails | undefined { return this.#proxied; }

  /** A trusted proxy's PROXY header was read: from now on the row speaks of its client. */
  noteProxied(details: ProxiedDetails): void { this.#proxied = details; }

  /** A trusted HTTP proxy named the client of the latest request. */
  noteForwarded(details: ForwardedDetails | undefined): void { this.#forwarded = details; }

  /** `tcp 127.0.0.1:8080 127.0.0.1:53412`, as `ss -tn` prints it; built on demand (traces, snapshots). */
  get key(): string { return formatFiveTuple(this.fiveTuple); }
  get socket(): Socket { return this.#socket; }
  get acceptedAt(): number { return EPOCH + this.#acceptedAt; }
  get state(): ConnectionState { return this.#state; }
  /**
   * The upgrade tokens this connection went through, outermost first, joined with ' > ' (e.g.
   * `websocket`, or `TLS/1.0 > websocket` after an in-band TLS upgrade); undefined before any upgrade.
   */
  get protocol(): string | undefined { return this.#protocol; }
  get requests(): number { return this.#requests; }
  get closedAt(): number | undefined { return this.#closedAt; }
  get closedBy(): ClosedBy | undefined { return this.#closedBy; }
  get closeReason(): string | undefined { return this.#closeReason; }
  /** `tls` when the client's first byte opened a TLS handshake on the front door, `tcp` otherwise. */
  get transport(): 'tcp' | 'tls' { return this.#tls === undefined ? 'tcp' : 'tls'; }
  get tls(): TlsDetails | undefined { return this.#tls; }
  /** The connection's streams, once it speaks HTTP/2. */
  get http2(): Http2Details | undefined { return this.#http2; }
  /** Where this row (and its streams) report trace events. */
  get events(): LabEvents | undefined { return this.#table.events; }
  get firstByte(): number | undefined { return this.#firstByte < 0 ? undefined : this.#firstByte; }
  /** The pid of the worker that accepted this connection, in a `--workers` cluster. */
  get worker(): number | undefined { return this.#table.worker; }
  get bytesIn(): number { return this.#socket.bytesRead; }
  get bytesOut(): number { return this.#socket.bytesWritten; }

  transition(to: ConnectionState, protocol?: string): void {
    assertTransition(this.#state, to);
    this.#state = to;
    if (to === ConnectionState.Upgraded) {
      this.#token = protocol;
      this.#protocol = this.#protocol === undefined ? protocol : `${this.#protocol} > ${protocol}`;
    }
  }

  countRequest(): void { this.#requests++; }

  /** The connection now carries an HTTP/2 session: from here on its rows are streams. */
  startHttp2(): Http2Details {
    this.transition(ConnectionState.Http2);
    this.#http2 = new Http2Details();
    return this.#http2;
  }

  /** The front door looked at this byte to decide; `tls` when it chose TLS (the details fill in later). */
  noteFirstByte(byte: number, tls?: TlsDetails): void {
    this.#firstByte = byte;
    this.#tls = tls;
  }

  /** Record why the connection is ending; the first explanation wins (the cause, not its echoes). */
  noteClose(by: ClosedBy, reason: string): void {
    if (this.#closedBy === undefined) {
      this.#closedBy = by;
      this.#closeReason = reason;
    }
  }

  /** The socket closed: the row leaves the table, and the trace hears who closed it and why. */
  markClosed(now = Date.now(), hadError = false): void {
    if (this.#state === ConnectionState.Closed) return;
    this.#state = ConnectionState.Closed;
    this.#closedAt = now;
    this.#shutdown.clear();
    if (this.#closedBy === undefined) {
      this.#closedBy = 'client';
      this.#closeReason = 'peer closed';
    }
    const table = this.#table;
    table.remove(this);
    if (this.tap !== undefined) {
      // An error ended it (a reset, a destroy with an error): the capture shows a RST instead of FINs.
      this.tap.closed(this.#closedBy, hadError || this.#closeReason?.includes('reset') === true);
      if (this.tap.bytes !== undefined) table.keepClosed(this);
    }
    if (table.events?.active) table.events.report({
      type: 'close', id: this.id, fiveTuple: this.key, closedBy: this.#closedBy,
      reason: this.#closeReason ?? '', bytesIn: this.bytesIn, bytesOut: this.bytesOut,
    });
  }

  // ConnectionHooks: what a protocol handler may tell the loop about its connection.

  emit(event: ProtocolEvent): void {
    const events = this.#table.events;
    if (events !== undefined && events.active) {
      events.report({ type: 'protocol', id: this.id, fiveTuple: this.key, protocol: this.#token ?? '', ...event });
    }
  }

  isTracing(): boolean { return this.#table.events?.active ?? false; }

  noteServerClose(reason: string): void { this.noteClose('server', reason); }

  noteExtensions(description: string): void { this.#extensions = description; }

  /** What the upgraded protocol negotiated on top (permessage-deflate and its parameters). */
  get extensions(): string | undefined { return this.#extensions; }

  onShutdown<T>(handler: ((target: T) => void) | undefined, target?: T): void { this.#shutdown.set(handler, target); }

  /** Graceful shutdown reached this connection: run what its current owner registered, once. */
  shutdown(): void { this.#shutdown.run(); }

  toJSON(now = Date.now()): ConnectionSnapshot {
    const shown = this.fiveTuple;
    const tls = this.#tls;
    const proxied = this.#proxied;
    return {
      id: this.id,
      ...(this.#table.worker === undefined ? {} : { worker: this.#table.worker }),
      transport: tls === undefined ? 'tcp' : 'tls',
      ...(this.#firstByte < 0 ? {} : { firstByte: `0x${this.#firstByte.toString(16).padStart(2, '0')}` }),
      ...(tls === undefined ? {} : { tls: { ...tls } }),
      http: this.#http2 === undefined ? '1.1' : '2',
      local: { address: shown.localAddress, port: shown.localPort },
      remote: { address: shown.remoteAddress, port: shown.remotePort },
      fiveTuple: this.key,
      ...(proxied === undefined ? {} : {
        proxied: {
          version: proxied.version, hop: formatFiveTuple(this.socketFiveTuple),
          ...(proxied.client === undefined ? { local: true } : {}), ...(Object.keys(proxied.tlvs).length === 0 ? {} : { tlvs: proxied.tlvs }),
        },
      }),
      ...(this.#forwarded === undefined ? {} : { forwarded: this.#forwarded }),
      state: this.#state,
      protocol: this.#protocol ?? null,
      ...(this.#extensions === undefined ? {} : { extensions: this.#extensions }),
      requests: this.#requests,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      ageMs: (this.#closedAt ?? now) - this.acceptedAt,
      ...(this.#closedBy ? { closedBy: this.#closedBy, closeReason: this.#closeReason ?? '' } : {}),
      ...(this.#http2 === undefined ? {} : this.#http2.toJSON(now)),
    };
  }
}

export interface ConnectionSnapshot {
  id: number;
  /** In a `--workers` cluster: the pid of the worker process that accepted the connection. */
  worker?: number;
  /** As the client chose it on the front door: `tls` when its first byte began a TLS handshake. */
  transport: 'tcp' | 'tls';
  /** The byte that decided, as `0x16`, when the port serves TLS and cleartext and had to look. */
  firstByte?: string;
  tls?: TlsDetails;
  /** The HTTP version the connection speaks: `2` once an HTTP/2 session runs on it. */
  http: '1.1' | '2';
  local: { address: string; port: number };
  remote: { address: string; port: number };
  fiveTuple: string;
  /** Relayed by a trusted proxy with a PROXY header: `fiveTuple` is the client's; `hop` the proxy's connection. */
  proxied?: { version: 1 | 2; hop: string; local?: true; tlvs?: Readonly<Record<string, string>> };
  /** The client as a trusted HTTP proxy named it (`Forwarded`, `X-Forwarded-For`) for the latest request. */
  forwarded?: ForwardedDetails;
  state: ConnectionState;
  protocol: string | null;
  /** Extensions the upgraded protocol agreed on, e.g. `permessage-deflate; server_max_window_bits=12; ...`. */
  extensions?: string;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  ageMs: number;
  closedBy?: ClosedBy;
  closeReason?: string;
  /** HTTP/2 only: the streams (live ones, then the last few closed), how many were opened, both SETTINGS. */
  streams?: StreamSnapshot[];
  streamsOpened?: number;
  settings?: { server: Record<string, number | boolean> | null; client: Record<string, number | boolean> | null };
}

/**
 * Live connections indexed by their 5-tuple: remote address → the listener ends it reached → remote port.
 * The kernel guarantees the 5-tuple is unique among live TCP connections, so a collision means a stale
 * entry, which is a bug worth failing loudly on. Indexing by parts rather than by one string per row keeps
 * a row's cost to one small map entry (10,000 idle connections are a benchmark scenario).
 */
export class ConnectionTable {
  readonly #byRemoteAddress = new Map<string, SharedEnds[]>();
  /** Where rows report closes and, as their connections' hooks, protocol trace events. */
  readonly events: LabEvents | undefined;
  readonly frontDoor: FrontDoorCounts = { http: 0, tls: 0, h2: 0, unknown: 0, tlsNotClientHello: 0, tlsHandshakeFailed: 0, tlsHandshakeTimeout: 0, proxied: 0, proxyRejected: 0 };
  /** The pid of the worker process this table belongs to, in a `--workers` cluster. */
  readonly worker: number | undefined;
  #size = 0;
  #nextId: number;

  /** `firstId`: workers of a cluster number their rows from different bases, so ids stay unique across them. */
  constructor(events?: LabEvents, options: { readonly worker?: number; readonly firstId?: number } = {}) {
    this.events = events;
    this.worker = options.worker;
    this.#nextId = options.firstId ?? 1;
  }

  get size(): number { return this.#size; }

  add(fiveTuple: FiveTuple, socket: Socket, now = Date.now()): ConnectionRecord {
    const ends = this.#endsFor(fiveTuple, true)!;
    if (ends.byRemotePort.has(fiveTuple.remotePort)) throw new Error(`5-tuple already in the table: ${formatFiveTuple(fiveTuple)}`);
    const record = new ConnectionRecord(this.#nextId++, ends, fiveTuple.remotePort, socket, now, this);
    ends.byRemotePort.set(fiveTuple.remotePort, record);
    this.#size++;
    return record;
  }

  remove(record: ConnectionRecord): void {
    const tuple = record.socketFiveTuple;
    const ends = this.#endsFor(tuple, false);
    if (ends === undefined || ends.byRemotePort.get(tuple.remotePort) !== record) return;
    ends.byRemotePort.delete(tuple.remotePort);
    this.#size--;
    if (ends.byRemotePort.size === 0) {
      const list = this.#byRemoteAddress.get(tuple.remoteAddress)!;
      list.splice(list.indexOf(ends), 1);
      if (list.length === 0) this.#byRemoteAddress.delete(tuple.remoteAddress);
    }
  }

  /**
   * The last few closed connections that kept bytes, newest last: the dashboard lingers on a closed row,
   * and a learner clicking it still finds its bytes.
   */
  readonly #recentlyClosed: ConnectionRecord[] = [];

  keepClosed(record: ConnectionRecord): void {
    this.#recentlyClosed.push(record);
    if (this.#recentlyClosed.length > RECENTLY_CLOSED_KEPT) this.#recentlyClosed.shift();
  }

  /** A live row by id, or one of the last few closed ones. */
  byId(id: number): ConnectionRecord | undefined {
    for (const record of this.records()) if (record.id === id) return record;
    return this.#recentlyClosed.find((record) => record.id === id);
  }

  /** The row whose 5-tuple reads `key` (as `record.key` prints it). */
  get(key: string): ConnectionRecord | undefined {
    for (const record of this.records()) if (record.key === key) return record;
    return undefined;
  }

  countFrom(remoteAddress: string): number {
    let count = 0;
    for (const ends of this.#byRemoteAddress.get(remoteAddress) ?? []) count += ends.byRemotePort.size;
    return count;
  }

  /** Every live row, oldest first. */
  records(): IterableIterator<ConnectionRecord> {
    const rows: ConnectionRecord[] = [];
    for (const list of this.#byRemoteAddress.values()) for (const ends of list) for (const record of ends.byRemotePort.values()) rows.push(record);
    return rows.sort((a, b) => a.id - b.id).values();
  }

  snapshot(now = Date.now()): ConnectionSnapshot[] { return [...this.records()].map((r) => r.toJSON(now)); }

  #endsFor(tuple: FiveTuple, create: boolean): SharedEnds | undefined {
    let list = this.#byRemoteAddress.get(tuple.remoteAddress);
    if (list !== undefined) {
      for (const ends of list) if (ends.localPort === tuple.localPort && ends.localAddress === tuple.localAddress) return ends;
    }
    if (!create) return undefined;
    if (list === undefined) this.#byRemoteAddress.set(tuple.remoteAddress, list = []);
    const ends: SharedEnds = { localAddress: tuple.localAddress, localPort: tuple.localPort, remoteAddress: tuple.remoteAddress, byRemotePort: new Map() };
    list.push(ends);
    return ends;
  }
}
