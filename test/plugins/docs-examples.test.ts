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

  it('connect-h2.ts + shout.ts: one plugin, unchanged, by Upgrade over HTTP/1.1 and by :protocol over HTTP/2', async () => {
    const { default: shout } = await import(join(EXAMPLES, 'shout.js')) as typeof import('../../docs/examples/shout.js');
    const { openSession, openProtocolStream } = await import(join(EXAMPLES, 'connect-h2.js')) as typeof import('../../docs/examples/connect-h2.js');
    await withLab({ plugins: [shout] }, async (server) => {
      const url = `http://127.0.0.1:${server.port}/`;
      // HTTP/1.1: a 101 and the whole TCP connection; the bytes sent with the request come back first.
      const h1 = await RawClient.open(server.port);
      h1.write(upgrade('shout/1') + 'head|');
      await h1.waitFor((t) => /^HTTP\/1\.1 101 [^]*\r\nX-Shout: ready\r\n[^]*\r\nHEAD\|$/.test(t), 3_000, 'the 101 and the shouted head');
      h1.write('over http/1.1');
      await h1.waitFor((t) => t.endsWith('HEAD|OVER HTTP/1.1'));
      // HTTP/2: a 200 on one stream; the same handler, an empty head. Two protocols on one connection.
      const session = await openSession(url);
      try {
        const loud = await openProtocolStream(session, url, 'shout/1');
        const echo = await openProtocolStream(session, url, 'echo');
        const read = (stream: typeof loud): (() => string) => { let text = ''; stream.setEncoding('utf8'); stream.on('data', (c: string) => { text += c; }); return () => text; };
        const [loudText, echoText] = [read(loud), read(echo)];
        loud.write('over a stream');
        echo.write('over a stream');
        await eventually(() => loudText() === 'OVER A STREAM' && echoText() === 'over a stream', 3_000, 'both streams answered');
        const rows = [...server.table.records()].map((r) => r.toJSON());
        const h2Rows = rows.filter((r) => r.http === '2');
        assert.equal(h2Rows.length, 1, 'one HTTP/2 connection carries both streams');
        assert.deepEqual(h2Rows[0]!.streams!.map((s) => [s.id, s.method, s.protocol, s.state, s.status]),
          [[1, 'CONNECT', 'shout/1', 'upgraded', 200], [3, 'CONNECT', 'echo', 'upgraded', 200]]);
        assert.equal(rows.filter((r) => r.protocol === 'shout/1').length, 1, 'only the HTTP/1.1 client took a connection for its shout/1');
        // Ending one stream (END_STREAM) ends that stream only; the connection and the other stream go on.
        loud.end();
        await new Promise<void>((resolve) => loud.once('close', () => resolve()));
        echo.write(', still');
        await eventually(() => echoText() === 'over a stream, still', 3_000, 'the other stream to outlive the first');
        assert.equal(session.destroyed, false);
        // A refusal costs its stream, never the connection.
        await assert.rejects(openProtocolStream(session, url, 'nope/1'), /nope\/1 refused with :status 501/);
        await assert.rejects(openProtocolStream(session, url.replace(/\/$/, '/nope'), 'websocket'), /websocket refused with :status 404/);
        echo.end();
        await new Promise<void>((resolve) => echo.once('close', () => resolve()));
      } finally {
        session.close();
        h1.close();
      }
    });
  });

  it('knock.ts and lean-echo.ts over HTTP/2: reject is the stream\'s :status, state and shutdown reach each stream', async () => {
    const { default: createKnock } = await import(join(EXAMPLES, 'knock.js')) as typeof import('../../docs/examples/knock.js');
    const { default: leanEcho } = await import(join(EXAMPLES, 'lean-echo.js')) as typeof import('../../docs/examples/lean-echo.js');
    const { openSession, openProtocolStream } = await import(join(EXAMPLES, 'connect-h2.js')) as typeof import('../../docs/examples/connect-h2.js');
    const { isolate } = await import('../../src/plugins/isolate.js');
    let lean: Awaited<ReturnType<typeof openProtocolStream>> | undefined;
    let leanText = '';
    await withLab({ plugins: [createKnock({ secret: 'x' }), isolate(leanEcho)] }, async (server) => {
      const url = `http://127.0.0.1:${server.port}/`;
      const session = await openSession(url);
      session.on('error', () => {});
      // Wrong knock: the handler's reject(403) is this stream's :status.
      await assert.rejects(openProtocolStream(session, url, 'knock'), /knock refused with :status 403/);
      // The right one (headers as on HTTP/1.1): the state reaches takeover.
      const door = session.request({ ':method': 'CONNECT', ':protocol': 'knock', ':scheme': 'http', ':path': '/', ':authority': 'lab', 'x-knock': 'x', 'x-visitor': 'ada' }, { endStream: false });
      let doorText = '';
      door.setEncoding('utf8');
      door.on('data', (c: string) => { doorText += c; });
      await eventually(() => doorText === 'welcome, ada\n', 3_000, 'the greeting on the knock stream');
      lean = await openProtocolStream(session, url, 'lean-echo/1');
      lean.setEncoding('utf8');
      lean.on('data', (c: string) => { leanText += c; });
      lean.write('lean');
      await eventually(() => leanText === 'lean', 3_000, 'lean-echo over a stream');
      door.close();
    });
    // server.close() reached the lean-echo stream through its own hooks.onShutdown.
    await eventually(() => leanText === 'leanbye\n', 3_000, 'bye on the lean-echo stream at shutdown');
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
