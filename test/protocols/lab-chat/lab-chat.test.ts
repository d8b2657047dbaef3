import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabEvent } from '../../../src/accept-loop/lab-events.js';
import { UsageError } from '../../../src/errors.js';
import { ChatRoom } from '../../../src/protocols/chat/room.js';
import { createLabChatProtocol } from '../../../src/protocols/lab-chat/plugin.js';
import { connect } from '../../../src/protocols/websocket/client.js';
import type { WebSocket } from '../../../src/protocols/websocket/session.js';
import { eventually, withLab } from '../../helpers/lab.js';
import { parseResponses, RawClient } from '../../helpers/raw-client.js';

const UPGRADE = 'GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: lab-chat/1\r\n\r\n';

/** Open a lab-chat/1 connection; `first` goes out in the same write as the request. */
async function chatter(port: number, first = ''): Promise<RawClient & { name: string }> {
  const client = await RawClient.open(port);
  client.write(UPGRADE + first);
  await client.waitFor((t) => /\r\n\r\nhello [^\n]*\n/.test(t), 5_000, 'the 101 and the hello line');
  return Object.assign(client, { name: `127.0.0.1:${client.socket.localPort}` });
}

/** Lines received after the 101. */
const linesOf = (client: RawClient): string[] => {
  const text = client.received.toString('utf8');
  return text.slice(text.indexOf('\r\n\r\n') + 4).split('\n').filter((line) => line !== '');
};

function messages(ws: WebSocket): string[] {
  const got: string[] = [];
  ws.on('message', (data) => got.push(String(data)));
  return got;
}

const chatUrl = (port: number): string => `ws://127.0.0.1:${port}/chat`;

