#!/usr/bin/env node
import { CliError } from './cli/cli-error.js';
import { serve, SERVE_HELP } from './cli/serve.js';

const HELP = `switchyard — one TCP port, plain HTTP and any number of Upgrade protocols

Usage:
  switchyard serve [--host HOST] [--port PORT] [--trace]
  switchyard help [command]

Run "switchyard <command> --help" for a command's options.

Exit codes: 0 success, 1 runtime failure (e.g. port busy), 2 usage error.
`;

const commands: Record<string, { run: (argv: string[]) => Promise<void>; help: string }> = {
  serve: { run: (argv) => serve(argv, process.env), help: SERVE_HELP },
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined;
    process.stdout.write(topic && commands[topic] ? commands[topic].help : HELP);
    return;
  }
  const entry = commands[command];
  if (!entry) throw new CliError(`unknown command "${command}"; run "switchyard --help"`);
  await entry.run(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // parseArgs reports bad flags with ERR_PARSE_ARGS_* codes: those are usage errors, not crashes.
  const code = (error as { code?: string }).code ?? '';
  if (error instanceof CliError || code.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`switchyard: ${(error as Error).message}\n`);
    process.exit(error instanceof CliError ? error.exitCode : 2);
  }
  process.stderr.write(`switchyard: unexpected failure: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
