import type { Socket } from 'node:net';
import { assertTransition, ConnectionState } from './connection-state.js';
import { type FiveTuple, fiveTupleKey } from './five-tuple.js';

/** Who ended a connection: the peer (its FIN or RST reached us first) or this server. */
export type ClosedBy = 'client' | 'server';

/**
 * One row of the connection table. Byte counts are read from the socket itself, so they keep counting
 * after an upgrade, whatever protocol then drives the socket.
 */
export class ConnectionRecord {
  readonly id: number;
  readonly fiveTuple: FiveTuple;
  readonly key: string;
  readonly acceptedAt: number;
  #state: ConnectionState = ConnectionState.Accepted;
  #protocol: string | undefined;
  #closedAt: number | undefined;
  #closedBy: ClosedBy | undefined;
  #closeReason: string | undefined;
  #requests = 0;
  #socket: Socket;
  #finalBytesIn = 0;
  #finalBytesOut = 0;

  constructor(id: number, fiveTuple: FiveTuple, socket: Socket, now: number) {
    this.id = id;
    this.fiveTuple = fiveTuple;
    this.key = fiveTupleKey(fiveTuple);
    this.acceptedAt = now;
    this.#socket = socket;
  }

  get state(): ConnectionState { return this.#state; }
  /**
   * The upgrade tokens this connection went through, outermost first, joined with ' > ' (e.g.
   * `websocket`, or `TLS/1.0 > websocket` after an in-band TLS upgrade); undefined before any upgrade.
   */
  get protocol(): string | undefined { return this.#protocol; }
  get requests(): number { return this.#requests; }
  get closedAt(): number | undefined { return this.#closedAt; }
  get closedBy(): ClosedBy | undefined { return this.#closedBy; }
  get closeReason(): string | undefined { return this.#closeReason; }
  get bytesIn(): number { return this.#state === 'closed' ? this.#finalBytesIn : this.#socket.bytesRead; }
  get bytesOut(): number { return this.#state === 'closed' ? this.#finalBytesOut : this.#socket.bytesWritten; }

  transition(to: ConnectionState, protocol?: string): void {
    assertTransition(this.#state, to);
    this.#state = to;
    if (to === ConnectionState.Upgraded) this.#protocol = this.#protocol === undefined ? protocol : `${this.#protocol} > ${protocol}`;
  }

  countRequest(): void { this.#requests++; }

  /** Record why the connection is ending; the first explanation wins (the cause, not its echoes). */
  noteClose(by: ClosedBy, reason: string): void {
    if (this.#closedBy === undefined) {
      this.#closedBy = by;
      this.#closeReason = reason;
    }
  }

  markClosed(now: number): void {
    if (this.#state === ConnectionState.Closed) return;
    this.#finalBytesIn = this.#socket.bytesRead;
    this.#finalBytesOut = this.#socket.bytesWritten;
    this.#state = ConnectionState.Closed;
    this.#closedAt = now;
    if (this.#closedBy === undefined) {
      this.#closedBy = 'client';
      this.#closeReason = 'peer closed';
    }
  }

  toJSON(now = Date.now()): ConnectionSnapshot {
    return {
      id: this.id,
      transport: this.fiveTuple.transport,
      local: { address: this.fiveTuple.localAddress, port: this.fiveTuple.localPort },
      remote: { address: this.fiveTuple.remoteAddress, port: this.fiveTuple.remotePort },
      fiveTuple: this.key,
      state: this.#state,
      protocol: this.#protocol ?? null,
      requests: this.#requests,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      ageMs: (this.#closedAt ?? now) - this.acceptedAt,
      ...(this.#closedBy ? { closedBy: this.#closedBy, closeReason: this.#closeReason ?? '' } : {}),
    };
  }
}

export interface ConnectionSnapshot {
  id: number;
  transport: 'tcp';
  local: { address: string; port: number };
  remote: { address: string; port: number };
  fiveTuple: string;
  state: ConnectionState;
  protocol: string | null;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  ageMs: number;
  closedBy?: ClosedBy;
  closeReason?: string;
}

/**
 * Live connections keyed by their 5-tuple. The kernel guarantees the 5-tuple is unique among live TCP
 * connections, so a key collision means a stale entry, which is a bug worth failing loudly on.
 */
export class ConnectionTable {
  #byKey = new Map<string, ConnectionRecord>();
  #perAddress = new Map<string, number>();
  #nextId = 1;

  get size(): number { return this.#byKey.size; }

  add(fiveTuple: FiveTuple, socket: Socket, now = Date.now()): ConnectionRecord {
    const record = new ConnectionRecord(this.#nextId++, fiveTuple, socket, now);
    if (this.#byKey.has(record.key)) throw new Error(`5-tuple already in the table: ${record.key}`);
    this.#byKey.set(record.key, record);
    const address = fiveTuple.remoteAddress;
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    return record;
  }

  remove(record: ConnectionRecord): void {
    if (this.#byKey.get(record.key) !== record) return;
    this.#byKey.delete(record.key);
    const address = record.fiveTuple.remoteAddress;
    const left = (this.#perAddress.get(address) ?? 1) - 1;
    if (left === 0) this.#perAddress.delete(address); else this.#perAddress.set(address, left);
  }

  get(key: string): ConnectionRecord | undefined { return this.#byKey.get(key); }
  countFrom(remoteAddress: string): number { return this.#perAddress.get(remoteAddress) ?? 0; }
  records(): IterableIterator<ConnectionRecord> { return this.#byKey.values(); }
  snapshot(now = Date.now()): ConnectionSnapshot[] { return [...this.#byKey.values()].map((r) => r.toJSON(now)); }
}
