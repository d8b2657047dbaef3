/**
 * A worker's end of the `--workers` cluster's IPC channel (the primary is cluster-primary.ts): room
 * messages to and from the other workers, the whole connection table on request, and the banner handed
 * to the primary to print once. Only a process forked by node:cluster has one.
 */
import cluster from 'node:cluster';
import type { ChatMessage } from '../protocols/chat/room.js';
import {
  CONNECTION_IDS_PER_WORKER, isClusterMessage, TABLE_GATHER_MS, type ToPrimary, type ToWorker, type WorkerTable, WORKER_SEQUENCE_ENV,
} from './cluster-messages.js';

export class ClusterWorker {
  readonly pid = process.pid;
  /** 1 for the first worker forked, then 2, ...; a replacement gets the next one. */
  readonly sequence: number;
  readonly #roomHandlers = new Set<(room: string, message: ChatMessage) => void>();
  readonly #pendingTables = new Map<number, (tables: readonly WorkerTable[]) => void>();
  #nextRequest = 1;
  #tableProvider: (() => WorkerTable) | undefined;

  private constructor(sequence: number) {
    this.sequence = sequence;
    process.on('message', (message: unknown) => { if (isClusterMessage<ToWorker>(message)) this.#onMessage(message); });
  }

  /** This process's link, when it is a cluster worker. */
  static current(): ClusterWorker | undefined {
    if (!cluster.isWorker) return undefined;
    return (ClusterWorker.#instance ??= new ClusterWorker(Number(process.env[WORKER_SEQUENCE_ENV] ?? cluster.worker?.id ?? 1)));
  }

  static #instance: ClusterWorker | undefined;

  /** Where this worker's connection ids start: every worker's rows fit in one table. */
  get firstConnectionId(): number { return this.sequence * CONNECTION_IDS_PER_WORKER + 1; }

  get connected(): boolean { return process.connected === true; }

  announceListening(banner: readonly string[]): void { this.#send({ switchyard: 1, kind: 'listening', banner }); }

  sendRoom(room: string, message: ChatMessage): boolean { return this.#send({ switchyard: 1, kind: 'room', room, message }); }

  onRoom(handler: (room: string, message: ChatMessage) => void): () => void {
    this.#roomHandlers.add(handler);
    return () => { this.#roomHandlers.delete(handler); };
  }

  /** What this worker answers when another one asks for the whole table. */
  provideTable(provider: () => WorkerTable): void { this.#tableProvider = provider; }

  /** Every worker's part of the table (this one's included), gathered by the primary. */
  requestTables(): Promise<readonly WorkerTable[]> {
    const id = this.#nextRequest++;
    return new Promise((resolve) => {
      // The primary answers within TABLE_GATHER_MS; this is for a primary that is gone.
      const timer = setTimeout(() => { this.#pendingTables.delete(id); resolve(this.#tableProvider ? [this.#tableProvider()] : []); }, TABLE_GATHER_MS * 2);
      this.#pendingTables.set(id, (tables) => { clearTimeout(timer); resolve(tables); });
      if (!this.#send({ switchyard: 1, kind: 'table-request', id })) {
        clearTimeout(timer);
        this.#pendingTables.delete(id);
        resolve(this.#tableProvider ? [this.#tableProvider()] : []);
      }
    });
  }

  #onMessage(message: ToWorker): void {
    switch (message.kind) {
      case 'room':
        for (const handler of this.#roomHandlers) handler(message.room, message.message);
        break;
      case 'table-query':
        if (this.#tableProvider) this.#send({ switchyard: 1, kind: 'table-reply', id: message.id, table: this.#tableProvider() });
        break;
      case 'table-result': {
        const resolve = this.#pendingTables.get(message.id);
        this.#pendingTables.delete(message.id);
        resolve?.(message.tables);
        break;
      }
    }
  }

  #send(message: ToPrimary): boolean {
    if (!process.connected || process.send === undefined) return false;
    process.send(message);
    return true;
  }
}
