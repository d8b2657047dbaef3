import { once } from 'node:events';
import { createServer } from 'node:net';

/** A port nothing listens on: bound by us on 127.0.0.1 a moment ago, then released. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
