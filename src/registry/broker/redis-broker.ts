/**
 * Rooms across machines: every switchyard instance connected to the same Redis shares its rooms, over
 * Redis pub/sub (https://redis.io/docs/latest/develop/interact/pubsub/), spoken by hand in RESP2.
 *
 * How this works: two connections, because a connection that has sent SUBSCRIBE may only send
 * (un)subscribe commands from then on (pub/sub docs, "Format of pushed messages"): the subscriber hears
 * `message` pushes; the command connection sends PUBLISH and reads its integer replies, in order.
 * A room is the channel `switchyard:<db>:room:<room>`: pub/sub ignores the database number ("Database
 * & Scoping": published on db 10, heard on db 1), so the db from the URL is in the channel name; the
 * command connection still SELECTs it, so a db Redis doesn't have is reported. A message is the JSON
 * `{origin, from, text, time}`; `origin`, a random id per instance, lets an instance ignore its own
 * messages that Redis sends back to it. Either connection lost: both pending replies and new publishes
 * count as dropped (nothing is queued), it reconnects with exponential backoff and jitter, and the
 * subscriber subscribes to every room again. Every wait has a deadline: connecting (with the handshake),
 * and each reply; a connection whose reply is late is treated as dead, as its replies would now be
 * out of step.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { ChatMessage } from '../../protocols/chat/room.js';
import type { BrokerStatus, RoomBroker } from './room-broker.js';
import { encodeCommand, RespDecoder, type RespLimits, type RespValue } from './resp.js';
import { parseRedisUrl, type RedisTarget } from './redis-url.js';

export interface RedisBrokerOptions {
  /** TCP connect plus handshake (AUTH, SELECT, every SUBSCRIBE confirmed) must end within this (3000 ms). */
  readonly connectTimeoutMs?: number;
  /** A reply later than this (2000 ms) loses the command (a PUBLISH counts as dropped) and the connection. */
  readonly replyTimeoutMs?: number;
  /** The first reconnection delay (100 ms), doubled each failed attempt up to `backoffMaxMs` (5000 ms). */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** PUBLISHes awaiting their reply at most (1024); more are dropped, not queued. */
  readonly maxInFlight?: number;
  /** This instance's id in every message it publishes (random by default). */
  readonly instanceId?: string;
  readonly respLimits?: Partial<RespLimits>;
}

type Settings = Required<Omit<RedisBrokerOptions, 'instanceId' | 'respLimits'>> & Pick<RedisBrokerOptions, 'respLimits'>;

const DEFAULTS = { connectTimeoutMs: 3000, replyTimeoutMs: 2000, backoffInitialMs: 100, backoffMaxMs: 5000, maxInFlight: 1024 };

/** The pushes a subscribed connection receives (RESP2: arrays whose first value names the kind). */
const PUSH_KINDS = new Set(['message', 'subscribe', 'unsubscribe']);

export class RedisBroker implements RoomBroker {
  readonly #target: RedisTarget;
  readonly #origin: string;
  readonly #rooms = new Map<string, Set<(message: ChatMessage) => void>>();
  /** Channels subscribed on this subscriber connection whose confirmation has not arrived yet. */
  readonly #unconfirmed = new Set<string>();
  readonly #maxInFlight: number;
  readonly #commands: RedisLink;
  readonly #subscriber: RedisLink;
  #published = 0;
  #received = 0;
  #dropped = 0;

