import { formatEndpoint } from '../../accept-loop/five-tuple.js';
import type { ChatRoom, RoomMember } from '../chat/room.js';
import type { WebSocketEndpoint } from './plugin.js';
import { WebSocket, type BinaryStream } from './session.js';

/**
 * `/echo`: text comes back as text, binary as binary. When the peer is not reading our echoes (`send`
 * returns false: the socket's buffer is past its high-water mark) we stop reading its messages until the
 * socket drains, so what we hold for it stays bounded by the high-water mark plus what one read brought
 * in (at most one 64 KiB read of small messages, or one message) — TCP's own flow control then makes the
 * peer wait. Keepalive pings are off here: an echo peer sees exactly its own traffic and nothing else.
 */
export function echoEndpoint(): WebSocketEndpoint {
  return {
    onConnection(ws: WebSocket) {
      ws.on('message', echoMessage);
      ws.binaryStream = ECHO_STREAM;
    },
  };
}

/**
 * Binary messages are echoed frame by frame as they arrive, each piece written as soon as it is read: a
 * message larger than one socket read is then never joined (a copy and an allocation the size of the
 * message), and the peer sees the same frames it sent. Text still goes through `message`, since it must
 * be validated whole before a byte of it is echoed (RFC 6455 §8.1).
 */
const ECHO_STREAM: BinaryStream = {
  frame(ws, length, _first, fin, data) {
    // Both calls run, whatever the first returns: a frame once begun must be completed (§5.4).
    const started = ws.sendFrameStart(length, fin);
    if (!ws.sendFramePiece(data) || !started) stallEcho(ws);
  },
  piece(ws, data) {
    if (!ws.sendFramePiece(data)) stallEcho(ws);
  },
};

// Module-level listeners (an emitter calls them with itself as `this`): an idle echo connection then
// costs no closure. "Waiting for drain" is the socket being paused by us, so it needs no flag either.
function echoMessage(this: WebSocket, data: string | Uint8Array): void {
  if (!this.send(data)) stallEcho(this);
}

function stallEcho(ws: WebSocket): void {
  if (ws.readyState !== WebSocket.OPEN || ws.socket.isPaused()) return;
  // One drain listener per stall, not one per message: a read can carry hundreds of small messages.
  ws.socket.pause();
  ws.once('drain', resumeEcho);
}

function resumeEcho(this: WebSocket): void {
  this.socket.resume();
}

/**
 * `/chat`: a room. Subprotocol `chat` forwards each message's text as is; `superchat` wraps it as JSON
 * `{"from": "<client address:port>", "text": "...", "time": ms}` so a richer client can show the sender.
 */
export function chatEndpoint(room: ChatRoom, pingIntervalMs = 30_000): WebSocketEndpoint {
  return {
    protocols: ['chat', 'superchat'],
    // A member whose machine vanished without a FIN would stay in the room, and its queue would fill until
    // eviction; pings find it within two intervals (one ping unanswered by the next one).
    pingIntervalMs,
    onConnection(ws, ctx) {
      const name = formatEndpoint(ctx.fiveTuple.remoteAddress, ctx.fiveTuple.remotePort);
      const member: RoomMember = {
        name,
        get queuedBytes() { return ws.bufferedAmount; },
        deliver(message) {
          ws.send(ws.protocol === 'superchat' ? JSON.stringify(message) : message.text);
        },
        // RFC 6455 §7.4.1: 1013 "Try Again Later" — the server is overloaded for this client.
        evict(reason) { ws.close(1013, reason.slice(0, 120)); },
      };
      const leave = room.join(member);
      ws.on('message', (data, isBinary) => {
        if (!isBinary) room.broadcast(member, data as string);
      });
      ws.on('close', leave);
    },
  };
}
