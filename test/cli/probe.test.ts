import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeAcceptKey } from '../../src/protocols/websocket/accept-key.js';
import { withLab } from '../helpers/lab.js';
import { run, STACK_TRACE } from '../helpers/cli.js';
import { foreignServer, webSocket101 } from './foreign-server.js';

/** The annotated line that starts with `prefix` (e.g. `< Upgrade:`), or fail. */
function lineOf(output: string, prefix: string): string {
  const line = output.split('\n').find((l) => l.trimStart().startsWith(prefix));
  assert.ok(line, `no line starting with ${JSON.stringify(prefix)} in:\n${output}`);
  return line;
}

describe('switchyard probe (CLI)', () => {
  it('prints the raw request and the 101, annotated, with Sec-WebSocket-Accept recomputed and passed', async () => {
    await withLab({}, async (server) => {
      const result = await run(['probe', `ws://127.0.0.1:${server.port}/echo`]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const out = result.stdout;
      assert.match(lineOf(out, '> GET /echo HTTP/1.1'), /ordinary HTTP\/1\.1 request/);
      assert.match(lineOf(out, '> Connection: Upgrade'), /hop-by-hop/);
      const key = /> Sec-WebSocket-Key: (\S+)/.exec(out)?.[1];
      assert.ok(key, 'the key is shown');
      const accept = computeAcceptKey(key);
      assert.match(lineOf(out, '< HTTP/1.1 101 Switching Protocols'), /✓ 101/);
      assert.match(lineOf(out, '< Upgrade: websocket'), /✓ names a protocol we asked for/);
      assert.match(lineOf(out, '< Connection:'), /✓ contains "upgrade"/);
      assert.match(lineOf(out, `< Sec-WebSocket-Accept: ${accept}`), /✓ matches our key/);
      assert.ok(out.includes(`= ${accept} ✓ matches the server's`), 'the recomputed value is printed and passes');
      assert.match(out, /^verdict: ✓ upgraded to websocket; every check passed$/m);
      assert.doesNotMatch(out, /✗/);
    });
  });

  it('shows a 404 path as refused, with its status, headers and body, and exits 1', async () => {
    await withLab({}, async (server) => {
      const result = await run(['probe', `ws://127.0.0.1:${server.port}/nowhere`]);
      assert.equal(result.code, 1);
      assert.match(lineOf(result.stdout, '< HTTP/1.1 404 Not Found'), /✗ 404: nothing at this path to upgrade to/);
      assert.match(result.stdout, /^ {2}\| no WebSocket endpoint at \/nowhere$/m);
      assert.match(result.stdout, /^verdict: ✗ not upgraded: the server answered 404 Not Found/m);
      assert.doesNotMatch(result.stdout, /recomputed/);
    });
  });

  it('explains a 426 and names what the resource upgrades to', async () => {
    await withLab({}, async (server) => {
      const result = await run(['probe', '--upgrade', 'no-such-protocol', `http://127.0.0.1:${server.port}/echo`]);
      assert.equal(result.code, 1);
      assert.match(lineOf(result.stdout, '< HTTP/1.1 426'), /✗ 426 Upgrade Required/);
      assert.match(lineOf(result.stdout, '< Upgrade: websocket'), /the protocol\(s\) the server could switch to here/);
    });
  });

  it('probes any token: a 101 to echo passes the generic checks, with no accept check', async () => {
    await withLab({}, async (server) => {
      const result = await run(['probe', '--upgrade', 'echo', `http://127.0.0.1:${server.port}/`]);
      assert.equal(result.code, 0, result.stdout);
      assert.match(lineOf(result.stdout, '> Upgrade: echo'), /ask to switch to/);
      assert.match(lineOf(result.stdout, '< HTTP/1.1 101'), /✓ 101: .* speaks echo/);
      assert.doesNotMatch(result.stdout, /Sec-WebSocket/);
      assert.match(result.stdout, /^verdict: ✓ upgraded to echo/m);
    });
  });

  it('says when a server ignores Upgrade and answers in plain HTTP', async () => {
    await withLab({}, async (server) => {
      const result = await run(['probe', '--upgrade', 'no-such-protocol', `http://127.0.0.1:${server.port}/healthz`]);
      assert.equal(result.code, 1);
      assert.match(lineOf(result.stdout, '< HTTP/1.1 200 OK'), /ignored Upgrade/);
      assert.match(result.stdout, /^ {2}\| ok$/m);
    });
  });

  it('fails each broken check of a server that is not switchyard: wrong accept, missing Connection, unoffered subprotocol', async () => {
    const foreign = await foreignServer((head, socket) => {
      const broken = webSocket101(head, 'Sec-WebSocket-Protocol: unasked\r\n', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=').replace('Connection: Upgrade\r\n', '');
      socket.write(broken);
      socket.on('data', () => {});
      socket.on('end', () => socket.end());
    });
    try {
      const result = await run(['probe', `ws://127.0.0.1:${foreign.port}/`]);
      assert.equal(result.code, 1);
      assert.match(lineOf(result.stdout, '< Sec-WebSocket-Accept: AAAA'), /✗ does not match our key/);
      assert.match(lineOf(result.stdout, '< Sec-WebSocket-Protocol: unasked'), /✗ not a subprotocol we offered/);
      assert.match(result.stdout, /✗ no Connection field/);
      assert.match(result.stdout, /✗ the server sent something else/);
      assert.match(result.stdout, /^verdict: ✗ the server sent 101 but 3 checks failed/m);
    } finally {
      await foreign.close();
    }
  });

  it('offers permessage-deflate and explains what the server agreed; --no-deflate offers none (RFC 7692)', async () => {
    await withLab({ limits: { webSocketDeflateWindowBits: 10 } }, async (server) => {
      const result = await run(['probe', `ws://127.0.0.1:${server.port}/echo`]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(lineOf(result.stdout, '> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'), /the server may choose our window \(RFC 7692 §7\.1\.2\.2\)/);
      assert.match(lineOf(result.stdout, '< Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; client_max_window_bits=12'), /✓ permessage-deflate agreed/);
      assert.match(result.stdout, /^ {2}the server compresses with a window of at most 2\^10 = 1024 bytes, and keeps it from message to message/m);
      const plain = await run(['probe', '--no-deflate', `ws://127.0.0.1:${server.port}/echo`]);
      assert.equal(plain.code, 0, plain.stdout + plain.stderr);
      assert.doesNotMatch(plain.stdout, /Sec-WebSocket-Extensions|permessage-deflate/);
    });
  });

  it('fails a permessage-deflate answer a client must refuse, and notes a declined offer', async () => {
    const answers = ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n', ''];
    const foreign = await foreignServer((head, socket) => {
      socket.write(webSocket101(head, answers.shift()));
      socket.on('data', () => {});
      socket.on('end', () => socket.end());
    });
    try {
      const bad = await run(['probe', `ws://127.0.0.1:${foreign.port}/`]);
      assert.equal(bad.code, 1, bad.stdout);
      assert.match(lineOf(bad.stdout, '< Sec-WebSocket-Extensions:'), /✗ client_max_window_bits needs a value in a response \(RFC 7692 §7\.1\)/);
      const declined = await run(['probe', `ws://127.0.0.1:${foreign.port}/`]);
      assert.equal(declined.code, 0, declined.stdout);
      assert.match(lineOf(declined.stdout, '< HTTP/1.1 101'), /the server declined permessage-deflate/);
    } finally {
      await foreign.close();
    }
  });

  it('shows the bytes that arrived together with the 101, escaped', async () => {
    const foreign = await foreignServer((_head, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: greet\r\n\r\nhello\x1b[31m');
      socket.on('data', () => {});
      socket.on('end', () => socket.end());
    });
    try {
      const result = await run(['probe', '--upgrade', 'greet', `http://127.0.0.1:${foreign.port}/`]);
      assert.equal(result.code, 0, result.stdout);
      assert.match(result.stdout, /after the 101: 10 bytes of the new protocol arrived together with the response head: "hello\\u001b\[31m"/);
      assert.doesNotMatch(result.stdout, /\x1b/, 'no raw escape sequence reaches the terminal');
    } finally {
      await foreign.close();
    }
  });

  it('exit 1 for a refused connection and exit 2 for usage errors, in one line each', async () => {
    const refused = await run(['probe', 'ws://127.0.0.1:1/']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /connection refused by 127\.0\.0\.1:1/);
    for (const [args, message] of [
      [['probe'], /exactly one URL/],
      [['probe', 'ftp://x/'], /unsupported scheme "ftp:"/],
      [['probe', '--upgrade', 'echo', '--protocol', 'chat', 'http://127.0.0.1:1/'], /needs --upgrade websocket/],
      [['probe', '--timeout', '0', 'ws://127.0.0.1:1/'], /invalid --timeout "0"/],
    ] as Array<[string[], RegExp]>) {
      const result = await run(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, STACK_TRACE);
    }
    const help = await run(['probe', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes: 0 upgraded and every check passed/);
  });
});
