/**
 * Loading a protocol plugin from a file: what `switchyard serve --plugin ./my-protocol.js` does, also
 * usable from the library. A plugin is an ES module whose default export is either
 *
 *   - a ProtocolHandler (an object with `token` and `takeover`), or
 *   - a factory `(options) => ProtocolHandler | Promise<ProtocolHandler>`, called once with the options
 *     given for the plugin (plugin-options.ts), `{}` when none were.
 *
 * The handler comes back wrapped by `isolate` (isolate.ts). Each way this can go wrong has its own error code and a message naming the file, so a typo in a path
 * or a forgotten `export default` is one readable line at start-up, never a stack trace and never a
 * server that starts without the protocol its user asked for.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import type { ProtocolHandler } from '../registry/plugin.js';
import { isolate } from './isolate.js';
import type { PluginOptions } from './plugin-options.js';
import { handlerProblems } from './validate-handler.js';

export const PluginErrorCode = {
  NotFound: 'ERR_PLUGIN_NOT_FOUND',
  /** The module could not be imported: a syntax error, a missing dependency, a throw at top level. */
  Import: 'ERR_PLUGIN_IMPORT',
  NoDefaultExport: 'ERR_PLUGIN_NO_DEFAULT_EXPORT',
  Invalid: 'ERR_PLUGIN_INVALID',
  /** The factory threw or rejected. */
  Factory: 'ERR_PLUGIN_FACTORY',
  Options: 'ERR_PLUGIN_OPTIONS',
  NameClash: 'ERR_PLUGIN_NAME_CLASH',
} as const;
export type PluginErrorCode = (typeof PluginErrorCode)[keyof typeof PluginErrorCode];

export interface LoadedPlugin {
  /** The name options are given under: the file's base name without extension. */
  readonly name: string;
  /** Absolute path of the module. */
  readonly file: string;
  /** The plugin's handler, wrapped by `isolate` so a throw in its socket listeners costs one connection. */
  readonly handler: ProtocolHandler<any>;
  /** Whether the module exported a factory (and was given options) rather than a handler. */
  readonly fromFactory: boolean;
}

/** `./plugins/my-protocol.js` → `my-protocol`; the name `--plugin-option my-protocol.key=value` uses. */
export function pluginName(path: string): string {
  const file = basename(path.startsWith('file:') ? fileURLToPath(path) : path);
  return file.slice(0, file.length - extname(file).length) || file;
}

/** Resolve `path` (relative to `cwd`, absolute, or a `file:` URL), import it, and check what it exports. */
export async function loadPlugin(path: string, options: PluginOptions | undefined = undefined, cwd = process.cwd()): Promise<LoadedPlugin> {
  const file = path.startsWith('file:') ? fileURLToPath(path) : resolve(cwd, path);
  const name = pluginName(file);
  const shown = path === file ? file : `${path} (${file})`;
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new UsageError(PluginErrorCode.NotFound, `plugin ${shown}: no such file`);
  if (!info.isFile()) throw new UsageError(PluginErrorCode.NotFound, `plugin ${shown}: not a file`);

  let module: Record<string, unknown>;
  try {
    module = await import(pathToFileURL(file).href) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(PluginErrorCode.Import, `plugin ${shown} failed to load: ${importHint(file, error)}`);
  }
  if (!('default' in module) || module['default'] === undefined) {
    const named = Object.keys(module).filter((key) => key !== 'default');
    throw new UsageError(PluginErrorCode.NoDefaultExport,
      `plugin ${shown} has no default export${named.length > 0 ? ` (it exports ${named.join(', ')})` : ''}; ` +
      'add "export default handler" or "export default (options) => handler"');
  }
  const exported = module['default'];
  let handler: unknown = exported;
  const fromFactory = typeof exported === 'function';
  if (fromFactory) {
    try {
      handler = await (exported as (options: PluginOptions) => unknown)({ ...options });
    } catch (error) {
      throw new UsageError(PluginErrorCode.Factory, `plugin ${shown}: its factory failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else if (options && Object.keys(options).length > 0) {
    throw new UsageError(PluginErrorCode.Options,
      `plugin ${shown} exports a handler, not a factory, so it takes no options (got ${Object.keys(options).join(', ')})`);
  }
  const problems = handlerProblems(handler);
  if (problems.length > 0) {
    const what = fromFactory ? 'the handler its factory returned' : 'its default export';
    throw new UsageError(PluginErrorCode.Invalid, `plugin ${shown}: ${what} is not a ProtocolHandler: ${problems.join('; ')}`);
  }
  // A file's plugin is code the server's author did not write: contain its listeners' throws too.
  return { name, file, handler: isolate(handler as ProtocolHandler<any>), fromFactory };
}

/**
 * Load several plugins, each with its options by name. Names must be unique, since options are keyed by
 * them; loading is sequential so the errors, if any, come in the order the plugins were given.
 */
export async function loadPlugins(paths: readonly string[], optionsFor: (name: string) => PluginOptions | undefined, cwd = process.cwd()): Promise<LoadedPlugin[]> {
  const seen = new Map<string, string>();
  for (const path of paths) {
    const name = pluginName(path);
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new UsageError(PluginErrorCode.NameClash, `plugins ${earlier} and ${path} are both named "${name}"; options are given by name, so rename one file`);
    }
    seen.set(name, path);
  }
  const loaded: LoadedPlugin[] = [];
  for (const path of paths) loaded.push(await loadPlugin(path, optionsFor(pluginName(path)), cwd));
  return loaded;
}

/** Read and parse a `--plugin-config` JSON file. */
export async function readPluginConfig(path: string, cwd = process.cwd()): Promise<unknown> {
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(PluginErrorCode.Options, `plugin config ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(PluginErrorCode.Options, `plugin config ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function importHint(file: string, error: unknown): string {
  const message = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  if ((error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[mc]?ts$/.test(file)) {
    return `${message} — Node runs JavaScript: compile the plugin with tsc and load the .js file`;
  }
  return message;
}
