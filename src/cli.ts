#!/usr/bin/env node
import { CliError } from './cli/cli-error.js';
import { connectCommand, CONNECT_HELP } from './cli/connect.js';
import { experimentCommand, EXPERIMENT_HELP } from './cli/experiment.js';
import { probeCommand, PROBE_HELP } from './cli/probe.js';
import { serve, SERVE_HELP } from './cli/serve.js';
import { newPluginCommand, NEW_PLUGIN_HELP } from './cli/new-plugin.js';
import { checkPluginCommand, CHECK_PLUGIN_HELP } from './cli/check-plugin.js';

const HELP = `switchyard — one TCP port, plain HTTP and any number of Upgrade protocols

Usage:
  switchyard serve [--host HOST] [--port PORT] [--trace] [--limit NAME=VALUE]... [--plugin FILE]... [--watch] [--tunnel NAME=HOST:PORT]...
                   [--tls-cert FILE --tls-key FILE | --tls-self-signed [--tls-export-cert FILE]]
  switchyard connect <ws-url|wss-url> [--binary] [--protocol NAME] [-H 'Name: value'] [--verbose] [--hexdump] [--cacert FILE | -k]
  switchyard connect --upgrade TOKEN <url> [--cacert FILE | -k]
  switchyard connect --http2 <ws-url|wss-url> [--upgrade TOKEN] [...]  (RFC 8441 extended CONNECT on an h2 stream)
  switchyard probe <url> [--upgrade TOKEN] [--http2] [--cacert FILE | -k]
  switchyard experiment [name]
  switchyard new-plugin NAME [--dir DIR]
  switchyard check-plugin FILE [--token T] [--only NAME]... [--option K=V]...
  switchyard help [command]

Commands:
  serve        serve plain HTTP and every registered Upgrade protocol on one port
  connect      a WebSocket (or any --upgrade protocol) client on stdin/stdout, for any server
  probe        send one upgrade request; print the request and response annotated and checked
  experiment   run a scripted experiment that answers a classic question with real traffic
  new-plugin   write a working Upgrade protocol (NAME.js) and its test (NAME.test.js) to start from
  check-plugin run the contract checks against a plugin file: one line per check, ok or FAIL

Run "switchyard <command> --help" for a command's options and its exit codes.

Exit codes: 0 success, 1 runtime failure (e.g. port busy, connection refused), 2 usage error;
connect also uses 3 for a connection that closed abnormally after the upgrade.
`;

const commands: Record<string, { run: (argv: string[]) => Promise<void>; help: string }> = {
  serve: { run: (argv) => serve(argv, process.env), help: SERVE_HELP },
  connect: { run: connectCommand, help: CONNECT_HELP },
  probe: { run: probeCommand, help: PROBE_HELP },
  experiment: { run: experimentCommand, help: EXPERIMENT_HELP },
  'new-plugin': { run: newPluginCommand, help: NEW_PLUGIN_HELP },
  'check-plugin': { run: checkPluginCommand, help: CHECK_PLUGIN_HELP },
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
