import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import { connect as connectWebSocket } from '../../src/protocols/websocket/client.js';
import { WebSocketProtocol, type WebSocketEvent } from '../../src/protocols/websocket/protocol.js';
import { freePort } from '../helpers/free-port.js';
import { eventually, withLab } from '../helpers/lab.js';
import { finish, run, runCli, STACK_TRACE } from '../helpers/cli.js';
import { closeFrame, foreignServer, textFrame, webSocket101 } from './foreign-server.js';


describe('switchyard connect ws:// (CLI)', () => {
  it('echo hi | switchyard connect ws://…/echo prints hi and exits 0 after the closing handshake', async () => {
    await withLab({}, async (server, events) => {
      const result = await run(['connect', `ws://127.0.0.1:${server.port}/echo`], 'hi\n');
      assert.equal(result.stderr, '');
      assert.equal(result.code, 0);
      assert.equal(result.stdout, 'hi\n');
      // The server saw our Close 1000 and the connection ended with it, not with a dropped socket.
      await eventually(() => events.some((e) => e.type === 'close'), 10_000, 'the server to see the close');
      assert.ok(events.some((e) => e.type === 'protocol' && e.kind === 'close' && e.direction === 'in' && /code=1000/.test(e.detail)));
    });
  });

  it('sends each line as one text message: CRLF lines, an empty line, and a last line without a newline', async () => {
    await withLab({}, async (server) => {
      const result = await run(['connect', `ws://127.0.0.1:${server.port}/echo`], 'first\r\n\nsecond line\nlast');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'first\n\nsecond line\nlast\n');
    });
  });

  it('--binary sends stdin as binary messages and writes the binary echoes raw', async () => {
    await withLab({}, async (server, events) => {
      const bytes = Buffer.from([0x00, 0xff, 0x0a, 0x80, 0x7f, 0x0d, 0x0a, 0xc3]);
      const result = await run(['connect', '--binary', `ws://127.0.0.1:${server.port}/echo`], bytes);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.raw, bytes);
      assert.ok(events.some((e) => e.type === 'protocol' && e.direction === 'in' && /binary/.test(e.detail)), 'the server saw binary frames');
    });
  });

  it('--protocol chat is offered and agreed, and a message another member sends to the room is printed', async () => {
    await withLab({}, async (server) => {
      const child = runCli(['connect', '--verbose', '--protocol', 'chat', `ws://127.0.0.1:${server.port}/chat`]);
      const result = finish(child);
      let stdout = '';
      child.stdout.on('data', (d) => { stdout += d; });
      await eventually(() => [...server.table.records()].some((r) => r.state === 'upgraded'), 20_000, 'the CLI to join the room');
      const other = await connectWebSocket(`ws://127.0.0.1:${server.port}/chat`, { protocols: ['chat'] });
      await eventually(() => [...server.table.records()].filter((r) => r.state === 'upgraded').length === 2, 20_000, 'both members to join');
      other.send('hello room');
      await eventually(() => stdout.includes('hello room\n'), 20_000, 'the room message to be printed');
      child.stdin.end();
      const { code, stderr } = await result;
      other.terminate();
      assert.equal(code, 0, stderr);
      assert.match(stderr, /^> Sec-WebSocket-Protocol: chat$/m);
      assert.match(stderr, /^< Sec-WebSocket-Protocol: chat$/m);
      assert.match(stderr, /^\* subprotocol: chat$/m);
    });
  });

  it('--verbose prints the 5-tuple, the raw request and response heads, and how it closed, on stderr only', async () => {
    await withLab({}, async (server) => {
      const result = await run(['connect', '--verbose', `ws://127.0.0.1:${server.port}/echo`], 'hi\n');
      assert.equal(result.code, 0);
      assert.equal(result.stdout, 'hi\n');
      assert.match(result.stderr, new RegExp(`^\\* connected: tcp 127\\.0\\.0\\.1:\\d+ → 127\\.0\\.0\\.1:${server.port} `, 'm'));
      assert.match(result.stderr, /^> GET \/echo HTTP\/1\.1$/m);
      assert.match(result.stderr, /^> Sec-WebSocket-Key: [A-Za-z0-9+/]{22}==$/m);
      assert.match(result.stderr, /^< HTTP\/1\.1 101 Switching Protocols$/m);
      assert.match(result.stderr, /^< Sec-WebSocket-Accept: \S+$/m);
      assert.match(result.stderr, /^\* closed cleanly: 1000$/m);
    });
  });

  it('offers permessage-deflate: --verbose shows what was agreed and each message deflated; --no-deflate offers nothing', async () => {
    await withLab({}, async (server) => {
      const line = 'compress me '.repeat(20);
      const result = await run(['connect', '--verbose', `ws://127.0.0.1:${server.port}/echo`], `${line}\nhi\n`);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${line}\nhi\n`);
      assert.match(result.stderr, /^> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits$/m);
      assert.match(result.stderr, /^\* extensions: permessage-deflate; server_max_window_bits=12; client_max_window_bits=12 \(RFC 7692\)$/m);
      const sent = /^\* sent text 240 B, deflated to (\d+) B$/m.exec(result.stderr);
      assert.ok(sent && Number(sent[1]) < 40, result.stderr);
      assert.match(result.stderr, /^\* received text 240 B, deflated to \d+ B$/m);
      assert.match(result.stderr, /^\* sent text 2 B, uncompressed$/m, 'under the 64-byte threshold');
      const plain = await run(['connect', '--verbose', '--no-deflate', `ws://127.0.0.1:${server.port}/echo`], 'hi\n');
      assert.equal(plain.code, 0, plain.stderr);
      assert.doesNotMatch(plain.stderr, /^> Sec-WebSocket-Extensions/m);
      assert.match(plain.stderr, /^\* extensions: none offered \(--no-deflate\)$/m);
    });
  });

  it('inflates what a server that is not switchyard compresses (RFC 7692 §7.2.3.2), and refuses an extension it did not offer', async () => {
    const foreign = await foreignServer((head, socket) => {
      if (!/permessage-deflate/.test(head)) {
        socket.end(webSocket101(head, 'Sec-WebSocket-Extensions: permessage-deflate\r\n'));
        return;
      }
      // The RFC's two "Hello"s, the second one referring back into the first (context takeover).
      socket.write(Buffer.concat([Buffer.from(webSocket101(head, 'Sec-WebSocket-Extensions: permessage-deflate\r\n'), 'latin1'),
        Buffer.from('c107f248cdc9c90700c105f200110000', 'hex'), closeFrame(1000)]));
      socket.on('data', () => {});
      socket.on('end', () => socket.end());
    });
    try {
      const result = await run(['connect', `ws://127.0.0.1:${foreign.port}/`], '');
      assert.equal(result.stdout, 'Hello\nHello\n', result.stderr);
      assert.equal(result.code, 0, result.stderr);
      const refused = await run(['connect', '--no-deflate', `ws://127.0.0.1:${foreign.port}/`], '');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /extensions we did not offer: permessage-deflate/);
    } finally {
      await foreign.close();
    }
  });

  it('works against a server that is not switchyard: -H headers arrive, and a close the server starts ends with exit 0', async () => {
    const foreign = await foreignServer((head, socket) => {
      socket.write(Buffer.concat([Buffer.from(webSocket101(head)), textFrame('welcome'), closeFrame(1000, 'bye')]));
      // §7.1.1: once the client's Close is in, the server closes TCP first.
      socket.once('data', () => socket.end());
    });
    try {
      const result = await run(['connect', '-H', 'X-Lab: yes', '--header', 'Authorization: Bearer t0k3n', `ws://127.0.0.1:${foreign.port}/anything?x=1`]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'welcome\n');
      assert.match(foreign.heads[0]!, /^GET \/anything\?x=1 HTTP\/1\.1\r\n/);
      assert.match(foreign.heads[0]!, /\r\nX-Lab: yes\r\n/);
      assert.match(foreign.heads[0]!, /\r\nAuthorization: Bearer t0k3n\r\n/);
    } finally {
      await foreign.close();
    }
  });
});

