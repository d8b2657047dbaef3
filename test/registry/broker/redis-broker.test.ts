import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ChatRoom, type ChatMessage, type RoomMember } from '../../../src/protocols/chat/room.js';
import { RedisBroker, type RedisBrokerOptions } from '../../../src/registry/broker/redis-broker.js';
import { freePort, redisCommand, RedisServer } from '../../helpers/redis-server.js';
import { requireCommand } from '../../helpers/require-command.js';

/** Short waits so the outage tests take seconds, not the defaults' tens of seconds. */
const FAST: RedisBrokerOptions = { connectTimeoutMs: 1000, replyTimeoutMs: 400, backoffInitialMs: 50, backoffMaxMs: 400 };

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const message = (text: string, from = 'tester'): ChatMessage => ({ from, text, time: 1_700_000_000_000 });

/** A broker subscribed to `rooms`, collecting what each hears; closed by the `after` of its suite. */
function instance(url: string, brokers: RedisBroker[], rooms: string[] = ['chat'], options: RedisBrokerOptions = FAST) {
  const broker = new RedisBroker(url, options);
  brokers.push(broker);
  const heard = new Map<string, string[]>();
  const unsubscribe = new Map<string, () => void>();
  for (const room of rooms) {
    heard.set(room, []);
    unsubscribe.set(room, broker.subscribe(room, (m) => heard.get(room)!.push(m.text)));
  }
  return { broker, heard: (room = 'chat') => heard.get(room)!, unsubscribe: (room: string) => unsubscribe.get(room)!() };
}

const haveRedis = (t: TestContext): boolean => requireCommand(t, 'redis-server', ['--version']);
/** For `before`, which has no test context to skip with: the tests themselves skip (or fail under CI). */
const redisInstalled = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

