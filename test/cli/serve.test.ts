import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { finish, listeningPort, runCli } from '../helpers/cli.js';

describe('switchyard serve (CLI)', () => {
  it('prints its URL, serves, traces with 5-tuples on stderr, and exits 0 on SIGTERM', async () => {
    const child = runCli(['serve', '--port', '0', '--trace']);
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const port = await listeningPort(child);
    const client = await RawClient.open(port);
    const clientPort = client.socket.localPort;
    client.write('GET /healthz HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
    assert.equal(parseResponses(await client.waitForEnd())[0]!.status, 200);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.match(stderr, new RegExp(`accept +#1 tcp 127\\.0\\.0\\.1:${port} 127\\.0\\.0\\.1:${clientPort}`));
    assert.match(stderr, /request +#1 .* GET \/healthz HTTP\/1\.1/);
    assert.match(stderr, /close +#1 .*closed by server/);
  });

  it('takes the port from PORT', async () => {
    const child = runCli(['serve'], { PORT: '0' });
    const port = await listeningPort(child);
    assert.ok(port > 0);
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });

  it('explains a busy port and exits 1 without a stack trace', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    const result = await finish(runCli(['serve', '--port', String(port)]));
    blocker.close();
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });

  it('--limit overrides a limit the server then enforces; unknown names and bad values are usage errors', async () => {
    const child = runCli(['serve', '--port', '0', '--backlog', '16', '--limit', 'maxConnections=1']);
    const port = await listeningPort(child);
    const first = await RawClient.open(port);
    first.write('GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n');
    await first.waitFor((t) => parseResponses(t).length === 1);
    const second = await RawClient.open(port);
    assert.equal(parseResponses(await second.waitForEnd())[0]!.status, 503, 'the second connection is over maxConnections=1');
    first.close();
    child.kill('SIGTERM');
    await once(child, 'exit');
    const unknown = await finish(runCli(['serve', '--limit', 'maxConection=3']));
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown limit "maxConection"; known: .*maxConnections/);
    const badValue = await finish(runCli(['serve', '--limit', 'bodyBytes=lots']));
    assert.equal(badValue.code, 2);
    assert.match(badValue.stderr, /--limit bodyBytes takes a whole number, got "lots"/);
    const badBacklog = await finish(runCli(['serve', '--backlog', '-1']));
    assert.equal(badBacklog.code, 2);
  });

  it('rejects bad flags and ports with exit 2, and prints help', async () => {
    const bad = await finish(runCli(['serve', '--bogus']));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bogus/);
    const badPort = await finish(runCli(['serve', '--port', '70000']));
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /invalid port "70000"/);
    const unknown = await finish(runCli(['frobnicate']));
    assert.equal(unknown.code, 2);
    const help = await finish(runCli(['--help']));
    assert.equal(help.code, 0);
    assert.match(help.stdout, /switchyard serve/);
    const serveHelp = await finish(runCli(['serve', '--help']));
    assert.match(serveHelp.stdout, /--trace/);
  });
});
