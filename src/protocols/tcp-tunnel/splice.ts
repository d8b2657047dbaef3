/**
 * Join two connected streams into one tunnel, the way a TCP relay does, with three duties:
 *
 * - Flow control both ways. Bytes read from one side are written to the other; when that write says the
 *   buffer is full (`write` returns false) we stop reading the first side until the second drains. So a
 *   fast sender meets a slow reader's pace through TCP's own window, and the relay holds at most about
 *   one high-water mark per direction, however much either side sends.
 * - Half-close. A FIN from one side becomes our FIN to the other (both sockets allow half-open), and the
 *   other direction keeps flowing until it ends too: `printf 'query' | nc` gets its whole answer.
 * - Failure. An error or an abrupt close on one side resets the other (RST, where the transport allows
 *   it), so neither peer waits on a tunnel whose other end is gone.
 *
 * An idle timeout (no bytes either way) and an abort signal (server shutdown) end both sides with FIN.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';

export interface SpliceOptions {
  /** Bytes from `client` that arrived before the splice (after the 101), sent to `backend` first. */
  readonly head?: Uint8Array;
  /** No byte in either direction for this long ends the tunnel; 0 turns it off. */
  readonly idleTimeoutMs: number;
  /** After ending both sides (idle, shutdown), destroy what is still open after this many ms. */
  readonly lingerMs: number;
  readonly signal?: AbortSignal;
}

export interface SpliceResult {
  /** Bytes carried client → backend (the head included) and backend → client. */
  readonly toBackend: number;
  readonly toClient: number;
  /** Why it ended, for the trace: 'closed', 'idle timeout', 'shutdown', or the first error seen. */
  readonly reason: string;
}

export function splice(client: Duplex, backend: Duplex, options: SpliceOptions): Promise<SpliceResult> {
  return new Promise((resolve) => {
    let toBackend = 0;
    let toClient = 0;
    let reason: string | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    let lingerTimer: NodeJS.Timeout | undefined;
    let open = 2;

    const touch = (): void => {
      if (options.idleTimeoutMs > 0) idleTimer?.refresh();
    };

    const forward = (from: Duplex, to: Duplex, count: (n: number) => void): void => {
      from.on('data', (chunk: Buffer) => {
        count(chunk.length);
        touch();
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => from.resume());
      from.on('end', () => { if (!to.destroyed) to.end(); });
    };

    /** End both sides politely, then make sure they really go. */
    const endBoth = (why: string): void => {
      reason ??= why;
      client.end();
      backend.end();
      lingerTimer ??= setTimeout(() => { client.destroy(); backend.destroy(); }, options.lingerMs);
      lingerTimer.unref();
    };

    const onAbort = (): void => endBoth('shutdown');

    const onClose = (side: Duplex, other: Duplex) => (): void => {
      // A side that closes while the other is still sending to it left nobody to receive: reset.
      if (!other.destroyed && !other.readableEnded) {
        reason ??= `${side === client ? 'client' : 'backend'} closed abruptly`;
        reset(other);
      }
      if (--open === 0) {
        if (idleTimer) clearTimeout(idleTimer);
        if (lingerTimer) clearTimeout(lingerTimer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve({ toBackend, toClient, reason: reason ?? 'closed' });
      }
    };

    const onError = (side: 'client' | 'backend', other: Duplex) => (error: NodeJS.ErrnoException): void => {
      reason ??= `${side} error: ${error.code ?? error.message}`;
      reset(other);
    };

    forward(client, backend, (n) => { toBackend += n; });
    forward(backend, client, (n) => { toClient += n; });
    client.on('error', onError('client', backend));
    backend.on('error', onError('backend', client));
    client.once('close', onClose(client, backend));
    backend.once('close', onClose(backend, client));
    if (options.idleTimeoutMs > 0) {
      idleTimer = setTimeout(() => endBoth('idle timeout'), options.idleTimeoutMs);
      idleTimer.unref();
    }
    if (options.signal?.aborted) endBoth('shutdown');
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.head && options.head.length > 0) {
      toBackend += options.head.length;
      if (!backend.write(options.head)) client.pause();
    }
    if (!(backend as Socket).writableNeedDrain) client.resume();
    backend.resume();
  });
}

/** Abort a stream so its peer notices: a TCP RST for a plain socket, a plain destroy otherwise. */
function reset(stream: Duplex): void {
  if (stream.destroyed) return;
  try {
    if (stream instanceof Socket && !(stream instanceof TLSSocket) && !stream.connecting) {
      stream.resetAndDestroy();
      return;
    }
  } catch {
    // Not a TCP handle after all (a pipe, a wrapped stream): a plain destroy is the best we can do.
  }
  stream.destroy();
}
