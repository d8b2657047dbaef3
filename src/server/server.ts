/**
 * The switchyard server: one listening socket, an explicit accept loop, a connection table keyed by the
 * 5-tuple, plain HTTP routes and an Upgrade registry, all on one port.
 *
 *   listen()  → the kernel queues completed TCP handshakes on the listening socket (the backlog)
 *   accept()  → each yields a NEW connected socket; the listening one never carries data
 *   admit()   → row in the table (before any async work), then HTTP/1.1 on the socket
 *   101       → a protocol handler from the registry owns the socket from here on
 */
import { setMaxListeners } from 'node:events';
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { CaptureFile } from '../accept-loop/capture/capture-file.js';
import { ConnectionBytes } from '../accept-loop/capture/connection-bytes.js';
import { TcpConversation } from '../accept-loop/capture/pcapng.js';
import { ConnectionTap } from '../accept-loop/capture/socket-tap.js';
import { ConnectionState } from '../accept-loop/connection-state.js';
import { type ConnectionRecord, ConnectionTable, kConnectionRecord } from '../accept-loop/connection-table.js';
import { type FiveTuple, formatFiveTuple, normaliseAddress, peerOf } from '../accept-loop/five-tuple.js';
import { DeadlineWheel } from '../accept-loop/deadline-wheel.js';
import { FrontDoor, type FrontDoorTls } from '../accept-loop/front-door.js';
import { HttpConnection } from '../accept-loop/http-connection.js';
import { LabEvents } from '../accept-loop/lab-events.js';
import { Listener } from '../accept-loop/listener.js';
import type { ConnectionServices, ProxyTrust } from '../accept-loop/services.js';
import { parseTrustedProxies, type TrustedProxies } from '../accept-loop/trusted-proxies.js';
import { UsageError } from '../errors.js';
import { type Limits, resolveLimits } from '../limits.js';
import type { ProtocolHandler } from '../registry/plugin.js';
import { Registry } from '../registry/registry.js';
import { installBuiltinRoutes } from './builtin-routes.js';
import { Router } from './router.js';

export interface ServerOptions {
  /** Default `127.0.0.1`: a lab should not be reachable from the network unless asked. */
  host?: string;
  /** Default 0: the kernel picks a free port, reported by `server.port`. */
  port?: number;
  backlog?: number;
  limits?: Partial<Limits>;
  /** Handlers registered at start. */
  protocols?: readonly ProtocolHandler<any>[];
  /** Serve `/healthz`, `/protocols` and `/connections` (default true). */
  builtinRoutes?: boolean;
  /**
   * Serve TLS on the same port as cleartext: each connection's first byte decides (0x16 → TLS). The
   * certificate (chain) and key are PEM; `alpnProtocols` defaults to `['h2', 'http/1.1']`.
   */
  tls?: ServerTlsOptions;
  /**
   * This server is one worker of a `--workers` cluster: its rows carry `worker` (its pid) and their ids
   * start at `firstConnectionId`, so the rows of every worker can be listed in one table.
   */
  worker?: { readonly pid: number; readonly firstConnectionId: number };
  /**
   * Proxies in front: `trusted` is an `ADDR[/PREFIX],...` list (or a parsed one). With `protocol`, a
   * connection from a trusted address must start with a PROXY protocol header (v1 or v2), and one from
   * anywhere else must not; without it, only `Forwarded` / `X-Forwarded-For` from trusted peers are shown.
   */
  proxy?: { readonly protocol?: boolean; readonly trusted: string | TrustedProxies };
  /**
   * `pcap`: write every connection's bytes, both ways, to this pcapng file as synthesized TCP on the
   * connection's real 5-tuple (decrypted, for TLS), stopping at `pcapMaxBytes` (0: no cap).
   * `tlsKeylog`: append each TLS session's secrets to this file (NSS key log format), for Wireshark.
   */
  capture?: { readonly pcap?: string; readonly pcapMaxBytes?: number; readonly tlsKeylog?: string };
}

export interface ServerTlsOptions {
  readonly cert: string | Uint8Array;
  readonly key: string | Uint8Array;
  readonly alpnProtocols?: readonly string[];
}