describe('switchyard connect, the rules of RFC 6455 against a server that is not switchyard (CLI)', () => {
  /** Decode what the CLI sent after the handshake, as a server would (§5.1: client frames are masked). */
  function clientEvents(bytes: Buffer): WebSocketEvent[] {
    const codec = new WebSocketProtocol({ role: 'server' });
    codec.receive(bytes);
    const events: WebSocketEvent[] = [];
    for (let event = codec.next(); event.type !== 'need-data' && events.length < 10; event = codec.next()) {
      events.push(event);
      if (event.type === 'close' || event.type === 'error') break;
    }
    return events;
  }

  it('answers a ping with a pong carrying the same data (§5.5.2)', async () => {
    let received = Buffer.alloc(0);
    const foreign = await foreignServer((head, socket) => {
      socket.write(Buffer.concat([Buffer.from(webSocket101(head)), Buffer.from([0x89, 4]), Buffer.from('abcd')]));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (clientEvents(received).some((e) => e.type === 'pong')) socket.end(closeFrame(1000));
      });
    });
    try {
      const child = runCli(['connect', `ws://127.0.0.1:${foreign.port}/`]); // stdin open: only the server ends it
      const result = await finish(child);
      assert.equal(result.code, 0, result.stderr);
      const pong = clientEvents(received).find((e) => e.type === 'pong');
      assert.ok(pong && pong.type === 'pong');
      assert.equal(Buffer.from(pong.data).toString(), 'abcd');
    } finally {
      await foreign.close();
    }
  });

  it('fails the connection with 1002 when the server masks a frame (§5.1), and exits 3', async () => {
    let received = Buffer.alloc(0);
    const foreign = await foreignServer((head, socket) => {
      // A masked text frame "hi" (mask 01 02 03 04): only clients may mask.
      socket.write(Buffer.concat([Buffer.from(webSocket101(head)), Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2])]));
      socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]); });
      socket.on('end', () => socket.end());
    });
    try {
      const child = runCli(['connect', `ws://127.0.0.1:${foreign.port}/`]);
      const result = await finish(child);
      assert.equal(result.code, 3);
      assert.equal(result.stdout, '', 'the masked frame is not printed');
      assert.match(result.stderr, /closed abnormally: 1002/);
      const close = clientEvents(received).find((e) => e.type === 'close');
      assert.ok(close && close.type === 'close' && close.code === 1002, 'the CLI sent Close 1002');
    } finally {
      await foreign.close();
    }
  });

  it('exit 1 for an input line over the 16 MiB message limit, without sending it', async () => {
    await withLab({}, async (server, events) => {
      const result = await run(['connect', `ws://127.0.0.1:${server.port}/echo`], 'x'.repeat(16 * 1024 * 1024 + 1));
      assert.equal(result.code, 1);
      assert.match(result.stderr, /an input line is over 16777216 bytes, the message limit; send large data with --binary/);
      assert.ok(!events.some((e) => e.type === 'protocol' && e.kind === 'message'), 'no message reached the server');
    });
  });
});

