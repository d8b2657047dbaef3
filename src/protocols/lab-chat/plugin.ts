/**
 * `lab-chat/1`: a line-based chat that joins the same room as the WebSocket `/chat`, to show that the
 * room does not care which protocol its members speak — after the 101, a raw TCP client typing lines and
 * a browser sending WebSocket text messages talk to each other.
 *
 * The only lab-chat file that touches a socket: bytes go into the sans-IO LineDecoder, each complete
 * non-empty line is broadcast to the room; messages from the others go out as `msg` lines (wire.ts).
 * Bad input (a line over `maxLineBytes`, invalid UTF-8, a line left unfinished for `lineTimeoutMs`) gets
 * one `error` line and a clean close. A member that stops reading is evicted by the room once its queue
 * passes `limits.outboundQueueBytes`, with `error too-slow`. Server shutdown says `bye` and closes.
 */
import { formatEndpoint } from '../../accept-loop/five-tuple.js';
import { UsageError } from '../../errors.js';
import type { ProtocolHandler, TakeoverContext } from '../../registry/plugin.js';
import type { ChatRoom, RoomMember } from '../chat/room.js';
import { LineDecoder } from './line-decoder.js';
import { encodeBye, encodeError, encodeHello, encodeMessage, ErrorReason, reasonFor, TOKEN } from './wire.js';

export interface LabChatOptions {
  /** Longest line a client may send, in bytes of UTF-8, terminator excluded (default 4096). */
  readonly maxLineBytes?: number;
  /** A line that has begun must end within this many ms (default 60 000): a slow drip cannot hold a buffer. */
  readonly lineTimeoutMs?: number;
  /** After our last line, wait this long for the peer's FIN before dropping the connection (default 2 000). */
  readonly lingerMs?: number;
}

export const LAB_CHAT_DEFAULTS: Readonly<Required<LabChatOptions>> = Object.freeze({ maxLineBytes: 4096, lineTimeoutMs: 60_000, lingerMs: 2_000 });

export function createLabChatProtocol(room: ChatRoom, options: LabChatOptions = {}): ProtocolHandler {
  const settings: Required<LabChatOptions> = {
    maxLineBytes: setting('maxLineBytes', options.maxLineBytes, 1),
    lineTimeoutMs: setting('lineTimeoutMs', options.lineTimeoutMs, 1),
    lingerMs: setting('lingerMs', options.lingerMs, 0),
  };
  return {
    token: TOKEN,
    description: 'line-based chat in the same room as WebSocket /chat',
    // No handshake hook: any path, any client that offered the token joins the room.
    takeover: (ctx) => chatSession(ctx, room, settings),
  };
}

function setting(name: keyof LabChatOptions, value: number | undefined, min: number): number {
  if (value === undefined) return LAB_CHAT_DEFAULTS[name];
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError('ERR_BAD_LAB_CHAT_OPTION', `lab-chat ${name} must be an integer ≥ ${min}, got ${value}`);
  return value;
}

function chatSession(ctx: TakeoverContext, room: ChatRoom, settings: Required<LabChatOptions>): Promise<void> {
  const { socket, signal } = ctx;
  const name = formatEndpoint(ctx.fiveTuple.remoteAddress, ctx.fiveTuple.remotePort);
  const decoder = new LineDecoder(settings.maxLineBytes);
  let closing = false;
  let lineTimer: NodeJS.Timeout | undefined;

  const member: RoomMember = {
    name,
    get queuedBytes() { return socket.writableLength; },
    deliver(message) {
      if (!closing) socket.write(encodeMessage(message.from, message.text));
    },
    evict(reason) {
      ctx.emit({ kind: 'evicted', detail: reason, direction: 'out' });
      finish(encodeError(ErrorReason.TooSlow, reason));
    },
  };

  /** Say the last line, stop taking part, and close once the peer has read it (or after the linger). */
  const finish = (lastLine = ''): void => {
    if (closing) return;
    closing = true;
    leave();
    disarm();
    socket.end(lastLine);
    socket.resume(); // keep draining: unread bytes at close would turn our FIN into a reset
    setTimeout(() => socket.destroy(), settings.lingerMs).unref();
  };

  const disarm = (): void => {
    if (lineTimer) clearTimeout(lineTimer);
    lineTimer = undefined;
  };

  const drain = (): void => {
    while (!closing) {
      const event = decoder.next();
      switch (event.type) {
        case 'line':
          if (event.text.length === 0) continue; // an empty line is nobody's message
          ctx.emit({ kind: 'line', detail: `len=${Buffer.byteLength(event.text)}`, direction: 'in' });
          room.broadcast(member, event.text);
          continue;
        case 'need-data':
          // The clock starts when a line begins and is not reset by more of it: a drip-fed line times out.
          if (decoder.bufferedBytes === 0) disarm();
          else lineTimer ??= setTimeout(() => {
            ctx.emit({ kind: 'error', detail: 'line timeout', direction: 'in' });
            finish(encodeError(ErrorReason.LineTimeout, `a line was not finished within ${settings.lineTimeoutMs} ms`));
          }, settings.lineTimeoutMs).unref();
          return;
        case 'end':
          // The peer is done talking: leave the room and close our side too.
          finish();
          return;
        case 'error':
          ctx.emit({ kind: 'error', detail: `${event.error.code}: ${event.error.message}`, direction: 'in' });
          finish(encodeError(reasonFor(event.error.code), event.error.message));
          return;
      }
    }
  };

  socket.write(encodeHello(name, room.size));
  const leave = room.join(member);
  return new Promise<void>((resolve) => {
    const goodbye = (): void => finish(encodeBye('server shutting down'));
    socket.on('data', (chunk: Buffer) => {
      if (closing) return;
      decoder.receive(chunk);
      drain();
    });
    socket.on('end', () => {
      if (closing) return;
      decoder.receiveEnd();
      drain();
    });
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      leave();
      disarm();
      signal.removeEventListener('abort', goodbye);
      resolve();
    });
    if (signal.aborted) { goodbye(); return; }
    signal.addEventListener('abort', goodbye, { once: true });
    // Bytes that came in the same write as the upgrade request are the first lines.
    if (ctx.head.length > 0) {
      decoder.receive(ctx.head);
      drain();
    }
    if (!closing) socket.resume();
  });
}
