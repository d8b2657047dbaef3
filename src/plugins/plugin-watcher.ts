/**
 * `serve --plugin FILE --watch`: when FILE changes, its new version serves the next connections.
 *
 *   fs.watch(the file's directory)   editors save by rename, so the file itself is not watched
 *     → debounce (one reload per burst of writes)
 *     → import(FILE?v=N)             a new URL is a new module instance: Node caches by URL
 *     → the same checks as at start (default export, factory with the same options, a ProtocolHandler)
 *     → registry.replace(new, old)   for new connections only
 *
 * Connections already taken over keep the handler object that took them over: the old version's code
 * goes on running them until they end. A version that fails to load (a syntax error, a throw, not a
 * handler, a token another plugin has) leaves the old one registered, and `log` says why. Only FILE is
 * re-imported: modules it imports stay as first loaded (Node has no way to unload them).
 */
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import type { ProtocolHandler } from '../registry/plugin.js';
import type { Registry } from '../registry/registry.js';
import { isolate } from './isolate.js';
import { type LoadedPlugin, PluginErrorCode, pluginName } from './load-plugin.js';
import type { PluginOptions } from './plugin-options.js';
import { handlerProblems } from './validate-handler.js';

export interface VersionedPlugin extends LoadedPlugin {
  /** The handler as exported (or made by the factory), not isolated. */
  readonly raw: ProtocolHandler<any>;
  /** Every export of the module (`contract`, say). */
  readonly module: Readonly<Record<string, unknown>>;
  readonly version: number;
}

/**
 * Import `file` as a new module instance (`?v=version`) and check it as `loadPlugin` does; the errors
 * are the same `UsageError`s with the same codes.
 */
export async function importPluginVersion(file: string, version: number, options: PluginOptions | undefined = undefined): Promise<VersionedPlugin> {
  const name = pluginName(file);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(PluginErrorCode.NotFound, `plugin ${file}: no such file`);
  let module: Record<string, unknown>;
  try {
    module = await import(`${pathToFileURL(file).href}?v=${version}`) as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
    throw new UsageError(PluginErrorCode.Import, `plugin ${file} failed to load: ${message}`);
  }
  const exported = module['default'];
  if (exported === undefined) throw new UsageError(PluginErrorCode.NoDefaultExport, `plugin ${file} has no default export; add "export default handler"`);
  const fromFactory = typeof exported === 'function';
  let handler: unknown = exported;
  if (fromFactory) {
    try {
      handler = await (exported as (options: PluginOptions) => unknown)({ ...options });
    } catch (error) {
      throw new UsageError(PluginErrorCode.Factory, `plugin ${file}: its factory failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const problems = handlerProblems(handler);
  if (problems.length > 0) throw new UsageError(PluginErrorCode.Invalid, `plugin ${file}: not a ProtocolHandler: ${problems.join('; ')}`);
  const raw = handler as ProtocolHandler<any>;
  return { name, file, handler: isolate(raw), raw, fromFactory, module, version };
}

export interface PluginWatcherOptions {
  /** The plugin as loaded at start: its file, and the handler now registered. */
  readonly plugin: LoadedPlugin;
  readonly registry: Registry;
  /** The options its factory was given at start; each new version gets the same. */
  readonly options?: PluginOptions;
  /** One line per reload: `failed` is true when the new version was refused (and the old one kept). */
  readonly log: (line: string, failed: boolean) => void;
  /** Quiet time after the last change before reloading (default 100 ms). */
  readonly debounceMs?: number;
}

export class PluginWatcher {
  readonly #options: PluginWatcherOptions;
  readonly #watcher: FSWatcher;
  #current: LoadedPlugin;
  #version = 1;
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: PluginWatcherOptions) {
    this.#options = options;
    this.#current = options.plugin;
    const file = basename(options.plugin.file);
    this.#watcher = watch(dirname(options.plugin.file), (_event, changed) => {
      if (changed !== null && changed.toString() !== file) return;
      this.#schedule();
    });
    this.#watcher.on('error', (error) => options.log(`plugin ${options.plugin.name}: cannot watch ${options.plugin.file} any more: ${error.message}`, true));
  }

  /** The handler now registered for new connections. */
  get current(): LoadedPlugin { return this.#current; }
  /** The version now registered: 1 as loaded at start, then one more per successful reload. */
  get version(): number { return this.#version; }

  /** Reload now (what a change of the file does after the debounce); resolves when done, never rejects. */
  reload(): Promise<void> {
    this.#reloading = this.#reloading.then(() => this.#reload());
    return this.#reloading;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#watcher.close();
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => { this.#timer = undefined; void this.reload(); }, this.#options.debounceMs ?? 100);
  }

  async #reload(): Promise<void> {
    if (this.#closed) return;
    const { registry, log } = this.#options;
    const name = this.#current.name;
    const next = this.#version + 1;
    // Each attempt gets its own URL, failed ones too: a module that failed to evaluate stays failed at its URL.
    const attempt = ++attempts;
    try {
      const loaded = await importPluginVersion(this.#current.file, attempt, this.#options.options);
      registry.replace(loaded.handler, this.#current.handler.token);
      this.#current = loaded;
      this.#version = next;
      log(`plugin ${name}: v${next} loaded from ${loaded.file} (${loaded.handler.token}); new connections get it, open ones keep theirs`, false);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`plugin ${name}: the new version was refused, v${this.#version} keeps serving: ${message.replace(/^plugin /, '')}`, true);
    }
  }
}

/** Module URLs must never repeat across watchers in one process. */
let attempts = 1;

/** `serve --watch`: one watcher per plugin file, each reloading into `registry`; `close` stops them all. */
export function watchPlugins(
  registry: Registry,
  plugins: readonly (LoadedPlugin & { readonly options?: PluginOptions | undefined })[],
  log: (line: string, failed: boolean) => void,
): { readonly watchers: readonly PluginWatcher[]; close(): void } {
  const watchers = plugins.map((plugin) => new PluginWatcher({ plugin, registry, log, ...(plugin.options === undefined ? {} : { options: plugin.options }) }));
  return { watchers, close: () => { for (const watcher of watchers) watcher.close(); } };
}
