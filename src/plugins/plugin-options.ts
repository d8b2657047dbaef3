import { UsageError } from '../errors.js';

/** Options for one plugin's factory: what `--plugin-config` and `--plugin-option` said about it. */
export type PluginOptions = Record<string, unknown>;

/**
 * Merge the options for each loaded plugin, by plugin name (a plugin file's base name without its
 * extension: `./my-protocol.js` is `my-protocol`):
 *
 * - `config` is the parsed `--plugin-config` file: `{ "<plugin name>": { "<key>": <value>, ... } }`;
 * - each `entries` item is a `--plugin-option <plugin name>.<key>=<value>`, applied after the file so the
 *   command line wins. A value that parses as JSON is taken as JSON (`port=8080` is the number 8080, as
 *   in the file; `tags=["a","b"]` an array); anything else is the text itself (`greeting=hi there`).
 *
 * A name that is not a loaded plugin is an error, not something to ignore: a typo must not silently
 * leave a plugin on its defaults. Pure: the caller reads the file.
 */
export function mergePluginOptions(
  names: readonly string[],
  entries: readonly string[],
  config: unknown = {},
  configSource = 'the plugin config',
): Map<string, PluginOptions> {
  const merged = new Map<string, PluginOptions>(names.map((name) => [name, {}]));
  const known = (): string => (names.length === 0 ? 'no plugins are loaded' : `loaded plugins: ${names.join(', ')}`);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new UsageError('ERR_PLUGIN_OPTIONS', `${configSource} must be a JSON object of the form {"<plugin name>": {"<option>": <value>}}`);
  }
  for (const [name, options] of Object.entries(config)) {
    const target = merged.get(name);
    if (!target) throw new UsageError('ERR_PLUGIN_OPTIONS', `${configSource} has options for "${name}", which is not a loaded plugin (${known()})`);
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new UsageError('ERR_PLUGIN_OPTIONS', `${configSource}: the options for "${name}" must be a JSON object`);
    }
    Object.assign(target, options);
  }
  // Longest name first, so `a.b.key=1` goes to a plugin named `a.b` rather than `a` when both exist.
  const byLength = [...names].sort((x, y) => y.length - x.length);
  for (const entry of entries) {
    const name = byLength.find((candidate) => entry.startsWith(`${candidate}.`));
    const equals = entry.indexOf('=');
    if (name === undefined) {
      throw new UsageError('ERR_PLUGIN_OPTIONS', `--plugin-option "${entry}" does not start with a loaded plugin's name and a dot (${known()})`);
    }
    const key = equals === -1 ? '' : entry.slice(name.length + 1, equals);
    if (equals === -1 || key === '') {
      throw new UsageError('ERR_PLUGIN_OPTIONS', `--plugin-option "${entry}": expected ${name}.<key>=<value>`);
    }
    merged.get(name)![key] = parseValue(entry.slice(equals + 1));
  }
  return merged;
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
