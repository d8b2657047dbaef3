import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eventually, withLab } from '../helpers/lab.js';
import { parseResponses, RawClient } from '../helpers/raw-client.js';
import { Backend, bannerEcho } from '../protocols/tcp-tunnel/backend.js';
import { EXAMPLES, REPO } from './paths.js';

/**
 * The docs cannot rot: every TypeScript block in docs/plugins.md and docs/protocols.md is a whole file
 * of docs/examples (named on its first line), shown exactly as it is; the README's library example is
 * shout.ts's handler, line for line; and every example file is shown somewhere. The files themselves are
 * compiled with the tests and exercised here and in the CLI and isolation tests.
 */
const read = (path: string): string => readFileSync(join(REPO, path), 'utf8');
const DOCS = ['docs/plugins.md', 'docs/protocols.md'];

function codeBlocks(markdown: string, language: string): string[] {
  const blocks: string[] = [];
  const fence = new RegExp('^```' + language + '\\n([^]*?)^```$', 'gm');
  for (const match of markdown.matchAll(fence)) blocks.push(match[1]!);
  return blocks;
}

/** From the `// A new Upgrade protocol` comment to the handler's closing `};`. */
function shoutHandler(code: string): string {
  const start = code.indexOf('// A new Upgrade protocol');
  const end = code.indexOf('\n};\n', start);
  assert.ok(start !== -1 && end !== -1, 'the shout handler is marked by its comment and closes with "};"');
  return code.slice(start, end + 3);
}

const importedNames = (code: string): string[] =>
  [...code.matchAll(/^import \{([^}]*)\} from 'switchyard';$/gm)].flatMap((m) => m[1]!.split(',').map((n) => n.trim().replace(/^type /, '')));

const upgrade = (token: string, extra = ''): string => `GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: ${token}\r\n${extra}\r\n`;

