import { parseArgs } from 'node:util';
import { startLab } from '../lab.js';
import { formatTraceLine } from '../server/trace.js';
import { CliError, parsePort } from './cli-error.js';

export const SERVE_HELP = `switchyard serve [options]

Serve plain HTTP and every registered Upgrade protocol on one TCP port.

Options:
  --host HOST     address to listen on (default 127.0.0.1)
  --port PORT     port to listen on; 0 picks a free one (default $PORT or 8080)
  --trace         print one line per accept/request/upgrade/close on stderr, with its 5-tuple
  -h, --help      show this help
`;

export async function serve(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      trace: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) { process.stdout.write(SERVE_HELP); return; }
  const port = parsePort(values.port ?? env.PORT ?? '8080');
  let server;
  try {
    server = await startLab({ host: values.host!, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${port} on ${values.host} is already in use; pick another with --port (0 picks a free one)`, 1);
    if (code === 'EACCES') throw new CliError(`not allowed to listen on ${values.host}:${port} (ports below 1024 need privileges)`, 1);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new CliError(`cannot listen on ${values.host}: no such local address`, 1);
    throw error;
  }
  if (values.trace) server.events.subscribe((event) => process.stderr.write(formatTraceLine(event) + '\n'));
  // Signal handlers go in before the URL is printed: whoever reads the URL may signal at once.
  const stop = (signal: string): void => {
    process.stderr.write(`${signal}: closing gracefully\n`);
    const force = setTimeout(() => process.exit(1), server.limits.shutdownTimeoutMs + 2_000);
    force.unref();
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.stdout.write(`switchyard listening on ${server.url}\n`);
  process.stdout.write(`protocols: ${server.registry.list().map((p) => p.token).join(', ')}\n`);
}
