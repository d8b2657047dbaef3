import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/**
 * A deliberately dumb TCP client for tests: it writes exactly the bytes it is given and collects
 * everything that comes back, so a test sees the wire, not a library's interpretation of it.
 */
export class RawClient {
  readonly socket: Socket;
  #received: Buffer[] = [];
  #length = 0;
  #ended = false;
  #closed = false;
  #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => { this.#received.push(chunk); this.#length += chunk.length; this.#wake(); });
    // Like most clients, answer the server's FIN with ours (half-close tests call socket.end() first).
    socket.on('end', () => { this.#ended = true; socket.end(); this.#wake(); });
    socket.on('close', () => { this.#closed = true; this.#wake(); });
    socket.on('error', () => {});
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = connect({ port, host, allowHalfOpen: true });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  /**
   * The same dumb client inside TLS: what it writes and reads is the plaintext, the TLS records are
   * node:tls's business. `options` go to tls.connect (ca, servername, ALPNProtocols, ...); `beforeHandshake`
   * sees the socket first (to listen for 'keylog', which must be in place before the handshake).
   */
  static async openTls(port: number, options: ConnectionOptions = {}, host = '127.0.0.1', beforeHandshake?: (socket: TLSSocket) => void): Promise<RawClient> {
    const socket = tlsConnect({ port, host, allowHalfOpen: true, ...options } as ConnectionOptions);
    beforeHandshake?.(socket);
    await once(socket, 'secureConnect');
    return new RawClient(socket);
  }

  /** The TLS socket, for a client opened with `openTls`. */
  get tls(): TLSSocket { return this.socket as TLSSocket; }

  write(data: string | Uint8Array): void { this.socket.write(data); }
  get received(): Buffer { return Buffer.concat(this.#received, this.#length); }
  get text(): string { return this.received.toString('latin1'); }
  get ended(): boolean { return this.#ended; }
  get closed(): boolean { return this.#closed; }

  /** Resolve once `predicate` holds for what was received, or reject after `ms`. */
  async waitFor(predicate: (text: string) => boolean, ms = 5_000, what = 'condition'): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = this.text;
      if (predicate(text)) return text;
      if (this.#closed && !predicate(text)) throw new Error(`connection closed before ${what}; received ${JSON.stringify(text.slice(0, 500))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(text.slice(0, 500))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.add(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  waitForBytes(count: number, ms = 5_000): Promise<string> {
    return this.waitFor(() => this.#length >= count, ms, `${count} bytes`);
  }

  /** Wait until the server closes (FIN), returning everything received. */
  async waitForEnd(ms = 5_000): Promise<string> {
    return this.waitFor(() => this.#ended || this.#closed, ms, 'the server to close');
  }

  close(): void { this.socket.destroy(); }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

/**
 * Split a byte stream of HTTP/1.1 responses (Content-Length framed, as this server sends them) into
 * responses. `headRequests` marks which ones answer HEAD (no body despite Content-Length).
 */
export function parseResponses(text: string, headRequests: ReadonlySet<number> = new Set()): ParsedResponse[] {
  const responses: ParsedResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const lines = text.slice(at, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const interim = status >= 100 && status < 200;
    const length = interim || headRequests.has(responses.length) ? 0 : Number(headers['content-length'] ?? 0);
    const bodyStart = end + 4;
    if (text.length < bodyStart + length) break;
    responses.push({ status, headers, body: text.slice(bodyStart, bodyStart + length), raw: text.slice(at, bodyStart + length) });
    at = bodyStart + length;
  }
  return responses;
}