describe('docs and their examples', { timeout: 60_000 }, () => {
  it('every TypeScript block in the plugin docs is an example file, shown exactly', () => {
    const shown = new Set<string>();
    for (const doc of DOCS) {
      const blocks = codeBlocks(read(doc), 'ts');
      assert.ok(blocks.length > 0, `${doc} has examples`);
      for (const block of blocks) {
        const name = /^\/\/ (docs\/examples\/[\w.-]+\.ts) /.exec(block)?.[1];
        assert.ok(name, `${doc}: a ts block that does not start with "// docs/examples/<file>.ts": ${block.slice(0, 80)}`);
        assert.equal(block, read(name), `${doc} shows ${name} as it is`);
        shown.add(name);
      }
    }
    const files = readdirSync(join(REPO, 'docs/examples')).filter((f) => f.endsWith('.ts')).map((f) => `docs/examples/${f}`);
    assert.deepEqual(files.filter((f) => !shown.has(f)), [], 'every example is shown in the docs');
  });

  it('the README\'s library example is docs/examples/shout.ts, line for line', () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## As a library'));
    const [block] = codeBlocks(section, 'ts');
    const example = read('docs/examples/shout.ts');
    assert.equal(shoutHandler(block!), shoutHandler(example));
    for (const name of importedNames(example)) assert.ok(importedNames(block!).includes(name), `the README imports ${name}`);
    assert.match(block!, /startLab\(\{ port: 8080, plugins: \[shout\] \}\)/);
  });

  it('embed.ts: protocols registered at start and at runtime, unregistered, and told about shutdown', async () => {
    const { startMyLab } = await import(join(EXAMPLES, 'embed.js')) as typeof import('../../docs/examples/embed.js');
    const lab = await startMyLab();
    let knocked: RawClient | undefined;
    try {
      const shout = await RawClient.open(lab.port);
      shout.write(upgrade('shout/1') + 'abc');
      await shout.waitFor((t) => t.endsWith('ABC'));
      shout.close();
      knocked = await RawClient.open(lab.port);
      knocked.write(upgrade('knock', 'X-Knock: open-sesame\r\n'));
      await knocked.waitFor((t) => t.endsWith('welcome, stranger\n'));
      await lab.registry.unregister('knock');
      const late = await RawClient.open(lab.port);
      late.write(upgrade('knock', 'X-Knock: open-sesame\r\nConnection: close\r\n').replace('GET / ', 'GET /healthz '));
      assert.equal(parseResponses(await late.waitForEnd())[0]!.status, 200, 'after unregister the offer is plain HTTP');
      knocked.write('still in');
      await knocked.waitFor((t) => t.endsWith('still in'), 5_000, 'the knock connection to outlive the unregister');
    } finally {
      await lab.close();
    }
    assert.match(await knocked!.waitForEnd(), /the door closes\n$/);
  });

  it('knock.ts: one heartbeat timer for every visitor; bad options refused at start-up', async () => {
    const { default: createKnock } = await import(join(EXAMPLES, 'knock.js')) as typeof import('../../docs/examples/knock.js');
    assert.throws(() => createKnock({}), /knock needs a secret/);
    assert.throws(() => createKnock({ secret: 's', heartbeatMs: 'often' }), /heartbeatMs must be a number/);
    assert.throws(() => createKnock({ secret: 's', greeting: 3 }), /greeting must be text/);
    await withLab({ plugins: [createKnock({ secret: 'x', heartbeatMs: 50 })] }, async (server) => {
      const visitors = [await RawClient.open(server.port), await RawClient.open(server.port)];
      for (const visitor of visitors) visitor.write(upgrade('knock', 'X-Knock: x\r\n'));
      for (const visitor of visitors) {
        await visitor.waitFor((t) => /still open\nstill open\n/.test(t), 10_000, 'two heartbeats');
        visitor.close();
      }
    });
  });

  it('lean-echo.ts: echoes the head and later bytes, ends with the client, says bye at shutdown, even isolated', async () => {
    const { default: leanEcho } = await import(join(EXAMPLES, 'lean-echo.js')) as typeof import('../../docs/examples/lean-echo.js');
    const { isolate } = await import('../../src/plugins/isolate.js');
    assert.equal(isolate(leanEcho).managesSocket, true, 'isolate keeps managesSocket');
    let held: RawClient | undefined;
    await withLab({ plugins: [isolate(leanEcho)] }, async (server) => {
      const client = await RawClient.open(server.port);
      client.write(upgrade('lean-echo/1') + 'first|');
      await client.waitFor((t) => t.endsWith('\r\n\r\nfirst|'), 3_000, 'the head echoed right after the 101');
      // takeover has long returned: a handler that manages its socket keeps it open.
      await new Promise((resolve) => setTimeout(resolve, 50));
      client.write('second');
      await client.waitFor((t) => t.endsWith('first|second'));
      client.socket.end();
      await client.waitForEnd();
      await eventually(() => server.table.size === 0, 3_000, 'the row to leave the table');
      held = await RawClient.open(server.port);
      held.write(upgrade('lean-echo/1'));
      await held.waitFor((t) => t.includes('\r\n\r\n'));
    });
    assert.match(await held!.waitForEnd(), /\r\n\r\nbye\n$/, 'server.close() reached the connection through hooks.onShutdown');
  });

  it('experimental.ts: the three experimental protocols configured from code', async () => {
    const { startFullLab } = await import(join(EXAMPLES, 'experimental.js')) as typeof import('../../docs/examples/experimental.js');
    const backend = await Backend.start(bannerEcho);
    const lab = await startFullLab({ host: '127.0.0.1', port: backend.port }, join(REPO, 'test/fixtures/tls/cert.pem'), join(REPO, 'test/fixtures/tls/key.pem'));
    try {
      const client = await RawClient.open(lab.port);
      client.write('GET /protocols HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
      const tokens = (JSON.parse(parseResponses(await client.waitForEnd())[0]!.body) as { protocols: Array<{ token: string }> }).protocols.map((p) => p.token);
      for (const token of ['tcp', 'TLS/1.0', 'lab-chat/1']) assert.ok(tokens.includes(token), token);
      const tunnel = await RawClient.open(lab.port);
      tunnel.write(upgrade('tcp').replace('GET / ', 'GET /tunnel/redis '));
      await tunnel.waitFor((t) => t.endsWith('\r\n\r\nbanner\n'));
      tunnel.close();
      await eventually(() => backend.connections === 1);
    } finally {
      await lab.close();
      await backend.close();
    }
  });
});
