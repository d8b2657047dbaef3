import type { Duplex } from 'node:stream';

/**
 * Close a connection whose last bytes have been written and from which nothing more is expected (a
 * clean `Connection: close` response; the server's end of a WebSocket closing handshake).
 *
 * When the kernel already has everything (`writableLength === 0`: small writes complete synchronously),
 * close(2) sends it and then the FIN, so `end()` — a shutdown(2) and the stream's end/finish round — is
 * pure cost, about a tenth of a `Connection: close` request. Otherwise, and always over TLS (whose `end()`
 * also sends the close_notify alert), end first and destroy once the last bytes are flushed.
 */
export function closeWhenFlushed(socket: Duplex): void {
  if (socket.destroyed) return;
  if (socket.writableFinished || (socket.writableLength === 0 && (socket as { encrypted?: boolean }).encrypted !== true)) {
    socket.destroy();
    return;
  }
  if (!socket.writableEnded) socket.end();
  socket.once('finish', () => socket.destroy());
}