describe('switchyard connect wss:// (CLI)', () => {
  // The repository's test certificate, for localhost and 127.0.0.1 (test/fixtures/tls).
  const CERT = fileURLToPath(new URL('../../../test/fixtures/tls/cert.pem', import.meta.url));
  const KEY = fileURLToPath(new URL('../../../test/fixtures/tls/key.pem', import.meta.url));

  /** node:https, not switchyard: a WebSocket upgrade that greets, then closes with 1000. */
  async function tlsServer(): Promise<{ port: number; close(): Promise<void> }> {
    const server = createHttpsServer({ cert: readFileSync(CERT), key: readFileSync(KEY) });
    server.on('upgrade', (request, socket) => {
      const head = `GET / HTTP/1.1\r\nSec-WebSocket-Key: ${request.headers['sec-websocket-key']}\r\n\r\n`;
      socket.write(Buffer.concat([Buffer.from(webSocket101(head)), textFrame('over tls'), closeFrame(1000)]));
      socket.once('data', () => socket.end());
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      port: (server.address() as { port: number }).port,
      close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
  }

  it('connects over TLS to a server whose certificate it trusts', async () => {
    const server = await tlsServer();
    try {
      const result = await run(['connect', `wss://localhost:${server.port}/`], '', { NODE_EXTRA_CA_CERTS: CERT });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'over tls\n');
    } finally {
      await server.close();
    }
  });

  it('exit 1 with the TLS reason when the certificate is not trusted', async () => {
    const server = await tlsServer();
    try {
      const result = await run(['connect', `wss://127.0.0.1:${server.port}/`]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`TLS with 127\\.0\\.0\\.1:${server.port} failed: self[- ]signed certificate`));
    } finally {
      await server.close();
    }
  });
});