describe('lab-chat/1', { timeout: 120_000 }, () => {
  it('joins the WebSocket /chat room: lines and messages cross both ways, the first line riding with the request', () => withLab({}, async (server) => {
    const ws = await connect(chatUrl(server.port), { protocols: ['chat'] });
    const superWs = await connect(chatUrl(server.port), { protocols: ['superchat'] });
    const atWs = messages(ws);
    const atSuper = messages(superWs);
    await eventually(() => server.table.size === 2);
    const raw = await chatter(server.port, 'hello from tcp\n');
    const text = raw.text;
    assert.ok(text.startsWith('HTTP/1.1 101 Switching Protocols\r\n'));
    assert.match(text, /\r\nUpgrade: lab-chat\/1\r\n/);
    assert.equal(linesOf(raw)[0], `hello ${raw.name} 2`, 'its name in the room and the two others');
    await eventually(() => atWs.length === 1 && atSuper.length === 1, 5_000, 'the line at both WebSocket members');
    assert.equal(atWs[0], 'hello from tcp');
    const wrapped = JSON.parse(atSuper[0]!) as { from: string; text: string };
    assert.deepEqual([wrapped.from, wrapped.text], [raw.name, 'hello from tcp']);

    const wsName = `127.0.0.1:${(ws.socket as unknown as { localPort: number }).localPort}`;
    ws.send('hi from the browser side');
    await raw.waitFor((t) => t.includes('hi from the browser side\n'));
    assert.equal(linesOf(raw)[1], `msg ${wsName} hi from the browser side`);
    ws.close();
    superWs.close();
    raw.close();
  }));

  it('two raw clients talk; CRLF works; empty lines are nobody\'s message; the table shows the protocol', () => withLab({}, async (server) => {
    const a = await chatter(server.port);
    const b = await chatter(server.port);
    assert.equal(linesOf(b)[0], `hello ${b.name} 1`);
    a.write('\r\n\nfirst\r\nsec');
    a.write('ond\n');
    await b.waitFor((t) => t.includes('second\n'));
    assert.deepEqual(linesOf(b).slice(1), [`msg ${a.name} first`, `msg ${a.name} second`]);
    assert.deepEqual(linesOf(a).slice(1), [], 'no echo to the sender');
    const row = server.table.snapshot().find((r) => r.remote.port === a.socket.localPort)!;
    assert.equal(row.protocol, 'lab-chat/1');
    assert.equal(row.state, 'upgraded');
    a.close();
    b.close();
  }));

  it('a WebSocket message with line breaks and control characters cannot forge lines', () => withLab({}, async (server) => {
    const ws = await connect(chatUrl(server.port), { protocols: ['chat'] });
    const raw = await chatter(server.port);
    const wsName = `127.0.0.1:${(ws.socket as unknown as { localPort: number }).localPort}`;
    ws.send('one\r\nmsg 6.6.6.6:666 forged\x1b[2J\x00end');
    await raw.waitFor((t) => t.includes('end\n'));
    assert.deepEqual(linesOf(raw).slice(1), [`msg ${wsName} one`, `msg ${wsName} msg 6.6.6.6:666 forged\ufffd[2J\ufffdend`]);
    ws.close();
    raw.close();
  }));

  it('a line over the limit gets "error line-too-long" and a close; the room carries on', () => withLab({ experimental: { labChat: { maxLineBytes: 16 } } }, async (server) => {
    const listener = await chatter(server.port);
    const loud = await chatter(server.port);
    loud.write('short enough\n' + 'x'.repeat(17) + '\n');
    await loud.waitForEnd();
    assert.match(linesOf(loud).at(-1)!, /^error line-too-long a line is longer than 16 bytes$/);
    await listener.waitFor((t) => t.includes('short enough\n'));
    assert.doesNotMatch(listener.text, /xxxx/);
    // The rest of the room is unaffected.
    const other = await chatter(server.port);
    other.write('still here\n');
    await listener.waitFor((t) => t.includes('still here\n'));
    listener.close();
    other.close();
  }));

  it('invalid UTF-8 gets "error not-utf8" and a close', () => withLab({}, async (server) => {
    const client = await chatter(server.port);
    client.write(Buffer.from([0x61, 0xc3, 0x28, 0x0a]));
    await client.waitForEnd();
    assert.match(linesOf(client).at(-1)!, /^error not-utf8 /);
  }));

  it('a line left unfinished gets "error line-timeout" and a close', () => withLab({ experimental: { labChat: { lineTimeoutMs: 200 } } }, async (server) => {
    const client = await chatter(server.port);
    client.write('no newline ever');
    await client.waitForEnd(10_000);
    assert.match(linesOf(client).at(-1)!, /^error line-timeout /);
  }));

  it('a member that stops reading is evicted with "error too-slow"; the others keep chatting', () => withLab(
    { limits: { outboundQueueBytes: 64 * 1024 }, experimental: { labChat: { lingerMs: 60_000 } } },
    async (server, events) => {
      const slow = await chatter(server.port);
      slow.socket.pause();
      const ws = await connect(chatUrl(server.port), { protocols: ['chat'] });
      const fast = await chatter(server.port);
      const atFast = () => linesOf(fast).length;
      const evicted = (): boolean => events.some((e: LabEvent) => e.type === 'protocol' && e.kind === 'evicted');
      const big = 'y'.repeat(32 * 1024);
      // Bounded: kernel buffers on loopback hold a few MB before the server's own queue grows.
      for (let i = 0; i < 2_000 && !evicted(); i++) {
        if (!ws.send(big)) await new Promise<void>((resolve) => ws.once('drain', () => resolve()));
        if (i % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await eventually(evicted, 10_000, 'the slow member to be evicted');
      ws.send('after the eviction');
      await fast.waitFor((t) => t.includes('after the eviction\n'), 10_000);
      assert.ok(atFast() > 1);
      slow.socket.resume();
      await slow.waitForEnd(20_000);
      assert.match(linesOf(slow).at(-1)!, /^error too-slow fell more than 65536 bytes behind$/);
      ws.close();
      fast.close();
    }));

  it('the peer\'s FIN: its last unterminated line is delivered, then the server closes and it leaves the room', () => withLab({}, async (server) => {
    const ws = await connect(chatUrl(server.port), { protocols: ['chat'] });
    const atWs = messages(ws);
    const raw = await chatter(server.port);
    raw.write('last words');
    raw.socket.end();
    await raw.waitForEnd();
    await eventually(() => atWs.includes('last words'), 5_000, 'the last line');
    await eventually(() => server.table.size === 1, 5_000, 'the raw connection to leave the table');
    ws.send('anyone?');
    ws.close();
  }));

  it('server shutdown says "bye" and closes', async () => {
    let client: RawClient | undefined;
    await withLab({}, async (server) => {
      client = await chatter(server.port);
    });
    const text = await client!.waitForEnd();
    assert.match(text, /\nbye server shutting down\n$/);
  });

  it('refuses settings that would make no sense', () => {
    for (const bad of [{ maxLineBytes: 0 }, { lineTimeoutMs: -1 }, { lingerMs: 1.5 }]) {
      assert.throws(() => createLabChatProtocol(new ChatRoom(1024), bad), (error: unknown) => error instanceof UsageError && error.code === 'ERR_BAD_LAB_CHAT_OPTION');
    }
  });

  it('is left out with labChat: false: the offer falls back to plain HTTP', () => withLab({ experimental: { labChat: false } }, async (server) => {
    const client = await RawClient.open(server.port);
    client.write(UPGRADE.replace('GET / ', 'GET /healthz '));
    await client.waitFor((t) => parseResponses(t).length === 1);
    assert.equal(parseResponses(client.text)[0]!.status, 200);
    client.close();
  }));
});
