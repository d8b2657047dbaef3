import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../../src/errors.js';
import { loadPlugin, loadPlugins, PluginErrorCode, pluginName, readPluginConfig } from '../../src/plugins/load-plugin.js';
import { mergePluginOptions } from '../../src/plugins/plugin-options.js';
import { handlerProblems } from '../../src/plugins/validate-handler.js';
import { EXAMPLES } from './paths.js';


const fails = (code: string, message: RegExp) => (error: unknown): boolean => {
  assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
  assert.equal(error.code, code);
  assert.match(error.message, message);
  return true;
};

describe('plugin loader', () => {
  let dir = '';
  const file = (name: string): string => join(dir, name);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-plugins-'));
    await writeFile(file('no-default.mjs'), 'export const handler = { token: "x", takeover() {} };\n');
    await writeFile(file('not-handler.mjs'), 'export default { token: "bad token", takeover: 42, close: "no" };\n');
    await writeFile(file('bad-factory-result.mjs'), 'export default () => null;\n');
    await writeFile(file('broken-syntax.mjs'), 'export default {;\n');
    await writeFile(file('throws-on-load.mjs'), 'throw new Error("cannot start here");\n');
    await writeFile(file('typescript.ts'), 'export default {};\n');
    await writeFile(file('async-factory.mjs'), 'export default async (o) => ({ token: o.token ?? "async/1", takeover() {} });\n');
    await mkdir(file('a-directory.js'));
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('loads a default-exported handler, by relative path, absolute path or file: URL', async () => {
    const absolute = join(EXAMPLES, 'shout.js');
    for (const path of [absolute, relative(process.cwd(), absolute), pathToFileURL(absolute).href]) {
      const loaded = await loadPlugin(path);
      assert.equal(loaded.name, 'shout');
      assert.equal(loaded.file, absolute);
      assert.equal(loaded.handler.token, 'shout/1');
      assert.equal(loaded.fromFactory, false);
    }
  });

  it('calls a factory with the options given for the plugin, awaiting an async one', async () => {
    const knock = await loadPlugin(join(EXAMPLES, 'knock.js'), { secret: 's' });
    assert.equal(knock.handler.token, 'knock');
    assert.equal(knock.fromFactory, true);
    assert.equal((await loadPlugin(file('async-factory.mjs'), { token: 'later/2' })).handler.token, 'later/2');
    assert.equal((await loadPlugin(file('async-factory.mjs'))).handler.token, 'async/1', 'a factory gets {} without options');
  });

  it('explains each way a plugin file can be wrong', async () => {
    await assert.rejects(loadPlugin(file('missing.js')), fails(PluginErrorCode.NotFound, /missing\.js: no such file/));
    await assert.rejects(loadPlugin(file('a-directory.js')), fails(PluginErrorCode.NotFound, /not a file/));
    await assert.rejects(loadPlugin(file('no-default.mjs')), fails(PluginErrorCode.NoDefaultExport, /has no default export \(it exports handler\); add "export default handler"/));
    await assert.rejects(loadPlugin(file('not-handler.mjs')), fails(PluginErrorCode.Invalid, /"token" "bad token" is not an Upgrade token.*"takeover" is a number \(42\).*"close" is a string/));
    await assert.rejects(loadPlugin(file('bad-factory-result.mjs')), fails(PluginErrorCode.Invalid, /the handler its factory returned is not a ProtocolHandler: it is null/));
    await assert.rejects(loadPlugin(file('broken-syntax.mjs')), fails(PluginErrorCode.Import, /failed to load: SyntaxError/));
    await assert.rejects(loadPlugin(file('throws-on-load.mjs')), fails(PluginErrorCode.Import, /failed to load: cannot start here/));
    await assert.rejects(loadPlugin(file('typescript.ts')), fails(PluginErrorCode.Import, /compile the plugin with tsc and load the \.js file/));
    await assert.rejects(loadPlugin(join(EXAMPLES, 'knock.js')), fails(PluginErrorCode.Factory, /its factory failed: knock needs a secret/));
    await assert.rejects(loadPlugin(join(EXAMPLES, 'shout.js'), { loud: true }), fails(PluginErrorCode.Options, /exports a handler, not a factory, so it takes no options \(got loud\)/));
  });

  it('refuses two plugins with the same name, since options are given by name', async () => {
    await assert.rejects(loadPlugins([join(EXAMPLES, 'shout.js'), join(dir, 'shout.js')], () => undefined),
      fails(PluginErrorCode.NameClash, /both named "shout"/));
    assert.equal(pluginName('./lib/my-protocol.mjs'), 'my-protocol');
    assert.equal(pluginName('file:///x/y/v1.plugin.js'), 'v1.plugin');
  });

  it('reads a JSON config file and says what is wrong with a bad one', async () => {
    await writeFile(file('good.json'), '{"knock": {"secret": "s"}}');
    await writeFile(file('bad.json'), '{"knock": ');
    assert.deepEqual(await readPluginConfig(file('good.json')), { knock: { secret: 's' } });
    await assert.rejects(readPluginConfig(file('bad.json')), fails(PluginErrorCode.Options, /bad\.json is not valid JSON/));
    await assert.rejects(readPluginConfig(file('none.json')), fails(PluginErrorCode.Options, /cannot read it \(ENOENT\)/));
  });
});