describe('RedisBroker against a real redis-server', { timeout: 30_000 }, () => {
  let redis: RedisServer | undefined;
  const brokers: RedisBroker[] = [];
  before(async () => {
    if (redisInstalled) redis = await RedisServer.start();
  });
  after(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await redis?.kill();
  });

  it('two instances exchange messages on a room and neither hears its own', async (t) => {
    if (!haveRedis(t)) return;
    const a = instance(redis!.url, brokers);
    const b = instance(redis!.url, brokers);
    await waitFor('both connected', () => a.broker.status().connected && b.broker.status().connected);
    a.broker.publish('chat', message('from a'));
    await waitFor('b hears a', () => b.heard().length === 1);
    b.broker.publish('chat', message('from b'));
    await waitFor('a hears b', () => a.heard().length === 1);
    // Redis delivers in publish order, so a's own echo would have come before b's message.
    assert.deepEqual(a.heard(), ['from b']);
    assert.deepEqual(b.heard(), ['from a']);
    await waitFor('both PUBLISHes acknowledged', () => a.broker.status().published === 1 && b.broker.status().published === 1);
    for (const { broker } of [a, b]) {
      const status = broker.status();
      assert.deepEqual({ ...status }, { kind: 'redis', target: `redis://127.0.0.1:${redis!.port}/0`, connected: true, published: 1, received: 1, dropped: 0 });
    }
  });

  it('rooms are separate, and an unsubscribed room is no longer delivered', async (t) => {
    if (!haveRedis(t)) return;
    const a = instance(redis!.url, brokers, ['x', 'y']);
    const b = instance(redis!.url, brokers, ['x', 'y']);
    await waitFor('both connected', () => a.broker.status().connected && b.broker.status().connected);
    a.broker.publish('x', message('x1'));
    a.broker.publish('y', message('y1'));
    await waitFor('b hears both', () => b.heard('x').length === 1 && b.heard('y').length === 1);
    assert.deepEqual([b.heard('x'), b.heard('y')], [['x1'], ['y1']]);
    b.unsubscribe('x');
    a.broker.publish('x', message('x2'));
    a.broker.publish('y', message('y2'));
    await waitFor('b hears y2', () => b.heard('y').length === 2);
    assert.deepEqual(b.heard('x'), ['x1']);
    assert.equal(b.broker.status().received, 3);
  });

  it('a room is the channel switchyard:<db>:room:<room>; foreign or malformed payloads on it are ignored', async (t) => {
    if (!haveRedis(t)) return;
    const a = instance(redis!.url, brokers, ['raw']);
    await waitFor('connected', () => a.broker.status().connected);
    const channel = 'switchyard:0:room:raw';
    await redisCommand(redis!.port, ['PUBLISH', channel, 'not json']);
    await redisCommand(redis!.port, ['PUBLISH', channel, JSON.stringify({ origin: 'x', from: 'f', text: 7, time: 1 })]);
    const subscribers = await redisCommand(redis!.port, ['PUBLISH', channel, JSON.stringify({ origin: 'elsewhere', from: 'f', text: 'ok', time: 1 })]);
    assert.deepEqual(subscribers, { type: 'integer', value: 1 }, 'the broker is subscribed to that channel');
    await waitFor('the valid message', () => a.heard('raw').length === 1);
    assert.deepEqual(a.heard('raw'), ['ok']);
    assert.equal(a.broker.status().received, 1);
  });

  it('the database in the URL scopes the rooms (pub/sub itself ignores it)', async (t) => {
    if (!haveRedis(t)) return;
    const one = instance(`${redis!.url}/1`, brokers);
    const alsoOne = instance(`${redis!.url}/1`, brokers);
    const two = instance(`${redis!.url}/2`, brokers);
    const alsoTwo = instance(`${redis!.url}/2`, brokers);
    await waitFor('all connected', () => [one, alsoOne, two, alsoTwo].every((i) => i.broker.status().connected));
    assert.equal(two.broker.status().target, `redis://127.0.0.1:${redis!.port}/2`);
    one.broker.publish('chat', message('db1'));
    await waitFor('acknowledged', () => one.broker.status().published === 1);
    alsoTwo.broker.publish('chat', message('db2'));
    await waitFor('db 2 hears its own db', () => two.heard().length === 1 && alsoOne.heard().length === 1);
    assert.deepEqual(two.heard(), ['db2'], 'db 1 message published first would have come first');
    assert.deepEqual(alsoOne.heard(), ['db1']);
  });

  it('a database Redis does not have is reported, not connected', async (t) => {
    if (!haveRedis(t)) return;
    const { broker } = instance(`${redis!.url}/99`, brokers);
    await waitFor('the SELECT error', () => /SELECT: .*DB index is out of range/.test(broker.status().lastError ?? ''));
    assert.equal(broker.status().connected, false);
    broker.publish('chat', message('nowhere'));
    assert.equal(broker.status().dropped, 1);
  });

  it('two chat rooms on two instances are one room', async (t) => {
    if (!haveRedis(t)) return;
    const rooms = [new ChatRoom(1 << 20, { broker: instance(redis!.url, brokers, []).broker }), new ChatRoom(1 << 20, { broker: instance(redis!.url, brokers, []).broker })];
    const got: string[][] = [[], []];
    const members = rooms.map((room, i): RoomMember => {
      const member: RoomMember = { name: `m${i}`, queuedBytes: 0, deliver: (m) => got[i]!.push(`${m.from}: ${m.text}`), evict: () => assert.fail('evicted') };
      room.join(member);
      return member;
    });
    await waitFor('connected', () => rooms.every((r) => r.brokerStatus()?.connected === true));
    rooms[0]!.broadcast(members[0]!, 'hello across');
    await waitFor('the other instance hears it', () => got[1]!.length === 1);
    assert.deepEqual(got, [[], ['m0: hello across']]);
    for (const room of rooms) room.close();
  });
});

