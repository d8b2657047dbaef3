/**
 * The dashboard's live feed, `/_lab/events`: every loop event as JSON over a WebSocket on the lab's own
 * port. How it works:
 *
 * - One subscription to `server.events` serves every open feed, and only while at least one is open, so a
 *   lab nobody watches builds no event objects. Events are collected for one turn of the event loop and
 *   serialised once into an `events` message shared by all feeds (a full batch is flushed at once).
 * - Feedback: sending a message on a feed writes a frame, and the WebSocket session reports each frame as
 *   a `protocol` event. Streamed, that event would be sent as another frame, which would be reported
 *   again — on every feed, so two dashboards would bounce frames between them without end. Frame events
 *   of feed connections are therefore never streamed; their accept, request, 101 and close still are.
 * - Backpressure: a feed whose socket holds more than `budgetBytes` unsent stops receiving events and
 *   counts what it misses. Once it has drained to half the budget it gets a `gap` message with the count
 *   and a fresh snapshot, then live events again. Memory per feed stays under the budget plus one message,
 *   and no event vanishes silently: each is either delivered or counted in a gap.
 */
import type { BrokerStatus } from '../registry/broker/room-broker.js';
import type { ConnectionRecord } from '../accept-loop/connection-table.js';
import { fiveTupleKey } from '../accept-loop/five-tuple.js';
import type { LabEvent } from '../accept-loop/lab-events.js';
import { StreamRecord } from '../accept-loop/stream-record.js';
import type { TakeoverContext } from '../registry/plugin.js';
import type { WebSocketState } from '../protocols/websocket/plugin.js';
import type { WebSocket } from '../protocols/websocket/session.js';
import type { SwitchyardServer } from '../server/server.js';
import { type ConnectionRow, type FeedMessage, identityOf } from './feed-messages.js';

export interface EventFeedOptions {
  /** Unsent bytes one dashboard may hold before its events are dropped. The lab uses `limits.outboundQueueBytes`. */
  readonly budgetBytes?: number;
  /** How often each feed gets a fresh snapshot (byte counts and ages change without events). */
  readonly snapshotIntervalMs?: number;
  /** Rows in one snapshot: the feed's own row plus the newest others. Bounds each message. */
  readonly maxSnapshotRows?: number;
  /** Events in one `events` message. Bounds each message; a full batch is sent at once. */
  readonly maxBatchEvents?: number;
}

const DEFAULTS = { snapshotIntervalMs: 1_000, maxSnapshotRows: 500, maxBatchEvents: 256 } as const;

export class EventFeed {
  readonly #getServer: () => SwitchyardServer;
  readonly #options: EventFeedOptions;
  readonly #brokerStatus: () => BrokerStatus | undefined;
  readonly #subscribers = new Set<Subscriber>();
  /** 5-tuples of open feed connections, whose frame events are never streamed (see the top of this file). */
  readonly #feedKeys = new Set<string>();
  #batch: LabEvent[] = [];
  #flushScheduled = false;
  #unsubscribe: (() => void) | undefined;
  #ticker: NodeJS.Timeout | undefined;

  readonly #otherRows: () => readonly ConnectionRow[];

  /**
   * `brokerStatus`: whether the chat room reaches other instances (a cluster's workers, Redis).
   * `otherRows`: the other workers' rows of a `--workers` cluster, added to each snapshot (their events
   * are not streamed here: each worker reports its own; their rows refresh with every snapshot).
   */
  constructor(
    getServer: () => SwitchyardServer, options: EventFeedOptions = {},
    brokerStatus: () => BrokerStatus | undefined = () => undefined, otherRows: () => readonly ConnectionRow[] = () => [],
  ) {
    this.#getServer = getServer;
    this.#options = options;
    this.#brokerStatus = brokerStatus;
    this.#otherRows = otherRows;
  }

