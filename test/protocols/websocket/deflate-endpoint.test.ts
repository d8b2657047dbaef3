/**
 * permessage-deflate as a server operator sets it: on by default within the limits' defaults, per
 * endpoint options over them, `false` or window bits 0 to decline, bad values refused at start; and what
 * the lab shows of it (the row's `extensions`, frames with rsv1=1, messages with their wire size). Real
 * sockets on 127.0.0.1; the client is ours (its side is tested against Python's websockets elsewhere).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabEvent } from '../../../src/accept-loop/lab-events.js';
import { UsageError } from '../../../src/errors.js';
import { resolveLimits } from '../../../src/limits.js';
import { connect } from '../../../src/protocols/websocket/client.js';
import { echoEndpoint } from '../../../src/protocols/websocket/endpoints.js';
import { createWebSocketProtocol } from '../../../src/protocols/websocket/plugin.js';
import type { WebSocket } from '../../../src/protocols/websocket/session.js';
import { eventually, withLab } from '../../helpers/lab.js';

const DEFAULT_LINE = 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12';

function echoOnce(ws: WebSocket, data: string | Uint8Array): Promise<string | Uint8Array> {
  return new Promise((resolve, reject) => {
    ws.once('message', (reply) => resolve(reply));
    ws.once('close', (code) => reject(new Error(`closed with ${code} before the echo`)));
    ws.send(data);
  });
}

async function closeCleanly(ws: WebSocket): Promise<void> {
  const closed = new Promise<[number, boolean]>((resolve) => ws.once('close', (code, _reason, clean) => resolve([code, clean])));
  ws.close();
  assert.deepEqual(await closed, [1000, true]);
}

const protocolLines = (events: readonly LabEvent[], kind: string): string[] =>
  events.flatMap((e) => (e.type === 'protocol' && e.kind === kind ? [`${e.direction} ${e.detail}`] : []));

describe('permessage-deflate on a server endpoint', () => {
  it('is on by default: agreed within the default windows, shown on the row, messages compressed both ways', () => withLab({}, async (server, events) => {
    const ws = await connect(`ws://127.0.0.1:${server.port}/echo`);
    assert.equal(ws.extensions, DEFAULT_LINE);
    const text = 'a compressible line of text; '.repeat(40);
    assert.equal(await echoOnce(ws, text), text);
    assert.equal(await echoOnce(ws, 'short'), 'short');
    const row = server.table.snapshot().find((r) => r.protocol === 'websocket');
    assert.equal(row?.extensions, DEFAULT_LINE);
    // bytesIn counts the request head (about 250 bytes) too.
    assert.ok(row!.bytesIn < text.length / 2, `the wire carried ${row!.bytesIn} bytes for a ${text.length}-byte message`);
    await eventually(() => protocolLines(events, 'message').length >= 4, 2_000, 'the message trace');
    const messages = protocolLines(events, 'message');
    assert.match(messages[0]!, /^in text 1160 B \(deflated to \d+ B\)$/);
    assert.match(messages[1]!, /^out text 1160 B \(deflated to \d+ B\)$/);
    assert.deepEqual(messages.slice(2, 4), ['in text 5 B (uncompressed)', 'out text 5 B (uncompressed)'], 'under the 64-byte threshold');
    const frames = protocolLines(events, 'frame');
    assert.match(frames[0]!, /^in text fin=1 rsv1=1 len=\d+$/);
    assert.equal(frames[2], 'in text fin=1 len=5');
    await closeCleanly(ws);
  }));

  it('per endpoint: options override the limits; `false` declines; window bits 0 in the limits declines everywhere', () => withLab({
    limits: { webSocketDeflateWindowBits: 10 },
    webSocketEndpoints: {
      '/plain': { ...echoEndpoint(), deflate: false },
      '/forgetful': { ...echoEndpoint(), deflate: { serverNoContextTakeover: true, clientNoContextTakeover: true, clientWindowBits: 9, thresholdBytes: 0 } },
    },
  }, async (server) => {
    const limited = await connect(`ws://127.0.0.1:${server.port}/echo`);
    assert.equal(limited.extensions, 'permessage-deflate; server_max_window_bits=10; client_max_window_bits=12');
    const plain = await connect(`ws://127.0.0.1:${server.port}/plain`);
    assert.equal(plain.extensions, '');
    const forgetful = await connect(`ws://127.0.0.1:${server.port}/forgetful`);
    assert.equal(forgetful.extensions, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9');
    // Threshold 0: even one byte goes out compressed, and every message inflates on its own.
    for (const message of ['x', 'x', 'repeat repeat repeat']) assert.equal(await echoOnce(forgetful, message), message);
    const binary = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
    assert.deepEqual(Uint8Array.from(await echoOnce(forgetful, binary) as Uint8Array), binary);
    for (const ws of [limited, plain, forgetful]) await closeCleanly(ws);
  }).then(() => withLab({ limits: { webSocketDeflateWindowBits: 0 } }, async (server) => {
    const ws = await connect(`ws://127.0.0.1:${server.port}/echo`);
    assert.equal(ws.extensions, '', 'the extension is off server-wide');
    assert.equal(await echoOnce(ws, 'still works'), 'still works');
    await closeCleanly(ws);
  })));

  it('a client that offers nothing gets no extension, and its row shows none', () => withLab({}, async (server) => {
    const none = await connect(`ws://127.0.0.1:${server.port}/echo`, { deflate: false });
    assert.equal(none.extensions, '');
    assert.equal(server.table.snapshot().find((r) => r.protocol === 'websocket')?.extensions, undefined);
    await closeCleanly(none);
  }));

  it('bad values are refused when the server starts, not at the first client', () => {
    assert.throws(() => resolveLimits({ webSocketDeflateWindowBits: 8 }), (e: unknown) => e instanceof UsageError && /0 or 9\.\.15, got 8/.test(e.message));
    assert.throws(() => resolveLimits({ webSocketDeflateLevel: 10 }), UsageError);
    assert.throws(() => resolveLimits({ webSocketDeflateMemLevel: 0 }), UsageError);
    assert.doesNotThrow(() => resolveLimits({ webSocketDeflateWindowBits: 0, webSocketDeflateClientWindowBits: 8 }));
    assert.throws(() => createWebSocketProtocol({ endpoints: { '/x': { ...echoEndpoint(), deflate: { windowBits: 16 } } } }), /window bits must be 9\.\.15, got 16/);
    assert.throws(() => createWebSocketProtocol({ endpoints: { '/x': { ...echoEndpoint(), deflate: { memLevel: 0 } } } }), UsageError);
  });
});
