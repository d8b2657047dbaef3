import { parseArgs } from 'node:util';
import { EXPERIMENTS, findExperiment, Report } from '../experiments/index.js';
import { CliError } from './cli-error.js';

const width = Math.max(...EXPERIMENTS.map((e) => e.name.length));
const LIST = EXPERIMENTS.map((e) => `  ${e.name.padEnd(width)}  ${e.title}`).join('\n');

export const EXPERIMENT_HELP = `switchyard experiment [name]

Run a scripted experiment: it starts a lab on a free port of 127.0.0.1, drives real clients against it,
and prints the steps, the server's trace, the connection table and a one-line conclusion that answers
its question from what actually happened. Without a name, list the experiments.

Experiments:
${LIST}

Exit codes: 0 the experiment ran and showed what it exists to show; 1 it could not run, or what
happened contradicts its conclusion (the output says what was seen); 2 unknown experiment.
`;

export async function experimentCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) { process.stdout.write(EXPERIMENT_HELP); return; }
  if (positionals.length === 0) {
    process.stdout.write(`experiments (run one with "switchyard experiment <name>"):\n${LIST}\n`);
    return;
  }
  if (positionals.length > 1) throw new CliError('experiment takes one name; run "switchyard experiment" to list them');
  const experiment = findExperiment(positionals[0]!);
  if (!experiment) throw new CliError(`unknown experiment "${positionals[0]}"; one of: ${EXPERIMENTS.map((e) => e.name).join(', ')}`);
  const report = new Report((text) => process.stdout.write(text));
  report.header(experiment);
  let ok: boolean;
  try {
    ok = await experiment.run(report);
  } catch (error) {
    throw new CliError(`experiment ${experiment.name} failed: ${error instanceof Error ? error.message : String(error)}`, 1);
  }
  if (!ok) process.exitCode = 1;
}