export class SwitchyardServer {
  readonly limits: Limits;
  readonly registry = new Registry();
  readonly router = new Router();
  readonly events = new LabEvents();
  readonly table: ConnectionTable;
  readonly #listener: Listener;
  readonly #shutdown = new AbortController();
  readonly #services: ConnectionServices;
  #loop: Promise<void> | undefined;
  /** The listener's own address when it is a specific one: then it is every accepted socket's local end. */
  #localEndpoint: { address: string; port: number } | undefined;
  #closing: Promise<void> | undefined;
  readonly #onClose: Array<() => Promise<void> | void> = [];

  private constructor(listener: Listener, limits: Limits, frontDoorTls: FrontDoorTls | undefined, worker: ServerOptions['worker'], proxy: ProxyTrust | undefined, capture: CaptureFile | undefined, keylog: WriteStream | undefined) {
    this.table = new ConnectionTable(this.events, worker === undefined ? {} : { worker: worker.pid, firstId: worker.firstConnectionId });
    this.#listener = listener;
    this.limits = limits;
    // Every upgraded connection listens for shutdown on this one signal: thousands of listeners are expected.
    setMaxListeners(0, this.#shutdown.signal);
    this.#services = {
      limits,
      registry: this.registry,
      router: this.router,
      table: this.table,
      events: this.events,
      deadlines: DeadlineWheel.forTimeouts(limits.headersTimeoutMs, limits.keepAliveTimeoutMs, ...(frontDoorTls ? [limits.tlsHandshakeTimeoutMs] : [])),
      shutdownSignal: this.#shutdown.signal,
      isShuttingDown: () => this.#shutdown.signal.aborted,
      frontDoorTls,
      proxy,
      capture,
      tlsKeylog: keylog === undefined ? undefined : (line: Buffer) => { keylog.write(line); },
    };
    if (capture !== undefined) this.onClose(() => capture.close());
    if (keylog !== undefined) this.onClose(() => new Promise<void>((resolve) => keylog.end(resolve)));
  }

  /** Listen, then start the accept loop. Rejects with the system error if the port cannot be bound. */
  static async start(options: ServerOptions = {}): Promise<SwitchyardServer> {
    const limits = resolveLimits(options.limits);
    const frontDoorTls = options.tls === undefined ? undefined : frontDoorTlsOf(options.tls);
    const proxy: ProxyTrust | undefined = options.proxy === undefined ? undefined : {
      protocol: options.proxy.protocol ?? false,
      trusted: typeof options.proxy.trusted === 'string' ? parseTrustedProxies(options.proxy.trusted) : options.proxy.trusted,
    };
    let server: SwitchyardServer | undefined;
    const listener = await Listener.listen(
      { host: options.host ?? '127.0.0.1', port: options.port ?? 0, ...(options.backlog === undefined ? {} : { backlog: options.backlog }) },
      (error) => server?.events.report({ type: 'error', code: error.code ?? 'ERR_ACCEPT', message: `accept failed: ${error.message}` }),
    );
    let capture: CaptureFile | undefined;
    let keylog: WriteStream | undefined;
    try {
      capture = options.capture?.pcap === undefined ? undefined : openCapture(options.capture.pcap, options.capture.pcapMaxBytes ?? 0, listener.address);
      keylog = options.capture?.tlsKeylog === undefined ? undefined : openKeylog(options.capture.tlsKeylog);
    } catch (error) {
      await listener.close();
      await capture?.close();
      throw error;
    }
    server = new SwitchyardServer(listener, limits, frontDoorTls, options.worker, proxy, capture, keylog);
    for (const handler of options.protocols ?? []) server.registry.register(handler);
    if (options.builtinRoutes !== false) installBuiltinRoutes(server.router, server.registry, server.table);
    server.#loop = server.#acceptLoop();
    return server;
  }

