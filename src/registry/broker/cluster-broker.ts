/**
 * Rooms across the workers of one `--workers` cluster: each message goes to the primary over IPC, which
 * passes it to every other worker (never back to its sender). No Redis needed on one machine.
 */
import type { ClusterWorker } from '../../accept-loop/cluster-worker.js';
import type { ChatMessage } from '../../protocols/chat/room.js';
import type { BrokerStatus, RoomBroker } from './room-broker.js';

export class ClusterBroker implements RoomBroker {
  readonly #worker: ClusterWorker;
  readonly #rooms = new Map<string, Set<(message: ChatMessage) => void>>();
  readonly #stopListening: () => void;
  #published = 0;
  #received = 0;
  #dropped = 0;

  constructor(worker: ClusterWorker) {
    this.#worker = worker;
    this.#stopListening = worker.onRoom((room, message) => {
      const handlers = this.#rooms.get(room);
      if (handlers === undefined) return;
      this.#received++;
      for (const deliver of handlers) deliver(message);
    });
  }

  publish(room: string, message: ChatMessage): void {
    if (this.#worker.sendRoom(room, message)) this.#published++; else this.#dropped++;
  }

  subscribe(room: string, deliver: (message: ChatMessage) => void): () => void {
    let handlers = this.#rooms.get(room);
    if (handlers === undefined) this.#rooms.set(room, (handlers = new Set()));
    handlers.add(deliver);
    return () => { handlers.delete(deliver); };
  }

  status(): BrokerStatus {
    return {
      kind: 'cluster', target: 'primary', connected: this.#worker.connected,
      published: this.#published, received: this.#received, dropped: this.#dropped,
      ...(this.#worker.connected ? {} : { lastError: 'the IPC channel to the primary is closed' }),
    };
  }

  async close(): Promise<void> {
    this.#stopListening();
    this.#rooms.clear();
  }
}
