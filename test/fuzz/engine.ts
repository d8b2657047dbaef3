/**
 * A small seeded fuzzing engine shared by the fuzz tests (`test/fuzz/*.fuzz.test.ts`, a fixed number of
 * cases) and `npm run fuzz` (bench/fuzz.ts, for a number of seconds).
 *
 * How this works. A run has a seed; case `i` of a run draws everything — the input, its mutations, the
 * split points — from its own PRNG seeded with `caseSeed(seed, i)`, so one case replays alone from
 * `--seed S --case i`, without the cases before it. A target turns a PRNG into an input and checks its
 * properties, throwing on a violation; the engine wraps that in a FuzzFailure naming target, seed and case.
 *
 * "Never hangs" cannot be checked from the thread that hangs, so `runIsolated` runs the cases in a worker
 * thread that publishes the current case number in shared memory; the calling thread terminates it and
 * reports the case if that number stops moving for `hangMs`.
 */
import { Worker } from 'node:worker_threads';

/** mulberry32: 32 bits of state, fast, and good enough to pick bytes and split points. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.#state ^ (this.#state >>> 15), 1 | this.#state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi], both inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

/** The seed of case `index` of a run seeded with `seed` (a 32-bit mix, so neighbouring cases differ fully). */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface FuzzTarget<P = unknown> {
  readonly name: string;
  /** One input and the parameters (limits, role...) to check it with. */
  generate(random: Random): { readonly input: Uint8Array; readonly params: P };
  /**
   * Checks every property for `input`, throwing on a violation; `random` picks the split points. Returns
   * a short label of the verdict (`ok`, or an error code) so a run can report what it reached.
   */
  check(input: Uint8Array, params: P, random: Random): string;
}

export interface FuzzReport {
  readonly target: string;
  readonly seed: number;
  readonly cases: number;
  readonly bytes: number;
  /** Verdict label → number of cases. */
  readonly outcomes: Record<string, number>;
}

export interface RunOptions {
  readonly seed: number;
  readonly firstCase?: number;
  /** Stop after this many cases... */
  readonly cases?: number;
  /** ...or at this time (ms since the epoch), whichever comes first. */
  readonly until?: number;
  /** Called before each case with its index (the isolated runner publishes it for the watchdog). */
  readonly onCase?: (index: number) => void;
}

export class FuzzFailure extends Error {
  readonly target: string;
  readonly seed: number;
  readonly caseIndex: number;

  constructor(target: string, seed: number, caseIndex: number, detail: string) {
    super(`fuzz target "${target}" failed at seed ${seed} case ${caseIndex}: ${detail}\n` +
      `reproduce: npm run fuzz -- --target ${target} --seed ${seed} --case ${caseIndex}`);
    this.name = 'FuzzFailure';
    this.target = target;
    this.seed = seed;
    this.caseIndex = caseIndex;
  }
}

/** Hex of at most `max` bytes, for failure messages. */
export function hexPreview(bytes: Uint8Array, max = 1024): string {
  const shown = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, max)).toString('hex');
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}

/** Generates and checks one case; throws FuzzFailure with the input on a violation. */
export function runCase<P>(target: FuzzTarget<P>, seed: number, index: number): { outcome: string; bytes: number } {
  const random = new Random(caseSeed(seed, index));
  let input: Uint8Array | undefined;
  try {
    const generated = target.generate(random);
    input = generated.input;
    return { outcome: target.check(input, generated.params, random), bytes: input.length };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new FuzzFailure(target.name, seed, index, `${message}\ninput (hex): ${input === undefined ? '(not generated)' : hexPreview(input)}`);
  }
}

/** Runs cases in this thread. */
export function runFuzz<P>(target: FuzzTarget<P>, options: RunOptions): FuzzReport {
  const first = options.firstCase ?? 0;
  const last = options.cases === undefined ? Infinity : first + options.cases;
  const outcomes: Record<string, number> = {};
  let bytes = 0;
  let index = first;
  for (; index < last; index++) {
    if (options.until !== undefined && Date.now() >= options.until) break;
    options.onCase?.(index);
    const result = runCase(target, options.seed, index);
    outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
    bytes += result.bytes;
  }
  return { target: target.name, seed: options.seed, cases: index - first, bytes, outcomes };
}

