import type { ChatRoom } from './chat/room.js';
import type { ProtocolHandler } from '../registry/plugin.js';

/** Options for the experimental protocols (`tcp` tunnel, `TLS/1.0`, `lab-chat/1`). */
export interface ExperimentalOptions {}

/** The experimental protocols the lab registers next to `websocket` and `echo`. */
export function experimentalProtocols(_options: ExperimentalOptions, _room: ChatRoom): ProtocolHandler<any>[] {
  return [];
}
