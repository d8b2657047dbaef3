/**
 * A chat room shared by every protocol that speaks chat: WebSocket `/chat` and the line-based
 * `lab-chat/1` join the same room, so a browser and a raw TCP client talk to each other. The room knows
 * members only through this small interface, not their protocol.
 *
 * Backpressure: broadcasting never waits for a slow member. Each member reports how many bytes it has
 * queued; one over `outboundQueueBytes` is removed and told why (WebSocket close 1013 "try again later"),
 * so one stalled reader cannot grow the server's memory or slow everyone else.
 *
 * Beyond this process: with a broker (the other workers of a cluster, or Redis) every message is also
 * published for the other instances' members, and theirs are delivered here like local ones.
 */
import type { BrokerStatus, RoomBroker } from '../../registry/broker/room-broker.js';

export interface RoomMember {
  /** Shown to the others, e.g. the member's 5-tuple. */
  readonly name: string;
  deliver(message: ChatMessage): void;
  /** Bytes accepted for this member but not yet sent. */
  readonly queuedBytes: number;
  /** Remove the member for falling too far behind. */
  evict(reason: string): void;
}

export interface ChatMessage {
  readonly from: string;
  readonly text: string;
  readonly time: number;
}

export interface ChatRoomOptions {
  readonly broker?: RoomBroker;
  /** The room's name on the broker (default `chat`). */
  readonly name?: string;
}

export class ChatRoom {
  readonly #members = new Set<RoomMember>();
  readonly #maxQueuedBytes: number;
  readonly #broker: RoomBroker | undefined;
  readonly #name: string;
  readonly #unsubscribe: (() => void) | undefined;

  constructor(maxQueuedBytes: number, options: ChatRoomOptions = {}) {
    this.#maxQueuedBytes = maxQueuedBytes;
    this.#broker = options.broker;
    this.#name = options.name ?? 'chat';
    this.#unsubscribe = this.#broker?.subscribe(this.#name, (message) => this.#deliver(undefined, message));
  }

  /** The broker's state, when the room spans instances. */
  brokerStatus(): BrokerStatus | undefined { return this.#broker?.status(); }

  /** Stop hearing other instances (the broker itself belongs to whoever made it). */
  close(): void { this.#unsubscribe?.(); }

  get size(): number { return this.#members.size; }
  names(): string[] { return [...this.#members].map((m) => m.name); }

  join(member: RoomMember): () => void {
    this.#members.add(member);
    return () => { this.#members.delete(member); };
  }

  /** Deliver to every member except the sender, here and, through the broker, on the other instances. */
  broadcast(from: RoomMember, text: string): void {
    const message: ChatMessage = { from: from.name, text, time: Date.now() };
    this.#deliver(from, message);
    this.#broker?.publish(this.#name, message);
  }

  #deliver(from: RoomMember | undefined, message: ChatMessage): void {
    for (const member of this.#members) {
      if (member === from) continue;
      if (member.queuedBytes > this.#maxQueuedBytes) {
        this.#members.delete(member);
        member.evict(`fell more than ${this.#maxQueuedBytes} bytes behind`);
        continue;
      }
      member.deliver(message);
    }
  }
}
