/**
 * One HTTP/2 stream of a connection, as the connection table shows it: its id, the request that opened
 * it, the protocol it switched to (RFC 8441), its state and its bytes. With HTTP/2 a 5-tuple no longer
 * means one conversation: one TCP connection (one row) carries many streams, each its own request or
 * protocol. A stream record is also that stream's `ConnectionHooks`, so a protocol handler talks to
 * "its connection" the same way whether it got a TCP socket or a stream, and each stream has its own
 * shutdown slot (a WebSocket on stream 3 and a lab-chat on stream 5 each say goodbye).
 */
import type { ConnectionHooks, ProtocolEvent } from '../registry/plugin.js';
import type { LabEvents } from './lab-events.js';
import { ShutdownSlot } from './shutdown-slot.js';

export type StreamState = 'open' | 'upgraded' | 'closed';

/** The connection a stream belongs to, as far as the stream needs it. */
export interface StreamOwner {
  readonly id: number;
  readonly key: string;
  readonly events: LabEvents | undefined;
}

export interface StreamSnapshot {
  /** The HTTP/2 stream identifier (odd: client-initiated, RFC 9113 §5.1.1). */
  id: number;
  method: string;
  path: string;
  /** The `:protocol` this stream switched to (RFC 8441), or null for a plain request. */
  protocol: string | null;
  /** Extensions the stream's protocol agreed on (WebSocket's permessage-deflate over RFC 8441, say). */
  extensions?: string;
  state: StreamState;
  /** The `:status` the server answered, once it has. */
  status: number | null;
  bytesIn: number;
  bytesOut: number;
  ageMs: number;
  closeReason?: string;
}

export class StreamRecord implements ConnectionHooks {
  readonly id: number;
  readonly method: string;
  readonly path: string;
  readonly openedAt = Date.now();
  readonly #owner: StreamOwner;
  #protocol: string | null = null;
  #state: StreamState = 'open';
  #status: number | null = null;
  #closedAt: number | undefined;
  #closeReason: string | undefined;
  #extensions: string | undefined;
  readonly #shutdown = new ShutdownSlot();
  bytesIn = 0;
  bytesOut = 0;

  constructor(owner: StreamOwner, id: number, method: string, path: string) {
    this.#owner = owner;
    this.id = id;
    this.method = method;
    this.path = path;
  }

  get state(): StreamState { return this.#state; }
  get protocol(): string | null { return this.#protocol; }
  get status(): number | null { return this.#status; }
  get closeReason(): string | undefined { return this.#closeReason; }
  /** The owning connection's id and 5-tuple, for trace lines. */
  get connectionId(): number { return this.#owner.id; }
  get connectionKey(): string { return this.#owner.key; }

  answered(status: number): void { this.#status = status; }

  upgraded(protocol: string): void {
    this.#protocol = protocol;
    this.#state = 'upgraded';
  }

  /** The stream ended (END_STREAM both ways, or a reset); the first reason given wins. */
  markClosed(reason: string, now = Date.now()): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closedAt = now;
    this.#closeReason ??= reason;
    this.#shutdown.clear();
  }

  // ConnectionHooks, scoped to this stream.

  emit(event: ProtocolEvent): void {
    const events = this.#owner.events;
    if (events !== undefined && events.active) {
      events.report({ type: 'protocol', id: this.#owner.id, fiveTuple: this.#owner.key, stream: this.id, protocol: this.#protocol ?? '', ...event });
    }
  }

  isTracing(): boolean { return this.#owner.events?.active ?? false; }

  noteServerClose(reason: string): void { this.#closeReason ??= `closed by server: ${reason}`; }

  /** For the takeover supervision (handover.ts), which speaks of connections: who closed, and why. */
  noteClose(by: 'client' | 'server', reason: string): void { this.#closeReason ??= `closed by ${by}: ${reason}`; }

  noteExtensions(description: string): void { this.#extensions = description; }

  onShutdown<T>(handler: ((target: T) => void) | undefined, target?: T): void { this.#shutdown.set(handler, target); }

  shutdown(): void { this.#shutdown.run(); }

  toJSON(now = Date.now()): StreamSnapshot {
    return {
      id: this.id,
      method: this.method,
      path: this.path,
      protocol: this.#protocol,
      ...(this.#extensions === undefined ? {} : { extensions: this.#extensions }),
      state: this.#state,
      status: this.#status,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      ageMs: (this.#closedAt ?? now) - this.openedAt,
      ...(this.#closeReason === undefined ? {} : { closeReason: this.#closeReason }),
    };
  }
}
