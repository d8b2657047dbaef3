/**
 * Several machines, one room: two `switchyard serve --broker redis://…` processes (standing in for two
 * machines) and a real `redis-server`. A `/chat` member on one and a `lab-chat/1` member on the other
 * hear each other; with Redis killed each instance keeps delivering locally and counts what it could not
 * send on (`/_lab/broker`); with Redis back on the same port the room is whole again without a restart.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { connect } from '../../src/protocols/websocket/client.js';
import type { WebSocket } from '../../src/protocols/websocket/session.js';
import { RedisServer } from '../helpers/redis-server.js';
import { requireCommand } from '../helpers/require-command.js';
import { type Served, startServe, stopServe } from '../helpers/serve.js';

interface Broker { kind: string; target: string; connected: boolean; published: number; received: number; dropped: number; lastError?: string }

async function brokerOf(port: number): Promise<Broker> {
  const response = await fetch(`http://127.0.0.1:${port}/_lab/broker`, { headers: { Connection: 'close' }, signal: AbortSignal.timeout(5_000) });
  return await response.json() as Broker;
}

async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A `lab-chat/1` member on a raw socket: its lines as they come. */
class LineMember {
  readonly lines: string[] = [];
  #buffer = '';
  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      for (let at = this.#buffer.indexOf('\n'); at !== -1; at = this.#buffer.indexOf('\n')) {
        this.lines.push(this.#buffer.slice(0, at));
        this.#buffer = this.#buffer.slice(at + 1);
      }
    });
  }

  static async join(port: number): Promise<LineMember> {
    const socket = netConnect({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: lab-chat/1\r\n\r\n`);
    const member = new LineMember(socket);
    await until(async () => member.lines, (lines) => lines.some((l) => l.startsWith('hello ')), 5_000, 'the hello line');
    return member;
  }

  say(text: string): void { this.socket.write(text + '\n'); }
}

function heard(ws: WebSocket, text: string, ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`"${text}" was not heard in ${ms} ms`)), ms);
    const onMessage = (data: string | Uint8Array): void => {
      if (String(data) !== text) return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve();
    };
    ws.on('message', onMessage);
  });
}

describe('one room across two serve processes through a real Redis', () => {
  let redis: RedisServer | undefined;
  let a: Served | undefined;
  let b: Served | undefined;
  after(async () => {
    if (a) await stopServe(a.child);
    if (b) await stopServe(b.child);
    await redis?.kill();
  });

  it('a /chat member on one instance and a lab-chat/1 member on the other hear each other; Redis down: local delivery goes on, remote messages are counted as dropped; Redis back: whole again', { timeout: 60_000 }, async (t) => {
    if (!requireCommand(t, 'redis-server', ['--version'])) return;
    redis = await RedisServer.start();
    a = await startServe(['--port', '0', '--broker', redis.url]);
    b = await startServe(['--port', '0', '--broker', `${redis.url}/0`]);
    const portA = a!.port;
    const portB = b!.port;
    await until(() => brokerOf(portA), (s) => s.connected, 5_000, 'instance A to reach Redis');
    await until(() => brokerOf(portB), (s) => s.connected, 5_000, 'instance B to reach Redis');
    assert.equal((await brokerOf(portA)).kind, 'redis');

    const onA = await connect(`ws://127.0.0.1:${portA}/chat`, { protocols: ['chat'] });
    const alsoOnA = await connect(`ws://127.0.0.1:${portA}/chat`, { protocols: ['chat'] });
    const onB = await LineMember.join(portB);

    const toB = until(async () => onB.lines, (lines) => lines.some((l) => l.endsWith(' from A, via Redis')), 5_000, 'B to hear A');
    onA.send('from A, via Redis');
    await toB;
    const toA = heard(onA, 'from B, via Redis');
    onB.say('from B, via Redis');
    await toA;

    // Redis crashes: each instance still delivers to its own members, and counts what it cannot send on.
    await redis!.kill();
    await until(() => brokerOf(portA), (s) => !s.connected, 5_000, 'instance A to notice Redis is gone');
    const droppedBefore = (await brokerOf(portA)).dropped;
    const local = heard(alsoOnA, 'while Redis is down');
    onA.send('while Redis is down');
    await local;
    const down = await until(() => brokerOf(portA), (s) => s.dropped > droppedBefore, 5_000, 'the message to be counted as dropped');
    assert.equal(down.connected, false);
    assert.ok(down.lastError, 'it says why');
    assert.ok(!onB.lines.some((l) => l.endsWith(' while Redis is down')), 'B did not hear it (it was dropped, not queued)');

    // Redis is back on the same port: both reconnect by themselves, and the room is whole again.
    await redis!.restart();
    await until(() => brokerOf(portA), (s) => s.connected, 15_000, 'instance A to reconnect');
    await until(() => brokerOf(portB), (s) => s.connected, 15_000, 'instance B to reconnect');
    const again = until(async () => onB.lines, (lines) => lines.some((l) => l.endsWith(' after the restart')), 5_000, 'B to hear A again');
    onA.send('after the restart');
    await again;

    for (const ws of [onA, alsoOnA]) ws.close();
    onB.socket.destroy();
  });
});
