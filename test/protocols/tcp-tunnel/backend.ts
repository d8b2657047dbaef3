import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

/** A TCP service on 127.0.0.1:0 for tunnel tests: counts every connection it accepts. */
export class Backend {
  readonly #server: Server;
  readonly sockets: Socket[] = [];

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(onConnection: (socket: Socket) => void = () => {}, options: { pauseOnConnect?: boolean } = {}): Promise<Backend> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: options.pauseOnConnect ?? false });
    const backend = new Backend(server);
    server.on('connection', (socket) => {
      backend.sockets.push(socket);
      socket.on('error', () => {});
      onConnection(socket);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return backend;
  }

  get port(): number { return (this.#server.address() as { port: number }).port; }
  get connections(): number { return this.sockets.length; }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Writes a banner, echoes every byte, and on the client's FIN says "bye" and ends. */
export const bannerEcho = (socket: Socket): void => {
  socket.write('banner\n');
  socket.on('data', (chunk: Buffer) => socket.write(chunk));
  socket.on('end', () => socket.end('bye\n'));
};

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
