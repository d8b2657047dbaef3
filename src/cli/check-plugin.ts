/**
 * `switchyard check-plugin FILE`: the contract checks of `switchyard/testing`, run against a plugin
 * file on private servers, one line per check. Each check gets a fresh copy of the plugin (the module
 * imported anew, its factory called again), so one check's leftovers cannot fail the next. How to talk
 * to the protocol comes from the module's `contract` export when it has one (docs/plugins.md).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { loadPlugin, pluginName } from '../plugins/load-plugin.js';
import { mergePluginOptions, type PluginOptions } from '../plugins/plugin-options.js';
import { importPluginVersion } from '../plugins/plugin-watcher.js';
import type { CheckOptions } from '../testing/check-options.js';
import { CONTRACT_CHECKS, formatCheckLine } from '../testing/contract-checks.js';
import { CliError } from './cli-error.js';

export const CHECK_PLUGIN_HELP = `switchyard check-plugin FILE [--token T] [--only NAME]... [--option K=V]...

Load the plugin in FILE and run the contract checks against it, each on a private server on 127.0.0.1,
printing one line per check: ok, FAIL (with what was seen) or skip. The checks and what they catch:
docs/plugins.md ("The contract checks"). How to talk to the protocol comes from FILE's named export
\`contract\` (CheckOptions of switchyard/testing); without it, a message is a line answered on the same
connection.

Options:
  --token T      offer T instead of the handler's token (for a handler registered as a bare name)
  --only NAME    run only this check; repeatable
  --option K=V   option K for the plugin's factory (V is JSON if it parses as JSON, else text); repeatable
  -h, --help     show this help

Exit codes: 0 every check passed (or was skipped), 1 a check failed, 2 usage error or the plugin
cannot be loaded.
`;

export async function checkPluginCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      token: { type: 'string' },
      only: { type: 'string', multiple: true, default: [] },
      option: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) { process.stdout.write(CHECK_PLUGIN_HELP); return; }
  if (positionals.length !== 1) throw new CliError('check-plugin takes one FILE, e.g. switchyard check-plugin ./my-proto.js');
  const known = CONTRACT_CHECKS.map((c) => c.name as string);
  for (const name of values.only!) if (!known.includes(name)) throw new CliError(`--only ${name}: no such check; known: ${known.join(', ')}`);
  const file = resolve(positionals[0]!);
  // Loaded once as serve would, so a broken file is the same one-line error as with serve --plugin.
  let first;
  let factoryOptions: PluginOptions | undefined;
  try {
    const name = pluginName(file);
    factoryOptions = values.option!.length === 0 ? undefined : mergePluginOptions([name], values.option!.map((entry) => `${name}.${entry}`)).get(name);
    first = await loadPlugin(file, factoryOptions);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new CliError(error.message, 2);
  }
  const firstVersion = await importPluginVersion(file, 0, factoryOptions);
  const contract = firstVersion.module['contract'];
  if (contract !== undefined && (contract === null || typeof contract !== 'object')) {
    throw new CliError(`${file}: its "contract" export must be an object (CheckOptions of switchyard/testing)`);
  }
  const options: CheckOptions = { ...(contract as CheckOptions | undefined), ...(values.token === undefined ? {} : { token: values.token }) };
  let copies = 0;
  const fresh = async () => (await importPluginVersion(file, ++copies, factoryOptions)).raw;
  const checks = values.only!.length > 0 ? CONTRACT_CHECKS.filter((c) => values.only!.includes(c.name)) : CONTRACT_CHECKS;
  process.stdout.write(`check-plugin ${positionals[0]}: ${options.token ?? first.handler.token}, ${checks.length} check${checks.length === 1 ? '' : 's'}${contract === undefined ? '' : ', driven by its contract export'}\n`);
  let failed = 0;
  let skipped = 0;
  for (const check of checks) {
    const result = await check.run(fresh, options);
    if (!result.ok) failed++;
    else if (result.skipped) skipped++;
    process.stdout.write(formatCheckLine(result) + '\n');
  }
  await Promise.resolve(first.handler.close?.()).catch(() => {});
  await Promise.resolve(firstVersion.raw.close?.()).catch(() => {});
  process.stdout.write(`${checks.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped\n`);
  // Exit now: a plugin's timer that nobody unref'd must not keep the checker running.
  process.exit(failed > 0 ? 1 : 0);
}
