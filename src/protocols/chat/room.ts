/**
 * A chat room shared by every protocol that speaks chat: WebSocket `/chat` and the line-based
 * `lab-chat/1` join the same room, so a browser and a raw TCP client talk to each other. The room knows
 * members only through this small interface, not their protocol.
 *
 * Backpressure: broadcasting never waits for a slow member. Each member reports how many bytes it has
 * queued; one over `outboundQueueBytes` is removed and told why (WebSocket close 1013 "try again later"),
 * so one stalled reader cannot grow the server's memory or slow everyone else.
 */
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

export class ChatRoom {
  readonly #members = new Set<RoomMember>();
  readonly #maxQueuedBytes: number;

  constructor(maxQueuedBytes: number) {
    this.#maxQueuedBytes = maxQueuedBytes;
  }

  get size(): number { return this.#members.size; }
  names(): string[] { return [...this.#members].map((m) => m.name); }

  join(member: RoomMember): () => void {
    this.#members.add(member);
    return () => { this.#members.delete(member); };
  }

  /** Deliver to every member except the sender. */
  broadcast(from: RoomMember, text: string): void {
    const message: ChatMessage = { from: from.name, text, time: Date.now() };
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
