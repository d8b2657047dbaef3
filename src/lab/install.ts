import type { ChatRoom } from '../protocols/chat/room.js';
import type { WebSocketEndpoint } from '../protocols/websocket/plugin.js';
import type { SwitchyardServer } from '../server/server.js';

/**
 * The lab's own pages and feeds (dashboard, event stream). Called once the server is listening.
 * Returns extra WebSocket endpoints the lab needs (e.g. `/_lab/events`) — see `labEndpoints`.
 */
export function installLab(_server: SwitchyardServer, _room: ChatRoom): void {}

/** WebSocket endpoints the lab adds besides /echo and /chat. */
export function labEndpoints(_getServer: () => SwitchyardServer): Record<string, WebSocketEndpoint> {
  return {};
}
