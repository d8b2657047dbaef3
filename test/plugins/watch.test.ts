/**
 * `serve --plugin FILE --watch`, as its user sees it: a connection taken over by v1 keeps v1's behaviour
 * after FILE is rewritten; a new connection gets v2; a v3 that does not load leaves v2 serving and says
 * why; a good file after it is loaded again. And Registry.replace, which the watcher swaps with.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from '../../src/registry/registry.js';
import type { ProtocolHandler } from '../../src/registry/plugin.js';
import { RawClient } from '../helpers/raw-client.js';
import { startServe, stopServe } from '../helpers/serve.js';

/** A line protocol that answers each line with `<tag> <line>`: which version served it is on the wire. */
const version = (tag: string): string => `// greet.js ${tag}
export default {
  token: 'greet/1',
  takeover({ socket, head, signal }) {
    return new Promise((done) => {
      const reply = (bytes) => { if (!socket.write('${tag} ' + Buffer.from(bytes).toString())) socket.pause(); };
      if (head.length > 0) reply(head);
      socket.on('data', reply).on('drain', () => socket.resume());
      socket.on('end', () => socket.end());
      const goodbye = () => socket.end();
      signal.addEventListener('abort', goodbye, { once: true });
      socket.on('close', () => { signal.removeEventListener('abort', goodbye); done(); });
      socket.resume();
    });
  },
};
`;

const upgrade = 'GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: greet/1\r\n\r\n';

async function greeted(port: number): Promise<RawClient> {
  const client = await RawClient.open(port);
  client.write(upgrade);
  await client.waitFor((t) => t.includes('\r\n\r\n'), 5_000, 'the 101');
  return client;
}

/** Send a line and wait for the answer to it; returns the answer line. */
async function ask(client: RawClient, line: string): Promise<string> {
  client.write(`${line}\n`);
  const text = await client.waitFor((t) => new RegExp(` ${line}\\n$`).test(t), 5_000, `the answer to ${line}`);
  return text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
}