describe('RedisBroker when Redis goes away', { timeout: 30_000 }, () => {
  const brokers: RedisBroker[] = [];
  const servers: RedisServer[] = [];
  after(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    for (const server of servers) { server.resume(); await server.kill(); }
  });

  it('killed: not connected, publishes dropped without throwing; restarted: both reconnect and messages flow', async (t) => {
    if (!haveRedis(t)) return;
    const redis = await RedisServer.start();
    servers.push(redis);
    const a = instance(redis.url, brokers);
    const b = instance(redis.url, brokers);
    await waitFor('both connected', () => a.broker.status().connected && b.broker.status().connected);
    await redis.kill();
    await waitFor('both see the loss', () => !a.broker.status().connected && !b.broker.status().connected);
    assert.match(a.broker.status().lastError ?? '', /connection/);
    assert.doesNotThrow(() => { a.broker.publish('chat', message('lost 1')); a.broker.publish('chat', message('lost 2')); });
    assert.equal(a.broker.status().dropped, 2);
    await redis.restart();
    const restartedAt = Date.now();
    // Backoff capped at 400 ms here (5 s by default): well within the bound.
    await waitFor('both reconnected', () => a.broker.status().connected && b.broker.status().connected, 3000);
    t.diagnostic(`reconnected ${Date.now() - restartedAt} ms after the restart`);
    a.broker.publish('chat', message('after'));
    await waitFor('b hears it', () => b.heard().length === 1);
    assert.deepEqual(b.heard(), ['after'], 'nothing published during the outage was queued');
    assert.equal(a.broker.status().lastError, undefined);
  });

  it('hung (no replies): a PUBLISH without a reply in time counts as dropped; resumed: connected again', async (t) => {
    if (!haveRedis(t)) return;
    const redis = await RedisServer.start();
    servers.push(redis);
    const a = instance(redis.url, brokers);
    await waitFor('connected', () => a.broker.status().connected);
    redis.pause();
    a.broker.publish('chat', message('into the void'));
    assert.equal(a.broker.status().dropped, 0, 'in flight, not yet dropped');
    await waitFor('the reply deadline', () => a.broker.status().dropped === 1, 2000);
    assert.equal(a.broker.status().connected, false);
    assert.match(a.broker.status().lastError ?? '', /no reply to PUBLISH in 400 ms/);
    redis.resume();
    await waitFor('connected again', () => a.broker.status().connected, 3000);
  });

  it('not there at start: no throw, refused and dropped; started later: connects', async (t) => {
    if (!haveRedis(t)) return;
    const port = await freePort();
    const a = instance(`redis://127.0.0.1:${port}`, brokers);
    await waitFor('a refused connection', () => /ECONNREFUSED/.test(a.broker.status().lastError ?? ''));
    a.broker.publish('chat', message('early'));
    assert.equal(a.broker.status().dropped, 1);
    const redis = await RedisServer.start([], port);
    servers.push(redis);
    await waitFor('connected', () => a.broker.status().connected, 3000);
  });

  it('AUTH: the right password connects, a wrong one is reported', async (t) => {
    if (!haveRedis(t)) return;
    const redis = await RedisServer.start(['--requirepass', 's3cret']);
    servers.push(redis);
    const good = instance(`redis://:s3cret@127.0.0.1:${redis.port}/1`, brokers);
    const other = instance(`redis://default:s3cret@127.0.0.1:${redis.port}/1`, brokers);
    const bad = instance(`redis://:wrong@127.0.0.1:${redis.port}`, brokers);
    await waitFor('connected', () => good.broker.status().connected && other.broker.status().connected);
    good.broker.publish('chat', message('authenticated'));
    await waitFor('heard', () => other.heard().length === 1);
    await waitFor('the AUTH error', () => /AUTH: WRONGPASS/.test(bad.broker.status().lastError ?? ''));
    assert.equal(bad.broker.status().connected, false);
    assert.doesNotMatch(bad.broker.status().target, /wrong/);
  });
});

describe('RedisBroker.close', { timeout: 30_000 }, () => {
  /** The handles that keep a process alive: sockets and timers. */
  const handles = (): string[] => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').sort();
  const timers = (list = handles()): string[] => list.filter((r) => r === 'Timeout');

  it('leaves no socket or timer behind: connected, reconnecting, or mid-connect', async (t) => {
    if (!haveRedis(t)) return;
    const redis = await RedisServer.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 100)); // the start-up PING's socket
      const baseline = handles();
      const connected = new RedisBroker(redis.url, FAST);
      connected.subscribe('chat', () => {});
      await waitFor('connected', () => connected.status().connected);
      connected.publish('chat', message('in flight at close'));
      const refused = new RedisBroker(`redis://127.0.0.1:${await freePort()}`, FAST);
      await waitFor('refused, waiting to retry', () => /ECONNREFUSED/.test(refused.status().lastError ?? ''));
      const connecting = new RedisBroker(redis.url, FAST);
      assert.notDeepEqual(handles(), baseline, 'the brokers hold sockets and timers (else this test proves nothing)');
      await Promise.all([connected.close(), refused.close(), connecting.close()]);
      assert.deepEqual(timers(), timers(baseline), 'no timer left (reconnect, deadline, reply) the moment close resolves');
      // A destroyed socket leaves the list a moment after its 'close' event.
      await waitFor('the sockets to leave the handle list', () => handles().length === baseline.length, 1000);
      await new Promise((resolve) => setTimeout(resolve, 500)); // longer than the backoff: nothing reconnects
      assert.deepEqual(handles(), baseline);
      assert.equal(connected.status().connected, false);
      assert.equal(connected.status().published + connected.status().dropped, 1, 'the in-flight PUBLISH is accounted for');
      await connected.close(); // twice is harmless
    } finally {
      await redis.kill();
    }
  });
});
