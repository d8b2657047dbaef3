/**
 * What a `--workers` cluster's primary and workers say to each other over node:cluster's IPC channel.
 * Every message carries `switchyard: 1`, so messages of other kinds (a plugin's own `process.send`) pass
 * by untouched.
 */
import type { ConnectionSnapshot, FrontDoorCounts } from './connection-table.js';
import type { ChatMessage } from '../protocols/chat/room.js';

/** One worker's part of the connection table. */
export interface WorkerTable {
  readonly pid: number;
  readonly connections: readonly ConnectionSnapshot[];
  readonly frontDoor: FrontDoorCounts;
}

export type ToPrimary =
  | { readonly switchyard: 1; readonly kind: 'listening'; readonly banner: readonly string[] }
  | { readonly switchyard: 1; readonly kind: 'room'; readonly room: string; readonly message: ChatMessage }
  | { readonly switchyard: 1; readonly kind: 'table-request'; readonly id: number }
  | { readonly switchyard: 1; readonly kind: 'table-reply'; readonly id: number; readonly table: WorkerTable };

export type ToWorker =
  | { readonly switchyard: 1; readonly kind: 'room'; readonly room: string; readonly message: ChatMessage }
  | { readonly switchyard: 1; readonly kind: 'table-query'; readonly id: number }
  | { readonly switchyard: 1; readonly kind: 'table-result'; readonly id: number; readonly tables: readonly WorkerTable[] };

export function isClusterMessage<T extends ToPrimary | ToWorker>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && (value as { switchyard?: unknown }).switchyard === 1;
}

/** How long the primary waits for every worker's rows before answering with those that came. */
export const TABLE_GATHER_MS = 1_000;

/** The environment variable that tells a worker its sequence number (1, 2, ...; replacements get new ones). */
export const WORKER_SEQUENCE_ENV = 'SWITCHYARD_WORKER_SEQUENCE';

/** Row ids of worker n start at n × this, so the rows of every worker can share one table. */
export const CONNECTION_IDS_PER_WORKER = 1_000_000;
