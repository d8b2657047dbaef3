import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { computeAcceptKey } from '../../src/protocols/websocket/accept-key.js';

/**
 * A server that is not switchyard: plain node:net, reading one request head and handing it to a script
 * that writes whatever bytes the test wants. The CLI clients must work against any server, and some
 * answers (a wrong accept, a 101 glued to data, a reset) are ones switchyard itself never gives.
 */
export interface ForeignServer {
  readonly port: number;
  /** Every request head received, as text. */
  readonly heads: string[];
  close(): Promise<void>;
}

export type Script = (head: string, socket: Socket) => void;

const MAX_HEAD = 16 * 1024;

export async function foreignServer(script: Script): Promise<ForeignServer> {
  const sockets = new Set<Socket>();
  const heads: string[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) {
        if (text.length > MAX_HEAD) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      const head = text.slice(0, end + 4);
      heads.push(head);
      const rest = text.slice(end + 4);
      if (rest.length > 0) socket.unshift(Buffer.from(rest, 'latin1'));
      // The script attaches its listeners synchronously; only then does data flow again.
      script(head, socket);
      socket.resume();
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    heads,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The header value from a request head, case-insensitive; '' when absent. */
export function headerOf(head: string, name: string): string {
  const match = new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*$`, 'im').exec(head);
  return match ? match[1]! : '';
}

/** A valid 101 for the WebSocket request `head` (with `extra` header lines, CRLF-terminated). */
export function webSocket101(head: string, extra = '', accept = computeAcceptKey(headerOf(head, 'Sec-WebSocket-Key'))): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;
}

/** Unmasked server frames (RFC 6455 §5.1: a server never masks), payloads under 126 bytes. */
export function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

export function closeFrame(code: number, reason = ''): Buffer {
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
  return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
}
