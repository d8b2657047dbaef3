/**
 * A raw client for plugin tests: it writes exactly the bytes it is given (the upgrade request and, in the
 * same write, the protocol's first bytes), parses only the response head, and keeps every byte that came
 * after it. Every wait takes a timeout and rejects when it passes, so a test that waits for a protocol
 * that never answers fails with what was received instead of hanging.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface UpgradeRequestOptions {
  /** Request path (default `/`). */
  readonly path?: string;
  /** Extra header fields, e.g. `[['Sec-WebSocket-Version', '13']]`. */
  readonly headers?: readonly (readonly [string, string])[];
  /** Request method (default `GET`). */
  readonly method?: string;
}

export interface OpenUpgradedOptions extends UpgradeRequestOptions {
  /** Bytes sent in the same write as the request: the protocol's first bytes. */
  readonly early?: string | Uint8Array;
  /** Host to connect to (default 127.0.0.1). */
  readonly host?: string;
  /** How long to wait for the response head (default 3000 ms). */
  readonly timeoutMs?: number;
}

/** `GET / HTTP/1.1` with `Connection: Upgrade` and `Upgrade: <token>`, as one string of latin1 bytes. */
export function upgradeRequest(token: string, options: UpgradeRequestOptions = {}): string {
  const fields = [['Host', 'switchyard.test'], ['Connection', 'Upgrade'], ['Upgrade', token], ...(options.headers ?? [])];
  return `${options.method ?? 'GET'} ${options.path ?? '/'} HTTP/1.1\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
}

/** The response head the server answered with. */
export interface ResponseHeadSeen {
  readonly status: number;
  /** Lower-cased names; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The head as it came, CRLFs included. */
  readonly raw: string;
}

export class TimeoutError extends Error {
  readonly code = 'ERR_KIT_TIMEOUT';
}

/**
 * One TCP connection to a server. Everything received is kept; `body` is what came after the response
 * head (for a 101, the new protocol's bytes). It answers the server's FIN with its own, as most clients do.
 */
export class UpgradedConnection {
  readonly socket: Socket;
  #chunks: Buffer[] = [];
  #length = 0;
  #ended = false;
  #closed = false;
  #waiters = new Set<() => void>();
  #response: ResponseHeadSeen | undefined;
  #headLength = -1;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      this.#parseHead();
      this.#wake();
    });
    socket.on('end', () => { this.#ended = true; if (!socket.destroyed) socket.end(); this.#wake(); });
    socket.on('close', () => { this.#closed = true; this.#wake(); });
    socket.on('error', () => {});
  }

  static async connect(port: number, host = '127.0.0.1', timeoutMs = 3_000): Promise<UpgradedConnection> {
    const socket = connect({ port, host, allowHalfOpen: true });
    const timer = setTimeout(() => socket.destroy(new TimeoutError(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    try {
      await once(socket, 'connect');
    } finally {
      clearTimeout(timer);
    }
    return new UpgradedConnection(socket);
  }

  /** Every byte received, the response head included. */
  get received(): Buffer { return Buffer.concat(this.#chunks, this.#length); }
  /** The bytes after the response head ('' until the head has come). */
  get body(): Buffer { return this.#headLength < 0 ? Buffer.alloc(0) : this.received.subarray(this.#headLength); }
  get response(): ResponseHeadSeen | undefined { return this.#response; }
  /** The server sent its FIN. */
  get ended(): boolean { return this.#ended; }
  /** The socket is closed both ways. */
  get closed(): boolean { return this.#closed; }
  /** Bytes received so far, head included. */
  get receivedBytes(): number { return this.#length; }
  /** The client's local port: the server's row for this connection has it as its remote port. */
  get localPort(): number { return this.socket.localPort ?? 0; }

  write(data: string | Uint8Array): boolean { return this.socket.write(data); }
  /** Half-close: send our FIN, keep reading. */
  end(): void { this.socket.end(); }
  destroy(): void { this.socket.destroy(); }

  /** Resolve once `predicate` holds for the received bytes; reject after `ms` or when the connection closes first. */
  async waitFor(predicate: (received: Buffer) => boolean, ms: number, what = 'a condition'): Promise<Buffer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const received = this.received;
      if (predicate(received)) return received;
      if (this.#closed) throw new Error(`the connection closed before ${what}; received ${preview(received)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(`no ${what} within ${ms} ms; received ${preview(received)}`);
      await this.#sleep(left);
    }
  }

  /** Wait for the response head. */
  async waitForResponse(ms = 3_000): Promise<ResponseHeadSeen> {
    await this.waitFor(() => this.#response !== undefined, ms, 'response head');
    return this.#response!;
  }

  /** Wait until the server has sent its FIN or the connection closed; resolves false on timeout (never rejects). */
  async waitForEnd(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.#ended && !this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.#sleep(left);
    }
    return true;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => { clearTimeout(timer); this.#waiters.delete(wake); resolve(); };
      const timer = setTimeout(wake, ms);
      this.#waiters.add(wake);
    });
  }

  #parseHead(): void {
    if (this.#response !== undefined) return;
    const text = this.received.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end === -1) return;
    const lines = text.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    this.#headLength = end + 4;
    this.#response = { status: Number(lines[0]!.split(' ')[1]), headers, raw: text.slice(0, end + 4) };
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/**
 * Connect, send the upgrade request for `token` with `options.early` in the same write, and wait for the
 * response head. Resolves with the connection whatever the status (check `response.status`); rejects
 * only when no head came within the timeout.
 */
export async function openUpgraded(port: number, token: string, options: OpenUpgradedOptions = {}): Promise<UpgradedConnection> {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const connection = await UpgradedConnection.connect(port, options.host, timeoutMs);
  const request = Buffer.from(upgradeRequest(token, options), 'latin1');
  const early = options.early === undefined ? Buffer.alloc(0) : typeof options.early === 'string' ? Buffer.from(options.early) : Buffer.from(options.early);
  connection.write(Buffer.concat([request, early]));
  try {
    await connection.waitForResponse(timeoutMs);
  } catch (error) {
    connection.destroy();
    throw error;
  }
  return connection;
}

/**
 * Wait until the bytes received after the response head, from `from` on, satisfy `until` (a string they
 * must contain, a byte count, or a predicate); returns those bytes. Rejects with what was received when
 * `ms` pass first or the connection closes.
 */
export async function readWithTimeout(
  connection: UpgradedConnection,
  until: string | number | ((bytes: Buffer) => boolean),
  ms = 3_000,
  from = 0,
): Promise<Buffer> {
  const test = typeof until === 'string'
    ? (bytes: Buffer) => bytes.includes(until)
    : typeof until === 'number' ? (bytes: Buffer) => bytes.length >= until : until;
  const what = typeof until === 'string' ? JSON.stringify(until) : typeof until === 'number' ? `${until} bytes` : 'the expected bytes';
  try {
    await connection.waitFor(() => test(connection.body.subarray(from)), ms, what);
  } catch (error) {
    // Say what came after the response head: the protocol's bytes, which is what the caller waits on.
    const seen = preview(connection.body.subarray(from));
    if (error instanceof TimeoutError) throw new TimeoutError(`no ${what} within ${ms} ms; received ${seen}`);
    throw new Error(`the connection closed before ${what}; received ${seen}`);
  }
  return connection.body.subarray(from);
}

function preview(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  return text.length === 0 ? 'nothing' : JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text) + ` (${bytes.length} B)`;
}