  get size(): number { return this.#subscribers.size; }

  /** A dashboard connected: say hello, send a snapshot, then stream. */
  join(ws: WebSocket, ctx: TakeoverContext<WebSocketState>): void {
    const server = this.#getServer();
    const key = fiveTupleKey(ctx.fiveTuple);
    const record = server.table.get(key);
    // Over HTTP/2 (RFC 8441) the feed is one stream of a connection that carries others (the page, the
    // chat): only this stream's frames are left out, keyed by 5-tuple and stream id.
    const stream = ctx.hooks instanceof StreamRecord ? ctx.hooks.id : undefined;
    const feedKey = stream === undefined ? key : `${key}#${stream}`;
    const subscriber = new Subscriber(ws, this.#options.budgetBytes ?? server.limits.outboundQueueBytes, () => this.#snapshot(record));
    // Events collected so far happened before this feed's snapshot: they go to the feeds already open,
    // so the new one starts from its snapshot and sees only what changes after it.
    this.#flush();
    this.#feedKeys.add(feedKey);
    this.#subscribers.add(subscriber);
    if (this.#subscribers.size === 1) this.#start(server);
    ws.on('close', () => {
      this.#subscribers.delete(subscriber);
      this.#feedKeys.delete(feedKey);
      if (this.#subscribers.size === 0) this.#stop();
    });
    // The feed only talks: RFC 6455 §7.4.1, 1008 — the message violates this endpoint's policy.
    ws.on('message', () => ws.close(1008, 'the event feed is read-only'));
    if (record) subscriber.send({ type: 'hello', time: Date.now(), self: identityOf(record, stream), server: { address: server.host, port: server.port } });
    subscriber.send(this.#snapshot(record));
  }

  #start(server: SwitchyardServer): void {
    this.#unsubscribe = server.events.subscribe((event) => this.#receive(event));
    this.#ticker = setInterval(() => { for (const subscriber of this.#subscribers) subscriber.tick(); }, this.#options.snapshotIntervalMs ?? DEFAULTS.snapshotIntervalMs);
    this.#ticker.unref();
  }

  #stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#batch = [];
  }

  #receive(event: LabEvent): void {
    if (event.type === 'protocol' && this.#feedKeys.has(event.stream === undefined ? event.fiveTuple : `${event.fiveTuple}#${event.stream}`)) return;
    this.#batch.push(event);
    if (this.#batch.length >= (this.#options.maxBatchEvents ?? DEFAULTS.maxBatchEvents)) {
      this.#flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => { this.#flushScheduled = false; this.#flush(); });
    }
  }

  #flush(): void {
    const events = this.#batch;
    if (events.length === 0) return;
    this.#batch = [];
    const message: FeedMessage = { type: 'events', time: Date.now(), events };
    const text = JSON.stringify(message);
    for (const subscriber of this.#subscribers) subscriber.offer(text, events.length);
  }

  #snapshot(self: ConnectionRecord | undefined): FeedMessage {
    const server = this.#getServer();
    const now = Date.now();
    const max = Math.max(1, this.#options.maxSnapshotRows ?? DEFAULTS.maxSnapshotRows);
    const records = [...server.table.records()];
    let chosen = records.length > max ? records.slice(-max) : records;
    if (self && records.length > max && !chosen.includes(self) && server.table.get(self.key) === self) chosen = [self, ...chosen.slice(1)];
    const connections: ConnectionRow[] = chosen.map((r) => (r === self ? { ...r.toJSON(now), self: true } : r.toJSON(now)));
    const others = this.#otherRows().slice(-max);
    const broker = this.#brokerStatus();
    return {
      type: 'snapshot', time: now, total: records.length + others.length, connections: others.length === 0 ? connections : [...connections, ...others],
      protocols: server.registry.list(), ...(broker === undefined ? {} : { broker }),
    };
  }
}

/** One open feed: its socket, its budget, and how many events it missed while it was behind. */
class Subscriber {
  readonly #ws: WebSocket;
  readonly #budget: number;
  readonly #snapshot: () => FeedMessage;
  #behind = false;
  #dropped = 0;

  constructor(ws: WebSocket, budgetBytes: number, snapshot: () => FeedMessage) {
    this.#ws = ws;
    this.#budget = Math.max(1, budgetBytes);
    this.#snapshot = snapshot;
    ws.on('drain', () => this.#recover());
  }

  send(message: FeedMessage): void { this.#ws.send(JSON.stringify(message)); }

  /** A batch of `count` events, already serialised: sent, or counted as dropped while this feed is behind. */
  offer(text: string, count: number): void {
    if (this.#isBehind()) { this.#dropped += count; return; }
    if (this.#dropped > 0) this.#resync();
    this.#ws.send(text);
  }

  /** Once per snapshot interval: a fresh table when the feed keeps up; the gap notice when it caught up. */
  tick(): void {
    if (this.#isBehind()) return;
    if (this.#dropped > 0) this.#resync(); else this.send(this.#snapshot());
  }

  #recover(): void {
    if (!this.#isBehind() && this.#dropped > 0) this.#resync();
  }

  /** Hysteresis: behind from the budget up, caught up again at half of it, so a feed near the line does not flap. */
  #isBehind(): boolean {
    const queued = this.#ws.bufferedAmount;
    if (!this.#behind && queued >= this.#budget) this.#behind = true;
    else if (this.#behind && queued <= this.#budget / 2) this.#behind = false;
    return this.#behind;
  }

  #resync(): void {
    const dropped = this.#dropped;
    this.#dropped = 0;
    this.send({ type: 'gap', time: Date.now(), dropped });
    this.send(this.#snapshot());
  }
}