describe('switchyard connect exit codes (CLI)', () => {
  it('exit 1 when the connection is refused, with the reason on one line', async () => {
    const port = await freePort();
    const result = await run(['connect', `ws://127.0.0.1:${port}/echo`], 'hi\n');
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^switchyard: connection refused by 127\\.0\\.0\\.1:${port}`));
    assert.doesNotMatch(result.stderr, STACK_TRACE);
  });

  it('exit 1 when the server answers with something other than 101', async () => {
    await withLab({}, async (server) => {
      const result = await run(['connect', `ws://127.0.0.1:${server.port}/no-such-endpoint`], 'hi\n');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /the server answered 404 Not Found, not 101 Switching Protocols/);
      const raw = await run(['connect', '--upgrade', 'no-such-protocol', `http://127.0.0.1:${server.port}/healthz`], 'hi\n');
      assert.equal(raw.code, 1);
      assert.match(raw.stderr, /the server answered 200 OK, not 101/);
    });
  });

  it('exit 1 when a 101 fails the WebSocket checks (a wrong Sec-WebSocket-Accept)', async () => {
    const foreign = await foreignServer((head, socket) => {
      socket.write(webSocket101(head, '', 'dGhpcyBpcyBub3QgdGhlIGFjY2VwdA=='));
    });
    try {
      const result = await run(['connect', `ws://127.0.0.1:${foreign.port}/`], 'hi\n');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /not a valid WebSocket handshake: Sec-WebSocket-Accept does not match the key/);
    } finally {
      await foreign.close();
    }
  });

  it('exit 1 when no answer comes within --timeout', async () => {
    const foreign = await foreignServer(() => { /* read the request, answer nothing */ });
    try {
      const result = await run(['connect', '--timeout', '300', `ws://127.0.0.1:${foreign.port}/`], 'hi\n');
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`no response from 127\\.0\\.0\\.1:${foreign.port} within 300 ms`));
    } finally {
      await foreign.close();
    }
  });

  it('exit 2 for usage errors, each explained in one line without a stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['connect', 'not a url'], /invalid URL "not a url"/],
      [['connect', 'http://127.0.0.1:1/'], /unsupported scheme "http:".*use --upgrade TOKEN/],
      [['connect'], /exactly one URL/],
      [['connect', '-H', 'no colon', 'ws://127.0.0.1:1/'], /invalid header "no colon"/],
      [['connect', '-H', 'Upgrade: h2c', 'ws://127.0.0.1:1/'], /Upgrade is set by the handshake itself/],
      [['connect', '--protocol', 'a b', 'ws://127.0.0.1:1/'], /subprotocols must be distinct tokens/],
      [['connect', '--upgrade', 'echo', '--binary', 'http://127.0.0.1:1/'], /--binary is for WebSocket messages/],
      [['connect', '--upgrade', 'bad token', 'http://127.0.0.1:1/'], /invalid --upgrade "bad token"/],
      [['connect', '--timeout', 'soon', 'ws://127.0.0.1:1/'], /invalid --timeout "soon"/],
      [['connect', '--bogus', 'ws://127.0.0.1:1/'], /bogus/],
    ];
    for (const [args, message] of cases) {
      const result = await run(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.doesNotMatch(result.stderr, STACK_TRACE);
    }
  });

  it('exit 3 when the server drops the connection without a Close frame (1006)', async () => {
    const foreign = await foreignServer((head, socket) => {
      socket.write(webSocket101(head));
      socket.end();
    });
    try {
      const result = await run(['connect', `ws://127.0.0.1:${foreign.port}/`]);
      assert.equal(result.code, 3);
      assert.match(result.stderr, /closed abnormally: 1006/);
    } finally {
      await foreign.close();
    }
  });

  it('exit 3 when the server closes with an error code, after printing what it sent', async () => {
    const foreign = await foreignServer((head, socket) => {
      socket.write(Buffer.concat([Buffer.from(webSocket101(head)), textFrame('last words'), closeFrame(1011, 'internal error')]));
      socket.once('data', () => socket.end());
    });
    try {
      const result = await run(['connect', `ws://127.0.0.1:${foreign.port}/`]);
      assert.equal(result.code, 3);
      assert.equal(result.stdout, 'last words\n');
      assert.match(result.stderr, /the server closed the connection with an error: 1011 "internal error"/);
    } finally {
      await foreign.close();
    }
  });
});

describe('switchyard connect --upgrade (CLI)', () => {
  it('upgrades to echo, pipes stdin, half-closes at its end and prints until the server closes', async () => {
    await withLab({}, async (server, events) => {
      const result = await run(['connect', '--upgrade', 'echo', `http://127.0.0.1:${server.port}/`], 'hello raw\nsecond line\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'hello raw\nsecond line\n');
      assert.ok(events.some((e) => e.type === 'upgrade' && e.protocol === 'echo'));
    });
  });

  it('prints the bytes that came in the same write as the 101 first (a server that is not switchyard)', async () => {
    const foreign = await foreignServer((_head, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: greet\r\n\r\nwelcome\n');
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('end', () => socket.end());
    });
    try {
      const result = await run(['connect', '--upgrade', 'greet', '--verbose', `http://127.0.0.1:${foreign.port}/`], 'ping\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'welcome\nping\n');
      assert.match(foreign.heads[0]!, /\r\nConnection: Upgrade\r\n/);
      assert.match(foreign.heads[0]!, /\r\nUpgrade: greet\r\n/);
      assert.match(result.stderr, /^\* closed cleanly$/m);
    } finally {
      await foreign.close();
    }
  });

  it('exit 3 when the server resets the connection after the 101', async () => {
    const foreign = await foreignServer((_head, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: flaky\r\n\r\n');
      socket.once('data', () => socket.resetAndDestroy());
    });
    try {
      const child = runCli(['connect', '--upgrade', 'flaky', `http://127.0.0.1:${foreign.port}/`]);
      child.stdin.write('first bytes\n'); // and stdin stays open: the reset alone must end it
      const result = await finish(child);
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /ended abnormally: connection reset by peer/);
    } finally {
      await foreign.close();
    }
  });
});
