import { createServer, type Server, type Socket } from 'node:net';

/**
 * `listen()` and `accept()` made visible. The kernel owns the listening socket and completes TCP
 * handshakes into its backlog; Node's libuv calls accept() and hands us each new connected socket. We
 * queue those sockets and give them out through an async iterator, so the server reads as
 *
 *   for await (const socket of listener) admit(socket);
 *
 * The listening socket never carries data and never changes: every accepted socket is a new one.
 * `pauseOnConnect` means nothing is read from a socket until the loop has admitted it; `allowHalfOpen`
 * lets us answer a client that sent its request and then its FIN, and lets tunnels forward half-closes.
 */
export interface ListenOptions {
  host?: string;
  port?: number;
  /** Length of the kernel's queue of completed handshakes not yet accepted (listen(2)'s backlog). */
  backlog?: number;
}

export interface AcceptError {
  error: NodeJS.ErrnoException;
}

export class Listener implements AsyncIterable<Socket> {
  readonly #server: Server;
  #queue: Socket[] = [];
  #waiting: ((result: IteratorResult<Socket>) => void) | undefined;
  #closed = false;
  #onAcceptError: (error: NodeJS.ErrnoException) => void;

  private constructor(server: Server, onAcceptError: (error: NodeJS.ErrnoException) => void) {
    this.#server = server;
    this.#onAcceptError = onAcceptError;
    server.on('connection', (socket: Socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      const waiting = this.#waiting;
      if (waiting) {
        this.#waiting = undefined;
        waiting({ value: socket, done: false });
      } else {
        this.#queue.push(socket);
      }
    });
    // After listen() succeeded, an 'error' comes from accept() (EMFILE, ENFILE, ECONNABORTED...): the
    // listening socket itself is fine, so report it and keep accepting; libuv retries on its own.
    server.on('error', (error: NodeJS.ErrnoException) => this.#onAcceptError(error));
  }

  /** Bind and listen; rejects with the system error (EADDRINUSE, EACCES, ...) if the port can't be had. */
  static listen(options: ListenOptions = {}, onAcceptError: (error: NodeJS.ErrnoException) => void = () => {}): Promise<Listener> {
    const server = createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true });
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => reject(error);
      server.once('error', fail);
      server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, backlog: options.backlog ?? 511 }, () => {
        server.off('error', fail);
        resolve(new Listener(server, onAcceptError));
      });
    });
  }

  /** The bound address; with port 0 the kernel picked an ephemeral port, reported here. */
  get address(): { address: string; port: number; family: string } {
    const bound = this.#server.address();
    if (bound === null || typeof bound === 'string') throw new Error('listener is not bound to a TCP address');
    return bound;
  }

  get closed(): boolean { return this.#closed; }

  [Symbol.asyncIterator](): AsyncIterator<Socket> {
    return {
      next: () => {
        const queued = this.#queue.shift();
        if (queued) return Promise.resolve({ value: queued, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => { this.#waiting = resolve; });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** Stop accepting: the port is released; already accepted sockets are not touched. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
