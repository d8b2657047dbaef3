import { connect } from '../../src/protocols/websocket/client.js';
import type { WebSocket } from '../../src/protocols/websocket/session.js';
import type { LabEvent } from '../../src/accept-loop/lab-events.js';
import type { FeedMessage } from '../../src/lab/feed-messages.js';

/** A dashboard stand-in: connects to `/_lab/events` with our client and keeps every message it receives. */
export class FeedClient {
  readonly ws: WebSocket;
  readonly messages: FeedMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  #waiters = new Set<() => void>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => { this.messages.push(JSON.parse(String(data)) as FeedMessage); this.#wake(); });
    ws.on('close', (code, reason) => { this.closed = { code, reason }; this.#wake(); });
  }

  /** `deflate: false` for tests that need the feed's bytes to fill a socket (compressed JSON rarely does). */
  static async open(port: number, path = '/_lab/events', options: { deflate?: boolean } = {}): Promise<FeedClient> {
    return new FeedClient(await connect(`ws://127.0.0.1:${port}${path}`, options));
  }

  /** Every streamed LabEvent so far, in order. */
  get events(): LabEvent[] {
    return this.messages.flatMap((m) => (m.type === 'events' ? m.events : []));
  }

  of<T extends FeedMessage['type']>(type: T): Array<Extract<FeedMessage, { type: T }>> {
    return this.messages.filter((m): m is Extract<FeedMessage, { type: T }> => m.type === type);
  }

  /** Resolve once `predicate` holds, or reject after `ms` (generous: several test files run at once). */
  async waitFor(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; last messages: ${JSON.stringify(this.messages.slice(-3)).slice(0, 800)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.add(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  close(): void { this.ws.close(); }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}
