/**
 * `switchyard new-plugin NAME`, as its user meets it: the two files it writes, in a directory of their
 * own outside the repository (with node_modules/switchyard linked to this package, as `npm install
 * switchyard` would put it), loaded by `serve --plugin`, type-checked from their JSDoc, tested by their
 * own `node --test`, and checked by `check-plugin`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../helpers/cli.js';
import { runCommand } from '../helpers/run-command.js';
import { startServe, stopServe } from '../helpers/serve.js';
import { RawClient } from '../helpers/raw-client.js';
import { REPO } from '../plugins/paths.js';

/** Run a command in `cwd` with exactly `env`; killed, and the wait failed, after 120 s. */
function runIn(cwd: string, [command, ...args]: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')} did not exit within 120 s: ${stdout}${stderr}`)); }, 120_000);
    child.once('error', (error) => { clearTimeout(timer); reject(error); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

describe('switchyard new-plugin', { timeout: 180_000 }, () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-new-plugin-'));
    await mkdir(join(dir, 'node_modules'));
    await symlink(REPO, join(dir, 'node_modules', 'switchyard'), 'dir');
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes NAME.js, NAME.test.js and, with no package.json above, one that says "type": "module"', async () => {
    const result = await run(['new-plugin', 'tally', '--dir', dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^wrote ${join(dir, 'tally.js')}\nwrote ${join(dir, 'tally.test.js')}\nwrote ${join(dir, 'package.json')}\n`));
    assert.match(result.stdout, /switchyard check-plugin .*tally\.js/);
    assert.equal(JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')).type, 'module');
    const plugin = await readFile(join(dir, 'tally.js'), 'utf8');
    assert.match(plugin, /token: 'tally\/1'/);
    assert.match(plugin, /@typedef \{import\('switchyard'\)\.ProtocolHandler\} ProtocolHandler/);
    assert.match(plugin, /YOUR PROTOCOL/);
    assert.doesNotMatch(plugin, /^import /m, 'no runtime import: it loads wherever it is, with no install');
    assert.match(await readFile(join(dir, 'tally.test.js'), 'utf8'), /from 'switchyard\/testing'/);
  });

  it('its generated test passes as generated (node --test)', async () => {
    // As its user runs it: not as a child of this test run (node:test tells its children by NODE_TEST_CONTEXT).
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const ran = await runIn(dir, [process.execPath, '--test', '--test-reporter=tap', 'tally.test.js'], env);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(ran.stdout, /# pass 2\n# fail 0/);
  });

  it('check-plugin passes every check, driven by the contract it exports', async () => {
    const result = await run(['check-plugin', join(dir, 'tally.js')]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('ok ')).length, 9, result.stdout);
    assert.equal(lines.at(-1), '9 passed, 0 failed, 0 skipped');
  });

  it('type-checks from its JSDoc (tsc --checkJs), the test file too', async () => {
    const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
    const ran = await runCommand(process.execPath, [tsc, '--noEmit', '--allowJs', '--checkJs', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--skipLibCheck', '--typeRoots', join(REPO, 'node_modules/@types'), '--types', 'node',
      join(dir, 'tally.js'), join(dir, 'tally.test.js')], 120_000);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
  });

  it('serve --plugin loads it as it is and it echoes, the first line sent with the request', async () => {
    const served = await startServe(['--port', '0', '--plugin', join(dir, 'tally.js')]);
    try {
      assert.match(served.stdout, /\nplugin tally: tally\/1 from /);
      const client = await RawClient.open(served.port);
      client.write('GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: tally/1\r\n\r\nhello\n');
      await client.waitFor((t) => t.endsWith('\r\n\r\nhello\n'), 5_000, 'the echo of the first line');
      assert.match(client.text, /\r\nX-Tally: ready\r\n/);
      client.close();
    } finally {
      assert.equal(await stopServe(served.child), 0);
    }
  });

  it('is listed in the help, with check-plugin; each has its own --help', async () => {
    const help = await run(['--help']);
    assert.match(help.stdout, /\n  new-plugin   write a working Upgrade protocol/);
    assert.match(help.stdout, /\n  check-plugin run the contract checks against a plugin file/);
    assert.match((await run(['help', 'new-plugin'])).stdout, /^switchyard new-plugin NAME \[--dir DIR\]/);
    assert.match((await run(['check-plugin', '--help'])).stdout, /^switchyard check-plugin FILE/);
    assert.match((await run(['serve', '--help'])).stdout, /\n  --watch  +reload each --plugin file when it changes/);
  });

  it('inside a package that is an ES module it writes no package.json; it refuses bad names and existing files', async () => {
    const inner = join(dir, 'inner');
    await mkdir(inner);
    await writeFile(join(inner, 'package.json'), '{"type": "module"}\n');
    const ok = await run(['new-plugin', 'knock-knock', '--dir', inner]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stdout, /package\.json/);
    assert.match(readFileSync(join(inner, 'knock-knock.js'), 'utf8'), /\['X-Knock-Knock', 'ready'\]/);
    const again = await run(['new-plugin', 'knock-knock', '--dir', inner]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /knock-knock\.js exists; pick another NAME or pass --force/);
    assert.equal((await run(['new-plugin', 'knock-knock', '--dir', inner, '--force'])).code, 0);
    for (const bad of ['Bad', '9lives', 'a/b', 'x_y']) {
      const refused = await run(['new-plugin', bad, '--dir', inner]);
      assert.equal(refused.code, 2, bad);
      assert.match(refused.stderr, /cannot be a plugin name/);
    }
    assert.equal((await run(['new-plugin'])).code, 2);
    assert.match((await run(['new-plugin', 'x', '--dir', join(dir, 'nowhere')])).stderr, /no such directory/);
    assert.equal(existsSync(join(dir, 'nowhere')), false);
  });
});
