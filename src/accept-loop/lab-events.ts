import { EventEmitter } from 'node:events';
import type { ConnectionState } from './connection-state.js';

/**
 * What the loop reports, one object per happening, for `--trace`, the dashboard's timeline and tests.
 * Every event that concerns a connection carries its id and its 5-tuple as `ss -tn` would print it.
 */
export type LabEvent =
  | { type: 'listen'; time: number; address: string; port: number }
  | { type: 'accept'; time: number; id: number; fiveTuple: string; live: number }
  | { type: 'refuse'; time: number; fiveTuple: string; reason: string }
  | { type: 'sniff'; time: number; id: number; fiveTuple: string; firstByte: number; decided: 'tls' | 'http' | 'h2' | 'unknown'; reason?: string }
  | { type: 'tls'; time: number; id: number; fiveTuple: string; phase: 'client-hello' | 'established' | 'failed'; detail: string }
  /** A PROXY protocol header read (`fiveTuple` is then the client's, as the proxy saw it) or refused. */
  | { type: 'proxy'; time: number; id: number; fiveTuple: string; phase: 'accepted' | 'refused'; detail: string }
  /** `stream` is set for a request on an HTTP/2 stream (`upgrade` then holds its `:protocol`, RFC 8441). */
  | { type: 'request'; time: number; id: number; fiveTuple: string; stream?: number; method: string; target: string; version: string; upgrade?: string }
  | { type: 'response'; time: number; id: number; fiveTuple: string; stream?: number; status: number; bytes: number }
  /** HTTP/1.1: the 101; HTTP/2 (`stream` set): the 200 to an extended CONNECT, after which the stream is the protocol's. */
  | { type: 'upgrade'; time: number; id: number; fiveTuple: string; stream?: number; protocol: string; headBytes: number }
  | { type: 'protocol'; time: number; id: number; fiveTuple: string; stream?: number; protocol: string; kind: string; detail: string; direction?: 'in' | 'out' }
  /** HTTP/2: a stream opened (its request) or closed (why), on connection `id`. */
  | { type: 'stream'; time: number; id: number; fiveTuple: string; stream: number; phase: 'open' | 'close'; detail: string }
  /** HTTP/2: the SETTINGS one side announced (RFC 9113 §6.5), as `name=value` pairs. */
  | { type: 'settings'; time: number; id: number; fiveTuple: string; side: 'server' | 'client'; settings: string }
  | { type: 'state'; time: number; id: number; fiveTuple: string; from: ConnectionState; to: ConnectionState }
  | { type: 'close'; time: number; id: number; fiveTuple: string; closedBy: string; reason: string; bytesIn: number; bytesOut: number }
  | { type: 'error'; time: number; id?: number; fiveTuple?: string; code: string; message: string }
  | { type: 'shutdown'; time: number; phase: string; live: number };

type Without<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
export type LabEventInput = Without<LabEvent, 'time'>;

/** A typed emitter with a cheap "is anyone listening" check, so the hot path builds no event objects for nobody. */
export class LabEvents extends EventEmitter {
  get active(): boolean { return this.listenerCount('event') > 0; }

  report(event: LabEventInput): void {
    if (this.listenerCount('event') === 0) return;
    this.emit('event', { ...event, time: Date.now() } as LabEvent);
  }

  subscribe(listener: (event: LabEvent) => void): () => void {
    this.on('event', listener);
    return () => this.off('event', listener);
  }
}