export interface IsolatedOptions extends Omit<RunOptions, 'onCase'> {
  /** Name of a target exported in `TARGETS` by the module at `targetsUrl`. */
  readonly target: string;
  readonly targetsUrl: string;
  /** A case that runs this long is reported as a hang. Generous: the machine may be busy. */
  readonly hangMs?: number;
}

/**
 * The worker's code, evaluated (not a file, so no runnable script sits in test/): it imports the targets
 * and the engine, runs the cases, and stores each case index in the shared array before running it.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { TARGETS } = await import(workerData.targetsUrl);
  const { runFuzz } = await import(workerData.engineUrl);
  const current = new Int32Array(workerData.current);
  const target = TARGETS[workerData.target];
  if (target === undefined) throw new Error('no fuzz target named ' + workerData.target);
  const report = runFuzz(target, { ...workerData.options, onCase: (index) => Atomics.store(current, 0, index) });
  parentPort.postMessage({ type: 'report', report });
})().catch((error) => parentPort.postMessage({ type: 'failure', message: error && error.message ? error.message : String(error) }));
`;

/** Runs cases in a worker thread; rejects with the failure, or with a hang naming the case that hung. */
export function runIsolated(options: IsolatedOptions): Promise<FuzzReport> {
  const { target, targetsUrl, hangMs = 30_000, ...runOptions } = options;
  const current = new SharedArrayBuffer(4);
  const index = new Int32Array(current);
  Atomics.store(index, 0, -1);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { target, targetsUrl, engineUrl: import.meta.url, current, options: runOptions },
  });
  return new Promise((resolve, reject) => {
    let last = -1;
    let since = Date.now();
    const watchdog = setInterval(() => {
      const now = Atomics.load(index, 0);
      if (now !== last) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since > hangMs) {
        finish();
        void worker.terminate();
        reject(new FuzzFailure(target, runOptions.seed, now, `case did not finish within ${hangMs} ms (hang)`));
      }
    }, 250);
    const finish = (): void => {
      clearInterval(watchdog);
      worker.removeAllListeners();
      worker.on('error', () => {});
    };
    worker.on('message', (message: { type: 'report'; report: FuzzReport } | { type: 'failure'; message: string }) => {
      finish();
      void worker.terminate();
      if (message.type === 'report') resolve(message.report);
      else reject(new Error(message.message));
    });
    worker.on('error', (error) => { finish(); reject(error); });
    worker.on('exit', (code) => { finish(); reject(new Error(`fuzz worker exited with code ${code} before reporting`)); });
  });
}

/** Labels of the verdicts a report reached, most frequent first, as `label×count`. */
export function summarizeOutcomes(report: FuzzReport, top = 12): string {
  return Object.entries(report.outcomes)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([label, count]) => `${label}×${count}`)
    .join(' ');
}

// ── splitting ─────────────────────────────────────────────────────────────────────────────────────────

/** The same bytes cut into pieces of random sizes in [1, maxPiece]. */
export function randomPieces(bytes: Uint8Array, random: Random, maxPiece: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = random.range(1, maxPiece);
    pieces.push(bytes.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

/**
 * The ways a stream is fed to a parser: whole; byte by byte (or, for long inputs, pieces of 1-7 bytes so
 * a case stays cheap); random small and larger pieces; and one cut at a random offset.
 */
export function chunkings(bytes: Uint8Array, random: Random, byteByByteMax = 4096): Array<{ label: string; chunks: Uint8Array[] }> {
  const ways: Array<{ label: string; chunks: Uint8Array[] }> = [{ label: 'whole', chunks: [bytes] }];
  if (bytes.length <= byteByByteMax) {
    ways.push({ label: 'byte by byte', chunks: Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)) });
  } else {
    ways.push({ label: 'pieces of 1-7 bytes', chunks: randomPieces(bytes, random, 7) });
  }
  ways.push({ label: 'pieces of 1-16 bytes', chunks: randomPieces(bytes, random, 16) });
  ways.push({ label: 'pieces of 1-300 bytes', chunks: randomPieces(bytes, random, 300) });
  if (bytes.length > 1) {
    const at = random.range(1, bytes.length - 1);
    ways.push({ label: `cut at ${at}`, chunks: [bytes.subarray(0, at), bytes.subarray(at)] });
  }
  return ways;
}
