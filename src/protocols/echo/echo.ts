import type { ProtocolHandler, TakeoverContext } from '../../registry/plugin.js';

/**
 * The smallest possible Upgrade protocol: after the 101, every byte comes back unchanged until the client
 * closes its side, then we close ours. It proves the handover: the bytes that came in the same write as
 * the request (`ctx.head`) are echoed first, nothing lost, nothing doubled. Reading pauses while the peer
 * is not reading our echoes, so a client that never reads cannot make us buffer without bound.
 */
export const echoProtocol: ProtocolHandler = {
  token: 'echo',
  description: 'every byte sent after the 101 comes back unchanged',
  takeover(ctx: TakeoverContext): Promise<void> {
    const { socket, head, signal } = ctx;
    return new Promise((resolve) => {
      const echo = (chunk: Uint8Array): void => {
        ctx.emit({ kind: 'bytes', detail: `${chunk.length} B echoed`, direction: 'in' });
        if (!socket.write(chunk)) socket.pause();
      };
      socket.on('drain', () => socket.resume());
      socket.on('data', echo);
      socket.on('end', () => socket.end());
      socket.on('close', () => resolve());
      socket.on('error', () => socket.destroy());
      const stop = (): void => { socket.end(); };
      if (signal.aborted) stop(); else signal.addEventListener('abort', stop, { once: true });
      socket.once('close', () => signal.removeEventListener('abort', stop));
      if (head.length > 0) echo(head);
      if (!(socket as { writableNeedDrain?: boolean }).writableNeedDrain) socket.resume();
    });
  },
};
