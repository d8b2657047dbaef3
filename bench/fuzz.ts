/**
 * `npm run fuzz -- [--seconds N] [--seed S] [--target NAME]... [--case I]`
 *
 * Runs the fuzz targets of test/fuzz (the HTTP request parser, the WebSocket frame decoder and the
 * WebSocket protocol) for N seconds in all, splitting the time between the targets, each in a worker
 * thread watched for hangs. The seed is printed first; a failure prints the target, seed and case and the
 * command that replays exactly that case (`--case I`), then exits 1. `npm test` runs a fixed number of
 * cases with fixed seeds (test/fuzz/*.fuzz.test.ts); this runs more, with a new seed each time by default.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type FuzzReport, runCase, runIsolated, summarizeOutcomes } from '../test/fuzz/engine.js';
import { TARGETS, TARGETS_URL } from '../test/fuzz/targets.js';

const USAGE = `usage: npm run fuzz -- [--seconds N] [--seed S] [--target NAME]... [--case I] [--hang-ms MS]
  --seconds N   total running time, split between the targets (default 10)
  --seed S      32-bit seed (default: a random one, printed)
  --target NAME one of ${Object.keys(TARGETS).join(', ')}; repeatable (default: all)
  --case I      replay case I of --seed S for one --target, print its verdict, and exit
  --hang-ms MS  a case that runs longer than this is reported as a hang (default 30000)
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}`);
  process.exit(2);
}

function integer(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        seconds: { type: 'string' },
        seed: { type: 'string' },
        target: { type: 'string', multiple: true },
        case: { type: 'string' },
        'hang-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) { process.stdout.write(USAGE); return; }
  const seconds = integer('seconds', values.seconds, 10, 1);
  const seed = integer('seed', values.seed, randomInt(0, 2 ** 32 - 1)) >>> 0;
  const hangMs = integer('hang-ms', values['hang-ms'], 30_000, 100);
  const names = values.target ?? Object.keys(TARGETS);
  for (const name of names) if (!(name in TARGETS)) fail(`unknown --target ${name}`);

  if (values.case !== undefined) {
    if (names.length !== 1) fail('--case needs exactly one --target');
    const index = integer('case', values.case, 0);
    const result = runCase(TARGETS[names[0]!]!, seed, index); // a FuzzFailure propagates with the details
    process.stdout.write(`${names[0]} seed ${seed} case ${index}: ${result.bytes} bytes → ${result.outcome}\n`);
    return;
  }

  process.stdout.write(`fuzz: seed ${seed}, ${seconds} s over ${names.join(', ')} (replay a case with --seed ${seed} --target NAME --case I)\n`);
  const share = (seconds * 1000) / names.length;
  const reports: FuzzReport[] = [];
  for (const name of names) {
    const started = Date.now();
    const report = await runIsolated({ target: name, targetsUrl: TARGETS_URL, seed, until: started + share, hangMs });
    const elapsed = (Date.now() - started) / 1000;
    reports.push(report);
    process.stdout.write(
      `  ${name.padEnd(14)} ${String(report.cases).padStart(8)} cases  ${(report.bytes / 1024 / 1024).toFixed(1).padStart(6)} MiB  ` +
      `${Math.round(report.cases / elapsed).toString().padStart(6)} cases/s\n    verdicts: ${summarizeOutcomes(report)}\n`,
    );
  }
  const total = reports.reduce((sum, r) => sum + r.cases, 0);
  process.stdout.write(`fuzz: ${total} cases, no failure (seed ${seed})\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
