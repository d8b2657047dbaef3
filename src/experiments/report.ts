import type { ConnectionSnapshot } from '../accept-loop/connection-table.js';
import { formatEndpoint } from '../accept-loop/five-tuple.js';
import type { LabEvent, LabEvents } from '../accept-loop/lab-events.js';
import type { SwitchyardServer } from '../server/server.js';
import { formatTraceLine } from '../server/trace.js';
import type { Experiment } from './experiment.js';

/**
 * How an experiment prints: a header (name, question), titled sections of indented lines, and the
 * conclusion. The shape is fixed so that docs/guide.md can show real output and its test can re-run it:
 * headers, section titles and conclusions are stable; ports, ids and times are not.
 */
export class Report {
  readonly #write: (text: string) => void;

  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  header(experiment: Experiment): void {
    this.#write(`experiment ${experiment.name}: ${experiment.title}\nquestion: ${experiment.question}\n\n`);
  }

  section(title: string, lines: readonly string[]): void {
    this.#write(`${title}:\n${lines.map((line) => `  ${line}`.trimEnd() + '\n').join('')}\n`);
  }

  conclusion(text: string): void {
    this.#write(`conclusion: ${text}\n`);
  }
}

/** Columns padded to their widest cell, two spaces apart; numbers (and their header) right-aligned. */
export function formatColumns(rows: ReadonlyArray<readonly string[]>, numeric: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** The connection table as `/connections` holds it, one row per live connection, 5-tuple first. */
export function connectionTable(rows: readonly ConnectionSnapshot[]): string[] {
  if (rows.length === 0) return ['(no live connections)'];
  const header = ['id', 'proto', 'local (server)', 'remote (client)', 'state', 'protocol', 'requests', 'bytes in', 'bytes out'];
  const body = rows.map((row) => [
    `#${row.id}`, row.transport, formatEndpoint(row.local.address, row.local.port), formatEndpoint(row.remote.address, row.remote.port),
    row.state, row.protocol ?? '-', String(row.requests), String(row.bytesIn), String(row.bytesOut),
  ]);
  return formatColumns([header, ...body], new Set([6, 7, 8]));
}

/** Collects the server's trace lines from now until `stop()`. */
export class TraceRecorder {
  readonly #lines: string[] = [];
  readonly #unsubscribe: () => void;

  /**
   * `listening` stands in for the `listen` event, which the server reports while it starts, before
   * anyone can subscribe.
   */
  constructor(events: LabEvents, listening?: { address: string; port: number }) {
    if (listening) this.#lines.push(formatTraceLine({ type: 'listen', time: Date.now(), ...listening }));
    this.#unsubscribe = events.subscribe((event: LabEvent) => this.#lines.push(formatTraceLine(event)));
  }

  get lines(): readonly string[] { return this.#lines; }

  stop(): void { this.#unsubscribe(); }
}

/**
 * Every experiment's frame: record `server`'s trace while `body` drives it, then stop recording and close
 * the server however `body` ended.
 */
export async function traced<T>(server: SwitchyardServer, body: (trace: TraceRecorder) => Promise<T>): Promise<T> {
  const trace = new TraceRecorder(server.events, { address: server.host, port: server.port });
  try {
    return await body(trace);
  } finally {
    trace.stop();
    await server.close();
  }
}
