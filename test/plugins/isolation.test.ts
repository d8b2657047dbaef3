import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LabEvent } from '../../src/accept-loop/lab-events.js';
import { loadPlugin } from '../../src/plugins/load-plugin.js';
import { isolate } from '../../src/plugins/isolate.js';
import { accept, type ProtocolHandler } from '../../src/registry/plugin.js';
import { eventually, withLab } from '../helpers/lab.js';
import { parseResponses, RawClient } from '../helpers/raw-client.js';
import { EXAMPLES } from './paths.js';

const upgrade = (token: string, path = '/'): string =>
  `GET ${path} HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: ${token}\r\n\r\n`;

/** The 5-tuple of a client's connection as the server writes it: transport, server end, client end. */
const tupleOf = (client: RawClient, serverPort: number): string => `tcp 127.0.0.1:${serverPort} 127.0.0.1:${client.socket.localPort}`;

const errorsFor = (events: LabEvent[], fiveTuple: string): Array<Extract<LabEvent, { type: 'error' }>> =>
  events.filter((e): e is Extract<LabEvent, { type: 'error' }> => e.type === 'error' && e.fiveTuple === fiveTuple);

describe('plugin isolation', { timeout: 60_000 }, () => {
  it('a throwing plugin beside a healthy one: each failure costs one connection, logged with its 5-tuple', () => withLab({}, async (server, events) => {
    server.registry.register((await loadPlugin(join(EXAMPLES, 'shout.js'))).handler);
    server.registry.register((await loadPlugin(join(EXAMPLES, 'flaky.js'))).handler);
    server.registry.register({ token: 'rejects/1', handshake: () => Promise.reject(new Error('async bug')), takeover: () => {} });
    // A healthy connection, open through everything that follows.
    const healthy = await RawClient.open(server.port);
    healthy.write(upgrade('shout/1') + 'before|');
    await healthy.waitFor((t) => t.endsWith('BEFORE|'));

    const beforeHandshake = await RawClient.open(server.port);
    beforeHandshake.write(upgrade('flaky/1', '/handshake-bug'));
    const [refused] = parseResponses(await beforeHandshake.waitForEnd());
    assert.equal(refused!.status, 500);
    const [handshakeError] = errorsFor(events, tupleOf(beforeHandshake, server.port));
    assert.equal(handshakeError?.code, 'ERR_PLUGIN_HANDSHAKE');
    assert.match(handshakeError!.message, /flaky\/1 handshake threw: flaky: bug in handshake/);

    const rejecting = await RawClient.open(server.port);
    rejecting.write(upgrade('rejects/1'));
    assert.equal(parseResponses(await rejecting.waitForEnd())[0]!.status, 500);
    assert.equal(errorsFor(events, tupleOf(rejecting, server.port))[0]?.code, 'ERR_PLUGIN_HANDSHAKE');

    const afterSwitch = await RawClient.open(server.port);
    afterSwitch.write(upgrade('flaky/1', '/takeover-bug'));
    const text = await afterSwitch.waitForEnd();
    assert.match(text, /^HTTP\/1\.1 101 [^]*\r\n\r\nabout to fail\n$/);
    const [takeoverError] = errorsFor(events, tupleOf(afterSwitch, server.port));
    assert.equal(takeoverError?.code, 'ERR_PLUGIN_TAKEOVER');
    assert.match(takeoverError!.message, /flaky: bug in takeover/);

    const fine = await RawClient.open(server.port);
    fine.write(upgrade('flaky/1', '/fine'));
    assert.match(await fine.waitForEnd(), /about to fail\nfine this time\n$/);

    healthy.write('after|');
    await healthy.waitFor((t) => t.endsWith('BEFORE|AFTER|'), 5_000, 'the healthy connection to carry on');
    healthy.close();
  }));

  it('isolate(): a throw inside a socket listener closes that connection, not the process', () => withLab({}, async (server, events) => {
    const fragile: ProtocolHandler = {
      token: 'fragile/1',
      takeover: ({ socket }) => new Promise<void>((done) => {
        socket.on('data', (chunk: Buffer) => {
          if (chunk.includes('boom')) throw new Error('listener bug');
          socket.write(chunk);
        });
        socket.on('end', () => socket.end());
        socket.on('close', () => done());
        socket.resume();
      }),
    };
    server.registry.register(isolate(fragile));
    const bystander = await RawClient.open(server.port);
    // These plugins ignore ctx.head, so the tests wait for the 101 before sending protocol bytes.
    bystander.write(upgrade('fragile/1'));
    await bystander.waitFor((t) => t.endsWith('\r\n\r\n'));
    bystander.write('hi|');
    await bystander.waitFor((t) => t.endsWith('hi|'));
    const victim = await RawClient.open(server.port);
    victim.write(upgrade('fragile/1'));
    await victim.waitFor((t) => t.endsWith('\r\n\r\n'));
    victim.write('boom');
    await victim.waitForEnd();
    const victimTuple = tupleOf(victim, server.port);
    await eventually(() => events.some((e) => e.type === 'protocol' && e.fiveTuple === victimTuple && /listener threw: listener bug/.test(e.detail)),
      5_000, 'the traced listener error');
    bystander.write('still|');
    await bystander.waitFor((t) => t.endsWith('hi|still|'));
    bystander.close();
  }));

  it('isolate() keeps once, off and the other hooks working as the plugin wrote them', () => withLab({}, async (server) => {
    let closed = 0;
    const careful: ProtocolHandler<string> = {
      token: 'careful/1',
      description: 'answers once',
      handshake: () => accept([], 'state'),
      takeover: ({ socket, state }) => new Promise<void>((done) => {
        const never = (): void => { socket.write('never\n'); };
        socket.on('data', never);
        socket.off('data', never);
        socket.prependListener('data', never);
        socket.removeListener('data', never);
        socket.once('data', () => { socket.end(`once with ${state}\n`); });
        socket.on('close', () => done());
        socket.resume();
      }),
      close() { closed++; },
    };
    const wrapped = isolate(careful);
    assert.equal(wrapped.description, 'answers once');
    server.registry.register(wrapped);
    const client = await RawClient.open(server.port);
    client.write(upgrade('careful/1'));
    await client.waitFor((t) => t.endsWith('\r\n\r\n'));
    client.write('one');
    await client.waitFor((t) => t.endsWith('once with state\n'));
    client.write('two');
    const text = await client.waitForEnd();
    assert.doesNotMatch(text, /never/);
    assert.equal(text.match(/once with/g)?.length, 1);
    await server.registry.unregister('careful/1');
    assert.equal(closed, 1, 'the close hook is passed through');
  }));
});