  get host(): string { return this.#listener.address.address; }
  get port(): number { return this.#listener.address.port; }
  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${this.port}/`;
  }
  /** Whether the port also serves TLS (its first byte decides per connection). */
  get tls(): boolean { return this.#services.frontDoorTls !== undefined; }
  /** The same port's https:// URL, when it serves TLS. */
  get secureUrl(): string | undefined { return this.tls ? this.url.replace(/^http:/, 'https:') : undefined; }

  async #acceptLoop(): Promise<void> {
    const { address, port } = this.#listener.address;
    if (address !== '0.0.0.0' && address !== '::') this.#localEndpoint = { address: normaliseAddress(address), port };
    this.events.report({ type: 'listen', address, port });
    for await (const socket of this.#listener) this.#admit(socket);
  }

  #admit(socket: Socket): void {
    const fiveTuple = this.#fiveTupleOf(socket);
    const { maxConnections, maxConnectionsPerAddress } = this.limits;
    const overGlobal = this.table.size >= maxConnections;
    const overAddress = maxConnectionsPerAddress > 0 && this.table.countFrom(fiveTuple.remoteAddress) >= maxConnectionsPerAddress;
    if (overGlobal || overAddress || this.#shutdown.signal.aborted) {
      const reason = this.#shutdown.signal.aborted ? 'shutting down' : overGlobal ? `maxConnections (${maxConnections}) reached` : `maxConnectionsPerAddress (${maxConnectionsPerAddress}) reached`;
      this.events.report({ type: 'refuse', fiveTuple: formatFiveTuple(fiveTuple), reason });
      refuse(socket, reason);
      return;
    }
    // The row goes in before anything asynchronous happens, so /connections never misses a live socket.
    const record = this.table.add(fiveTuple, socket);
    if (this.events.active) this.events.report({ type: 'accept', id: record.id, fiveTuple: record.key, live: this.table.size });
    // Bookkeeping listeners shared by every socket (the row rides on the socket): a listener per
    // connection would be a closure and its context for as long as the connection lives.
    // Bookkeeping listeners shared by every socket find the row on the socket, as does the byte tap.
    (socket as TrackedSocket)[kConnectionRecord] = record;
    record.tap = this.#tapFor(socket, record);
    socket.on('error', onTrackedSocketError);
    socket.on('close', onTrackedSocketClose);
    // TLS, HTTP/1.1 and HTTP/2 share the port: the first bytes decide who reads the rest (front-door.ts).
    new FrontDoor(socket, record, this.#services, this.#services.frontDoorTls).start();
  }

  /** The byte view's store and the capture's conversation for a connection just accepted, if either is on. */
  #tapFor(socket: Socket, record: ConnectionRecord): ConnectionTap | undefined {
    const limit = this.limits.labBytesPerConnection;
    const file = this.#services.capture;
    if (limit === 0 && file === undefined) return undefined;
    const tuple = record.socketFiveTuple;
    const conversation = file === undefined ? undefined : new TcpConversation({
      client: { address: tuple.remoteAddress, port: tuple.remotePort },
      server: { address: tuple.localAddress, port: tuple.localPort },
    });
    return ConnectionTap.attach(socket, {
      bytes: limit === 0 ? undefined : new ConnectionBytes(limit),
      capture: file === undefined ? undefined : { file, conversation: conversation! },
    });
  }

  /** The pcapng file, when `capture.pcap` was asked for. */
  get capture(): CaptureFile | undefined { return this.#services.capture; }

  /** The listener's own address when bound to one (no getsockname), the kernel's answer otherwise. */
  #fiveTupleOf(socket: Socket): FiveTuple {
    const peer = peerOf(socket);
    const local = this.#localEndpoint;
    return {
      transport: 'tcp',
      localAddress: local ? local.address : normaliseAddress(socket.localAddress),
      localPort: local ? local.port : socket.localPort ?? 0,
      remoteAddress: peer.address,
      remotePort: peer.port,
    };
  }

  /**
   * Graceful shutdown: stop accepting; idle HTTP connections close now and busy ones after their current
   * response; upgraded handlers see `signal` abort and say goodbye in their protocol. Whatever is still
   * open after `shutdownTimeoutMs` is destroyed and logged. Resolves when every connection is gone.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Run `cleanup` at the end of close(), once every connection is gone (a broker's sockets, say). */
  onClose(cleanup: () => Promise<void> | void): void { this.#onClose.push(cleanup); }

  async #close(): Promise<void> {
    this.events.report({ type: 'shutdown', phase: 'stop accepting', live: this.table.size });
    const listenerClosed = this.#listener.close();
    this.#shutdown.abort();
    for (const record of this.table.records()) record.shutdown();
    const deadline = Date.now() + this.limits.shutdownTimeoutMs;
    while (this.table.size > 0 && Date.now() < deadline) await sleep(20);
    if (this.table.size > 0) {
      this.events.report({ type: 'shutdown', phase: 'deadline passed: destroying remaining connections', live: this.table.size });
      for (const record of this.table.records()) {
        record.noteClose('server', 'shutdown deadline passed');
        record.socket.destroy();
      }
      // 'close' events (which take rows out of the table) come a tick after destroy().
      const grace = Date.now() + 1_000;
      while (this.table.size > 0 && Date.now() < grace) await sleep(5);
    }
    await listenerClosed;
    await this.#loop;
    await this.registry.closeAll();
    for (const cleanup of this.#onClose) await cleanup();
    this.#services.deadlines.stop();
    this.events.report({ type: 'shutdown', phase: 'closed', live: this.table.size });
  }
}

/** Certificate problems are the user's to fix, said before the port is bound. */
function frontDoorTlsOf(options: ServerTlsOptions): FrontDoorTls {
  const pem = (value: string | Uint8Array): string | Buffer => (typeof value === 'string' ? value : Buffer.from(value));
  try {
    return {
      secureContext: createSecureContext({ cert: pem(options.cert), key: pem(options.key) }),
      // RFC 7301 §3.2: the server picks; h2 first, as every HTTP/2 server does, http/1.1 for the rest.
      alpnProtocols: options.alpnProtocols ?? ['h2', 'http/1.1'],
    };
  } catch (error) {
    throw new UsageError('ERR_BAD_TLS_CONFIG', `cannot use the TLS certificate and key: ${(error as Error).message}`);
  }
}

/** A capture file that cannot be written is the user's to fix, said at start (exit 2), not at the first packet. */
function openCapture(path: string, maxBytes: number, address: { address: string; port: number }): CaptureFile {
  try {
    return new CaptureFile(path, { maxBytes, comment: `switchyard on ${address.address}:${address.port}, started ${new Date().toISOString()}` });
  } catch (error) {
    throw new UsageError('ERR_BAD_CAPTURE', `cannot write the capture file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

function openKeylog(path: string): WriteStream {
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o600);
  } catch (error) {
    throw new UsageError('ERR_BAD_KEYLOG', `cannot write the TLS key log ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const stream = createWriteStream(path, { fd, flags: 'a' });
  // A key log that stops being writable must not take the server down; the capture is a side show.
  stream.on('error', () => { try { closeSync(fd); } catch { /* already closed */ } });
  return stream;
}

type TrackedSocket = Socket & { [kConnectionRecord]: ConnectionRecord };

function onTrackedSocketError(this: TrackedSocket, error: NodeJS.ErrnoException): void {
  // node:http2 destroys the socket with its session's error when nghttp2 cuts a peer off (a flood, a
  // protocol violation): the server closed that connection, for what the client sent.
  if (error.code?.startsWith('ERR_HTTP2') === true) this[kConnectionRecord].noteClose('server', `HTTP/2: ${error.message}`);
  else this[kConnectionRecord].noteClose('client', error.code === 'ECONNRESET' ? 'connection reset by peer' : `socket error: ${error.message}`);
}

function onTrackedSocketClose(this: TrackedSocket, hadError: boolean): void {
  this[kConnectionRecord].markClosed(Date.now(), hadError);
}

/** 503 for a connection over the limit, without reading its request, then close (never a silent hang). */
function refuse(socket: Socket, reason: string): void {
  const body = `503 Service Unavailable\n${reason}\n`;
  socket.on('error', () => {});
  socket.end(`HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.resume();
  setTimeout(() => socket.destroy(), 2_000).unref();
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const startServer = (options?: ServerOptions): Promise<SwitchyardServer> => SwitchyardServer.start(options);