describe('serve --plugin FILE --watch', { timeout: 120_000 }, () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'switchyard-watch-')); await writeFile(join(dir, 'package.json'), '{"type":"module"}\n'); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('open connections keep v1, new ones get v2, a broken v3 keeps v2 and says why, a good file loads again', async () => {
    const file = join(dir, 'greet.js');
    await writeFile(file, version('v1'));
    const served = await startServe(['--port', '0', '--plugin', file, '--watch']);
    let stdout = served.stdout;
    served.child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    const waitForOutput = async (pattern: RegExp, what: string, stream: () => string): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while (!pattern.test(stream())) {
        if (Date.now() > deadline) throw new Error(`no ${what}; stdout: ${stdout}\nstderr: ${served.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const clients: RawClient[] = [];
    try {
      assert.match(stdout, new RegExp(`\\nplugin greet: watching ${file.replace(/[.]/g, '\\.')} for changes\\n`));
      const first = await greeted(served.port);
      clients.push(first);
      assert.equal(await ask(first, 'a'), 'v1 a\n');

      await writeFile(file, version('v2'));
      await waitForOutput(/plugin greet: v2 loaded from .*greet\.js \(greet\/1\)/, 'reload line for v2', () => stdout);
      assert.equal(await ask(first, 'b'), 'v1 b\n', 'the connection v1 took over is still v1\'s');
      const second = await greeted(served.port);
      clients.push(second);
      assert.equal(await ask(second, 'c'), 'v2 c\n', 'a new connection gets v2');

      await writeFile(file, 'export default {\n  token: "greet/1",\n  takeover( {\n};\n');
      await waitForOutput(/plugin greet: the new version was refused, v2 keeps serving: .*greet\.js failed to load: SyntaxError: /, 'the refusal of v3', served.stderr);
      const third = await greeted(served.port);
      clients.push(third);
      assert.equal(await ask(third, 'd'), 'v2 d\n', 'v2 still serves new connections');

      await writeFile(file, 'export default { token: "greet/1" };\n');
      await waitForOutput(/v2 keeps serving: .*greet\.js: not a ProtocolHandler: "takeover" is missing/, 'the refusal of a non-handler', served.stderr);

      await writeFile(file, version('v3'));
      await waitForOutput(/plugin greet: v3 loaded/, 'reload line for the fixed file', () => stdout);
      const fourth = await greeted(served.port);
      clients.push(fourth);
      assert.equal(await ask(fourth, 'e'), 'v3 e\n');
      assert.equal(await ask(first, 'f'), 'v1 f\n', 'and the first connection is still v1\'s');
      assert.equal(await ask(second, 'g'), 'v2 g\n');
    } finally {
      for (const client of clients) client.close();
      assert.equal(await stopServe(served.child), 0);
    }
  });

  it('a factory plugin\'s new version is made with the options given at start', async () => {
    const file = join(dir, 'hail.js');
    const factory = (tag: string): string => version(tag)
      .replace('export default {', 'export default (options) => ({')
      .replace(`'${tag} ' +`, `options.greeting + ' ${tag} ' +`)
      .replace(/\n};\n$/, '\n});\n')
      .replace("token: 'greet/1'", "token: 'hail/1'");
    await writeFile(file, factory('v1'));
    const served = await startServe(['--port', '0', '--plugin', file, '--watch', '--plugin-option', 'hail.greeting=ahoy']);
    let stdout = served.stdout;
    served.child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    const client = await RawClient.open(served.port);
    try {
      await writeFile(file, factory('v2'));
      const deadline = Date.now() + 20_000;
      while (!/plugin hail: v2 loaded/.test(stdout)) {
        if (Date.now() > deadline) throw new Error(`no reload: ${stdout}${served.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      client.write('GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: hail/1\r\n\r\nx\n');
      await client.waitFor((t) => t.endsWith('ahoy v2 x\n'), 5_000, 'the v2 answer with the option');
    } finally {
      client.close();
      assert.equal(await stopServe(served.child), 0);
    }
  });

  it('--watch without --plugin is a usage error', async () => {
    const { run } = await import('../helpers/cli.js');
    const result = await run(['serve', '--port', '0', '--watch']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--watch reloads --plugin files: give at least one --plugin FILE/);
  });
});

describe('Registry.replace', () => {
  const handler = (token: string, tag = token): ProtocolHandler & { tag: string } => ({ token, tag, takeover: () => {}, close: () => { throw new Error(`close of ${tag} must not be called`); } });

  it('swaps the handler for a token in place, returns the old one, and does not close it', () => {
    const registry = new Registry().register(handler('a')).register(handler('greet/1', 'v1')).register(handler('b'));
    const changes: string[] = [];
    registry.onChange((change, token) => changes.push(`${change} ${token}`));
    const old = registry.replace(handler('GREET/1', 'v2'));
    assert.equal((old as { tag?: string }).tag, 'v1');
    assert.equal((registry.get('greet/1') as { tag?: string }).tag, 'v2');
    assert.deepEqual(registry.list().map((e) => e.token), ['a', 'GREET/1', 'b'], 'same place in the list');
    assert.deepEqual(changes, ['register GREET/1']);
  });

  it('a new token replaces the previous one; a token held by another handler is refused; nothing to replace registers', () => {
    const registry = new Registry().register(handler('greet/1')).register(handler('other/1'));
    const changes: string[] = [];
    registry.onChange((change, token) => changes.push(`${change} ${token}`));
    registry.replace(handler('greet/2'), 'greet/1');
    assert.equal(registry.has('greet/1'), false);
    assert.equal(registry.has('greet/2'), true);
    assert.deepEqual(changes, ['unregister greet/1', 'register greet/2']);
    assert.throws(() => registry.replace(handler('other/1'), 'greet/2'), { code: 'ERR_DUPLICATE_TOKEN' });
    assert.throws(() => registry.replace(handler('bad token'), 'greet/2'), { code: 'ERR_BAD_TOKEN' });
    assert.equal(registry.has('greet/2'), true, 'a refused replace changes nothing');
    assert.equal(registry.replace(handler('fresh/1')), undefined);
    assert.equal(registry.has('fresh/1'), true);
  });
});
