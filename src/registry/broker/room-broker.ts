/**
 * What carries a room's messages beyond this process: the other workers of a `--workers` cluster (over
 * the primary's IPC) or other machines (Redis pub/sub, `--broker redis://...`). A room delivers to its
 * local members itself and hands each message to its broker, which brings the other instances' messages
 * back. A broker never queues without bound: while it cannot reach the others it counts what it could
 * not send as dropped, and local delivery goes on.
 */
import type { ChatMessage } from '../../protocols/chat/room.js';

export interface BrokerStatus {
  /** `redis` or `cluster`. */
  readonly kind: string;
  /** Where it connects, e.g. `redis://127.0.0.1:6379/0`, or `primary` for the cluster. */
  readonly target: string;
  /** Whether messages published now can reach the other instances. */
  readonly connected: boolean;
  /** Messages published by this instance and sent on. */
  readonly published: number;
  /** Messages from other instances delivered here. */
  readonly received: number;
  /** Messages this instance could not send on (the broker was unreachable). */
  readonly dropped: number;
  /** Why it is not connected, when it is not. */
  readonly lastError?: string;
}

export interface RoomBroker {
  /** Send `message`, already delivered to this instance's members, to the other instances' `room`. */
  publish(room: string, message: ChatMessage): void;
  /** Messages other instances published to `room` (never this instance's own); returns unsubscribe. */
  subscribe(room: string, deliver: (message: ChatMessage) => void): () => void;
  status(): BrokerStatus;
  close(): Promise<void>;
}