describe('plugin options', () => {
  it('merges the config file and --plugin-option entries, the command line winning; values are JSON or text', () => {
    const merged = mergePluginOptions(['knock', 'shout', 'a', 'a.b'],
      ['knock.secret=cli', 'knock.heartbeatMs=250', 'knock.greeting=hi there', 'knock.tags=["x",1]', 'a.b.key=1', 'a.x.y=true', 'knock.empty='],
      { knock: { secret: 'file', greeting: 'hello' }, shout: {} });
    assert.deepEqual(merged.get('knock'), { secret: 'cli', greeting: 'hi there', heartbeatMs: 250, tags: ['x', 1], empty: '' });
    assert.deepEqual(merged.get('shout'), {});
    assert.deepEqual(merged.get('a.b'), { key: 1 }, 'the longest matching plugin name wins');
    assert.deepEqual(merged.get('a'), { 'x.y': true });
  });

  it('refuses options for plugins that are not loaded, and malformed entries', () => {
    assert.throws(() => mergePluginOptions(['knock'], ['knok.secret=x']), fails('ERR_PLUGIN_OPTIONS', /does not start with a loaded plugin's name.*loaded plugins: knock/));
    assert.throws(() => mergePluginOptions([], ['x.y=1']), fails('ERR_PLUGIN_OPTIONS', /no plugins are loaded/));
    assert.throws(() => mergePluginOptions(['knock'], ['knock.secret']), fails('ERR_PLUGIN_OPTIONS', /expected knock\.<key>=<value>/));
    assert.throws(() => mergePluginOptions(['knock'], ['knock.=1']), fails('ERR_PLUGIN_OPTIONS', /expected knock\.<key>=<value>/));
    assert.throws(() => mergePluginOptions(['knock'], [], { shout: {} }, 'plugin config x.json'), fails('ERR_PLUGIN_OPTIONS', /plugin config x\.json has options for "shout", which is not a loaded plugin/));
    assert.throws(() => mergePluginOptions(['knock'], [], { knock: 3 }), fails('ERR_PLUGIN_OPTIONS', /the options for "knock" must be a JSON object/));
    assert.throws(() => mergePluginOptions(['knock'], [], [1]), fails('ERR_PLUGIN_OPTIONS', /must be a JSON object/));
  });
});

describe('handler validation', () => {
  it('accepts a minimal handler and names every problem of a bad one', () => {
    assert.deepEqual(handlerProblems({ token: 'TLS/1.0', takeover() {} }), []);
    assert.deepEqual(handlerProblems({ token: 'x', takeover() {}, handshake() {}, close() {}, description: 'd' }), []);
    assert.match(handlerProblems(undefined)[0]!, /it is missing/);
    assert.match(handlerProblems([])[0]!, /it is an array/);
    assert.match(handlerProblems(() => {})[0]!, /it is a function/);
    const problems = handlerProblems({ token: 'a/b/c', handshake: 1, description: 2 });
    assert.equal(problems.length, 4);
    assert.match(problems.join('\n'), /"token" "a\/b\/c" is not an Upgrade token/);
    assert.match(problems.join('\n'), /"takeover" is missing/);
    assert.match(handlerProblems({ token: 7, takeover() {} })[0]!, /"token" is a number \(7\)/);
  });
});
