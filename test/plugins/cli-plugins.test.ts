import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Backend, bannerEcho } from '../protocols/tcp-tunnel/backend.js';
import { parseResponses, RawClient } from '../helpers/raw-client.js';
import { EXAMPLES, REPO } from './paths.js';

const CLI = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));
const example = (name: string): string => join(EXAMPLES, `${name}.js`);
const TLS_CERT = join(REPO, 'test/fixtures/tls/cert.pem');
const TLS_KEY = join(REPO, 'test/fixtures/tls/key.pem');

/** A running `switchyard serve`, its output collected as it comes. */
class Serve {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args]);
    this.child.stdout.on('data', (d) => { this.stdout += d; });
    this.child.stderr.on('data', (d) => { this.stderr += d; });
    this.exited = once(this.child, 'exit').then(([code]) => code as number | null);
  }

  /** The port from the "listening on" line, once printed. */
  async port(): Promise<number> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const match = /listening on http:\/\/[^:]+:(\d+)\//.exec(this.stdout);
      if (match && this.stdout.includes('\nprotocols: ')) return Number(match[1]);
      if (this.child.exitCode !== null) throw new Error(`serve exited ${this.child.exitCode}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`serve did not start: ${this.stdout} ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Run `switchyard serve …` expecting it to refuse to start. */
async function refused(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const serve = new Serve(args);
  const code = await serve.exited;
  return { code, stderr: serve.stderr };
}

const upgrade = (token: string, path = '/', extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: ${token}\r\n${extra}\r\n`;

describe('switchyard serve --plugin', { timeout: 120_000 }, () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'switchyard-cli-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('loads the README\'s shout example from a file and serves it beside the built-in protocols', async () => {
    const serve = new Serve(['--plugin', example('shout')]);
    try {
      const port = await serve.port();
      assert.match(serve.stdout, /\nprotocols: websocket, echo, .*shout\/1\n/);
      assert.match(serve.stdout, /\nplugin shout: shout\/1 from .*shout\.js\n/);
      const client = await RawClient.open(port);
      client.write(upgrade('shout/1') + 'hello, ');
      await client.waitFor((t) => t.endsWith('HELLO, '), 5_000, 'the shout of the bytes sent with the request');
      assert.match(client.text, /\r\nX-Shout: ready\r\n/);
      client.write('wörld');
      await client.waitFor((t) => Buffer.from(t, 'latin1').toString('utf8').endsWith('HELLO, WöRLD'));
      client.close();
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });

  it('gives a factory its options from --plugin-config and --plugin-option (the command line wins)', async () => {
    const config = join(dir, 'plugins.json');
    await writeFile(config, JSON.stringify({ knock: { greeting: 'hello from the file', secret: 'overridden' } }));
    const serve = new Serve(['--plugin', example('knock'), '--plugin-config', config, '--plugin-option', 'knock.secret=open-sesame']);
    let session: RawClient | undefined;
    try {
      const port = await serve.port();
      const wrong = await RawClient.open(port);
      wrong.write(upgrade('knock', '/', 'X-Knock: overridden\r\n'));
      assert.equal(parseResponses(await wrong.waitForEnd())[0]!.status, 403);
      // knock declines versions it does not speak: the client's next offer gets the connection.
      const other = await RawClient.open(port);
      other.write(upgrade('knock/2, echo', '/', 'X-Knock: open-sesame\r\n') + 'ping');
      await other.waitFor((t) => t.endsWith('ping'));
      assert.match(other.text, /\r\nUpgrade: echo\r\n/);
      other.close();
      session = await RawClient.open(port);
      session.write(upgrade('knock/1', '/', 'X-Knock: open-sesame\r\nX-Visitor: ada\r\n'));
      await session.waitFor((t) => t.endsWith('hello from the file, ada\n'));
      assert.match(session.text, /\r\nX-Door: open\r\n/);
    } finally {
      assert.equal(await serve.stop(), 0);
    }
    // The shutdown signal reached the plugin: it said goodbye in its own words.
    assert.match(await session!.waitForEnd(), /the door closes\n$/);
  });

  it('a throwing plugin beside a healthy one: the trace logs each failure with its 5-tuple, the rest carry on', async () => {
    const serve = new Serve(['--trace', '--plugin', example('flaky'), '--plugin', example('shout')]);
    try {
      const port = await serve.port();
      const healthy = await RawClient.open(port);
      healthy.write(upgrade('shout/1') + 'a');
      await healthy.waitFor((t) => t.endsWith('A'));
      // The client's end of each 5-tuple, noted while the socket is open.
      const tuple = (client: RawClient): string => `tcp 127\\.0\\.0\\.1:${port} 127\\.0\\.0\\.1:${client.socket.localPort}`;
      const before = await RawClient.open(port);
      const beforeTuple = tuple(before);
      before.write(upgrade('flaky/1', '/handshake-bug'));
      assert.equal(parseResponses(await before.waitForEnd())[0]!.status, 500);
      const afterSwitch = await RawClient.open(port);
      const afterTuple = tuple(afterSwitch);
      afterSwitch.write(upgrade('flaky/1', '/takeover-bug'));
      assert.match(await afterSwitch.waitForEnd(), /about to fail\n$/);
      healthy.write('b');
      await healthy.waitFor((t) => t.endsWith('AB'));
      const deadline = Date.now() + 5_000;
      while (!/ERR_PLUGIN_TAKEOVER/.test(serve.stderr) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.match(serve.stderr, new RegExp(`error +#\\d+ ${beforeTuple} ERR_PLUGIN_HANDSHAKE: flaky/1 handshake threw: flaky: bug in handshake`));
      assert.match(serve.stderr, new RegExp(`error +#\\d+ ${afterTuple} ERR_PLUGIN_TAKEOVER: flaky/1 handler failed: flaky: bug in takeover`));
      healthy.close();
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });

  it('--tunnel and --tls-cert/--tls-key offer tcp and TLS/1.0', async () => {
    const backend = await Backend.start(bannerEcho);
    const serve = new Serve(['--tunnel', `echo=127.0.0.1:${backend.port}`, '--tls-cert', TLS_CERT, '--tls-key', TLS_KEY]);
    try {
      const port = await serve.port();
      assert.match(serve.stdout, /\nprotocols: .*\btcp\b.*TLS\/1\.0/);
      const client = await RawClient.open(port);
      client.write(upgrade('tcp', '/tunnel/echo') + 'through');
      await client.waitFor((t) => t.endsWith('\r\n\r\nbanner\nthrough'));
      client.close();
    } finally {
      assert.equal(await serve.stop(), 0);
      await backend.close();
    }
  });

  it('refuses bad plugins and options in one line, without a stack trace: 2 for usage, 1 for a plugin that fails', async () => {
    await writeFile(join(dir, 'not-a-handler.mjs'), 'export default { token: "x" };\n');
    await writeFile(join(dir, 'broken.mjs'), 'export default {;\n');
    await writeFile(join(dir, 'echo-again.mjs'), 'export default { token: "echo", takeover() {} };\n');
    const cases: Array<[string[], number, RegExp]> = [
      [['--plugin', join(dir, 'nope.js')], 2, /plugin .*nope\.js: no such file/],
      [['--plugin', join(dir, 'not-a-handler.mjs')], 2, /its default export is not a ProtocolHandler: "takeover" is missing/],
      [['--plugin', join(dir, 'broken.mjs')], 1, /failed to load: SyntaxError/],
      [['--plugin', example('knock')], 1, /its factory failed: knock needs a secret/],
      [['--plugin', join(dir, 'echo-again.mjs')], 2, /a handler for "echo" is already registered/],
      [['--plugin', example('shout'), '--plugin-option', 'knock.secret=x'], 2, /"knock\.secret=x" does not start with a loaded plugin's name/],
      [['--plugin', example('knock'), '--plugin-config', join(dir, 'none.json')], 2, /plugin config .*none\.json: cannot read it/],
      [['--tls-cert', TLS_CERT], 2, /--tls-cert and --tls-key go together: --tls-key is missing/],
      [['--tls-cert', join(dir, 'none.pem'), '--tls-key', TLS_KEY], 2, /cannot read --tls-cert .*none\.pem \(ENOENT\)/],
      [['--tls-cert', TLS_KEY, '--tls-key', TLS_KEY], 2, /--tls-cert .*key\.pem holds no PEM certificate/],
      [['--tunnel', 'db'], 2, /invalid tunnel "db": expected name=host:port/],
      [['--tunnel', 'a=127.0.0.1:1', '--tunnel', 'a=127.0.0.1:2'], 2, /--tunnel a is given twice/],
    ];
    for (const [args, code, message] of cases) {
      const result = await refused(args);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.match(result.stderr, /^switchyard: /);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
    const help = spawn(process.execPath, [CLI, 'serve', '--help']);
    let text = '';
    help.stdout.on('data', (d) => { text += d; });
    await once(help, 'exit');
    for (const flag of ['--plugin FILE', '--plugin-option N.K=V', '--plugin-config FILE', '--tunnel NAME=HOST:PORT', '--tls-cert FILE', '--tls-key FILE']) {
      assert.ok(text.includes(flag), flag);
    }
  });
});