  /** Starts connecting at once and never throws for Redis being away (a bad URL string does throw). */
  constructor(url: string | RedisTarget, options: RedisBrokerOptions = {}) {
    this.#target = typeof url === 'string' ? parseRedisUrl(url) : url;
    this.#origin = options.instanceId ?? randomBytes(8).toString('hex');
    const settings: Settings = { ...DEFAULTS, ...withoutUndefined(options) };
    this.#maxInFlight = settings.maxInFlight;
    this.#commands = new RedisLink('command', this.#target, settings, {
      select: true,
      onHandshake: () => this.#commands.markReady(),
    });
    this.#subscriber = new RedisLink('subscriber', this.#target, settings, {
      select: false,
      onHandshake: () => this.#resubscribe(),
      onPush: (push) => this.#onPush(push),
    });
  }

  /** This instance's `origin` in the messages it publishes. */
  get origin(): string { return this.#origin; }

  publish(room: string, message: ChatMessage): void {
    if (!this.#commands.ready || this.#commands.inFlight >= this.#maxInFlight) {
      this.#dropped++;
      return;
    }
    const payload = JSON.stringify({ origin: this.#origin, from: message.from, text: message.text, time: message.time });
    this.#commands.send(['PUBLISH', this.#channel(room), payload], (reply) => {
      if (reply.type === 'integer') this.#published++; else this.#dropped++;
    });
  }

  subscribe(room: string, deliver: (message: ChatMessage) => void): () => void {
    let handlers = this.#rooms.get(room);
    if (handlers === undefined) {
      this.#rooms.set(room, (handlers = new Set()));
      // Not handshaken yet: #resubscribe sends it with the others.
      if (this.#subscriber.handshaken) this.#subscriber.send(['SUBSCRIBE', this.#channel(room)]);
    }
    const mine = handlers;
    mine.add(deliver);
    return () => {
      if (!mine.delete(deliver) || mine.size > 0 || this.#rooms.get(room) !== mine) return;
      this.#rooms.delete(room);
      this.#confirmed(this.#channel(room));
      if (this.#subscriber.handshaken) this.#subscriber.send(['UNSUBSCRIBE', this.#channel(room)]);
    };
  }

  status(): BrokerStatus {
    const connected = this.#commands.ready && this.#subscriber.ready;
    const lastError = this.#commands.lastError ?? this.#subscriber.lastError ?? 'connecting';
    return {
      kind: 'redis', target: this.#target.display, connected,
      published: this.#published, received: this.#received, dropped: this.#dropped,
      ...(connected ? {} : { lastError }),
    };
  }

  /** Ends both connections and stops reconnecting; resolves when both sockets are closed. */
  async close(): Promise<void> {
    await Promise.all([this.#commands.close(), this.#subscriber.close()]);
  }

  #channel(room: string): string {
    return `switchyard:${this.#target.db}:room:${room}`;
  }

  #resubscribe(): void {
    this.#unconfirmed.clear();
    const channels = [...this.#rooms.keys()].map((room) => this.#channel(room));
    if (channels.length === 0) {
      this.#subscriber.markReady();
      return;
    }
    for (const channel of channels) this.#unconfirmed.add(channel);
    this.#subscriber.send(['SUBSCRIBE', ...channels]);
  }

  #confirmed(channel: string): void {
    if (!this.#unconfirmed.delete(channel) || this.#unconfirmed.size > 0) return;
    if (this.#subscriber.handshaken && !this.#subscriber.ready) this.#subscriber.markReady();
  }

  #onPush([kind, channel, payload]: readonly string[]): void {
    if (kind === 'subscribe' && channel !== undefined) this.#confirmed(channel);
    if (kind !== 'message' || channel === undefined || payload === undefined) return;
    const prefix = `switchyard:${this.#target.db}:room:`;
    const handlers = channel.startsWith(prefix) ? this.#rooms.get(channel.slice(prefix.length)) : undefined;
    if (handlers === undefined) return;
    const message = parseMessage(payload);
    // Our own message, echoed back to us (we are subscribed too), or not one of ours: not delivered.
    if (message === undefined || message.origin === this.#origin) return;
    this.#received++;
    const { from, text, time } = message;
    for (const deliver of [...handlers]) deliver({ from, text, time });
  }
}

function parseMessage(payload: string): (ChatMessage & { origin: string }) | undefined {
  try {
    const value: unknown = JSON.parse(payload);
    if (typeof value !== 'object' || value === null) return undefined;
    const { origin, from, text, time } = value as Record<string, unknown>;
    if (typeof origin !== 'string' || typeof from !== 'string' || typeof text !== 'string' || typeof time !== 'number') return undefined;
    return { origin, from, text, time };
  } catch {
    return undefined;
  }
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

interface LinkHooks {
  /** Whether to SELECT the URL's database in the handshake. */
  readonly select: boolean;
  /** The handshake was answered: the owner finishes setting up, then calls `markReady`. */
  readonly onHandshake: () => void;
  /** A pub/sub push, its values as text; without this hook, every value is a reply. */
  readonly onPush?: (push: readonly string[]) => void;
}

type Reply = RespValue | { readonly type: 'lost'; readonly reason: string };

interface Pending {
  readonly onReply: (reply: Reply) => void;
  readonly timer: NodeJS.Timeout;
}

/** One connection to Redis, kept up: connect, handshake, replies in order with deadlines, reconnection. */
class RedisLink {
  readonly #name: string;
  readonly #target: RedisTarget;
  readonly #settings: Settings;
  readonly #hooks: LinkHooks;
  readonly #pending: Pending[] = [];
  #socket: net.Socket | undefined;
  #decoder: RespDecoder | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #attempt = 0;
  #handshaken = false;
  #ready = false;
  #closed = false;
  #lastError: string | undefined;

  constructor(name: string, target: RedisTarget, settings: Settings, hooks: LinkHooks) {
    this.#name = name;
    this.#target = target;
    this.#settings = settings;
    this.#hooks = hooks;
    this.#connect();
  }

  get handshaken(): boolean { return this.#handshaken; }
  get ready(): boolean { return this.#ready; }
  get inFlight(): number { return this.#pending.length; }
  /** Why this connection is not ready, when it is not. */
  get lastError(): string | undefined { return this.#ready ? undefined : this.#lastError; }

  markReady(): void {
    clearTimeout(this.#deadline);
    this.#ready = true;
    this.#attempt = 0;
  }

  /** Writes a command; `onReply`, when given, gets its reply or `lost` (late, or the connection ended). */
  send(args: readonly string[], onReply?: (reply: Reply) => void): void {
    const socket = this.#socket;
    if (socket === undefined) {
      onReply?.({ type: 'lost', reason: 'not connected' });
      return;
    }
    if (onReply !== undefined) {
      const timer = setTimeout(() => this.#down(`no reply to ${args[0]} in ${this.#settings.replyTimeoutMs} ms`), this.#settings.replyTimeoutMs);
      this.#pending.push({ onReply, timer });
    }
    socket.write(encodeCommand(args));
  }

  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const socket = this.#socket;
    this.#down('closed');
    if (socket === undefined || socket.closed) return Promise.resolve();
    return new Promise((resolve) => socket.once('close', () => resolve()));
  }

  #connect(): void {
    this.#retry = undefined;
    const socket = net.connect({ host: this.#target.host, port: this.#target.port });
    this.#socket = socket;
    this.#decoder = new RespDecoder(this.#settings.respLimits);
    // One deadline for the TCP connect and the whole handshake, cleared by markReady.
    this.#deadline = setTimeout(() => this.#down(`not ready within ${this.#settings.connectTimeoutMs} ms`), this.#settings.connectTimeoutMs);
    socket.setNoDelay(true);
    // A subscriber only listens: keepalive is what notices a peer that vanished without a FIN.
    socket.setKeepAlive(true, 10_000);
    socket.on('error', (error) => { if (socket === this.#socket) this.#down(error.message); });
    socket.on('close', () => { if (socket === this.#socket) this.#down('connection closed by Redis'); });
    socket.on('data', (chunk: Buffer) => { if (socket === this.#socket) this.#receive(chunk); });
    socket.on('connect', () => this.#handshake());
  }

  /** AUTH (with a password), SELECT (command connection, db ≠ 0) and PING, pipelined, all answered. */
  #handshake(): void {
    const { username, password, db } = this.#target;
    const commands: string[][] = [];
    if (password !== undefined) commands.push(username === undefined ? ['AUTH', password] : ['AUTH', username, password]);
    if (this.#hooks.select && db !== 0) commands.push(['SELECT', String(db)]);
    // A TCP connect proves only the kernel's backlog (a stopped Redis accepts too): a PONG proves Redis.
    commands.push(['PING']);
    let unanswered = commands.length;
    const done = (): void => {
      this.#handshaken = true;
      this.#hooks.onHandshake();
    };
    for (const command of commands) {
      this.send(command, (reply) => {
        if (reply.type === 'error-reply') return this.#down(`${command[0]}: ${reply.message}`);
        if (reply.type !== 'lost' && --unanswered === 0) done();
      });
    }
  }

  #receive(chunk: Buffer): void {
    const decoder = this.#decoder!;
    decoder.receive(chunk);
    for (;;) {
      const event = decoder.next();
      if (event.type === 'need-data') return;
      if (event.type === 'error') return this.#down(`${event.error.code}: ${event.error.message}`);
      const push = this.#hooks.onPush === undefined ? undefined : asPush(event.value);
      if (push !== undefined) {
        this.#hooks.onPush!(push);
      } else {
        const pending = this.#pending.shift();
        if (pending === undefined) {
          const what = event.value.type === 'error-reply' ? event.value.message : `a ${event.value.type} nobody asked for`;
          return this.#down(`unexpected reply: ${what}`);
        }
        clearTimeout(pending.timer);
        pending.onReply(event.value);
      }
      if (this.#socket === undefined) return; // a handler took the connection down
    }
  }

  /** The connection is lost (or closed): fail what waits, and unless closed, try again after a backoff. */
  #down(reason: string): void {
    if (this.#socket === undefined) return;
    this.#socket.destroy();
    this.#socket = undefined;
    this.#decoder = undefined;
    this.#handshaken = false;
    this.#ready = false;
    this.#lastError = `${this.#name} connection: ${reason}`;
    clearTimeout(this.#deadline);
    for (const pending of this.#pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.onReply({ type: 'lost', reason });
    }
    if (this.#closed) return;
    // Exponential backoff with "equal jitter": half the delay fixed, half random, so instances that lost
    // Redis together do not all come back in the same millisecond.
    const delay = Math.min(this.#settings.backoffMaxMs, this.#settings.backoffInitialMs * 2 ** this.#attempt);
    this.#attempt++;
    this.#retry = setTimeout(() => this.#connect(), delay / 2 + Math.random() * (delay / 2));
  }
}

/** A pub/sub push as text, or undefined for a plain reply. */
function asPush(value: RespValue): string[] | undefined {
  if (value.type !== 'array' || value.value === null) return undefined;
  const texts = value.value.map((item) =>
    item.type === 'bulk-string' && item.value !== null ? Buffer.from(item.value.buffer, item.value.byteOffset, item.value.byteLength).toString('utf8')
      : item.type === 'integer' ? String(item.value) : '');
  return PUSH_KINDS.has(texts[0] ?? '') ? texts : undefined;
}
