/**
 * node:http2 hands a socket that has a native handle straight to nghttp2: its bytes then never pass
 * through JavaScript, so the tap (socket-tap.ts) would see nothing after the preface. With a capture
 * running, the session gets this plain Duplex over the socket instead; node wraps it like any JS stream,
 * and every byte crosses the socket's own push and write, where the tap sees it. It costs a copy-free
 * hop per chunk, paid only while capturing (docs/performance.md has the figure).
 */
import { Duplex } from 'node:stream';

export function bridgeForTap(socket: Duplex): Duplex {
  const bridge = new Duplex({
    read() { socket.resume(); },
    write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void) { socket.write(chunk, encoding, callback); },
    final(callback: (error?: Error | null) => void) { socket.end(); callback(); },
    destroy(error: Error | null, callback: (error?: Error | null) => void) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  socket.on('data', (chunk: Buffer) => { if (!bridge.push(chunk)) socket.pause(); });
  socket.once('end', () => bridge.push(null));
  socket.once('close', () => bridge.destroy());
  socket.on('error', (error: Error) => bridge.destroy(error));
  return bridge;
}
