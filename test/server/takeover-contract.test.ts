/**
 * The takeover contract (src/registry/plugin.ts, src/accept-loop/handover.ts), as a client on the wire
 * sees it: what happens to the socket when `takeover` returns, returns a promise, or throws, with and
 * without `managesSocket`; the shutdown slot in `ctx.hooks`; and the cork that sends a synchronous reply
 * to the head bytes together with the 101.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { RawClient } from '../helpers/raw-client.js';
import { eventually, withLab } from '../helpers/lab.js';
import type { ConnectionRecord } from '../../src/accept-loop/connection-table.js';
import { formatFiveTuple } from '../../src/accept-loop/five-tuple.js';
import type { LabEvent } from '../../src/accept-loop/lab-events.js';
import type { ConnectionHooks, TakeoverContext } from '../../src/registry/plugin.js';

const upgrade = (token: string): string => `GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: ${token}\r\n\r\n`;
const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\n';
const afterHead = (text: string): string => text.slice(text.indexOf('\r\n\r\n') + 4);
const closeOf = (events: LabEvent[], id: number | undefined) =>
  events.find((e): e is Extract<LabEvent, { type: 'close' }> => e.type === 'close' && e.id === id);

/** Echo on the socket, end when the client ends: a handler whose own listeners end the socket. */
function echoTakeover(seen: { ctx?: TakeoverContext; row?: ConnectionRecord | undefined; server?: { table: { get(key: string): ConnectionRecord | undefined } } }) {
  return (ctx: TakeoverContext): void => {
    seen.ctx = ctx;
    seen.row = seen.server?.table.get(formatFiveTuple(ctx.fiveTuple));
    ctx.socket.on('data', (chunk: Buffer) => ctx.socket.write(chunk));
    ctx.socket.on('end', () => ctx.socket.end());
    ctx.socket.on('error', () => {});
  };
}

describe('takeover contract', () => {
  it('managesSocket: a takeover that returns nothing keeps the connection open until the client closes', () => withLab({}, async (server, events) => {
    const seen: Parameters<typeof echoTakeover>[0] = { server };
    let takeovers = 0;
    const takeover = echoTakeover(seen);
    server.registry.register({ token: 'managed', managesSocket: true, takeover: (ctx) => { takeovers++; takeover(ctx); } });
    const client = await RawClient.open(server.port);
    client.write(upgrade('managed'));
    // The 101 leaves when the cork is released, after takeover returned.
    await client.waitFor((t) => t.includes('\r\n\r\n'), 3_000, 'the 101');
    assert.ok(client.text.startsWith(SWITCHED));
    assert.equal(takeovers, 1);
    // Give a destroy-on-return (the contract without managesSocket) every chance to happen.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(client.ended, false, 'the server did not end the connection');
    assert.equal(seen.ctx!.socket.destroyed, false);
    assert.equal(server.table.size, 1);
    assert.equal([...server.table.records()][0]?.state, 'upgraded');
    for (const message of ['ping|', 'pong|']) {
      const before = afterHead(client.text);
      client.write(message);
      await client.waitFor((t) => afterHead(t) === before + message, 3_000, `the echo of ${message}`);
    }
    assert.equal(afterHead(client.text), 'ping|pong|');
    client.socket.end();
    await client.waitForEnd();
    await eventually(() => server.table.size === 0, 3_000, 'the row to leave the table');
    const close = closeOf(events, seen.row?.id);
    assert.ok(close, 'a close event for the row');
    assert.equal(close.closedBy, 'client');
    assert.equal(close.reason, 'peer closed');
    assert.equal(close.bytesIn, Buffer.byteLength(upgrade('managed')) + 'ping|pong|'.length);
  }));

  it('without managesSocket, the same takeover has its socket destroyed as soon as it returns', () => withLab({}, async (server, events) => {
    const seen: Parameters<typeof echoTakeover>[0] = { server };
    server.registry.register({ token: 'unmanaged', takeover: echoTakeover(seen) });
    const client = await RawClient.open(server.port);
    client.write(upgrade('unmanaged'));
    const text = await client.waitForEnd(3_000);
    assert.ok(text.startsWith(SWITCHED), 'the 101 went out before the socket was destroyed');
    assert.equal(afterHead(text), '', 'nothing after the 101');
    assert.equal(seen.ctx!.socket.destroyed, true);
    await eventually(() => server.table.size === 0, 3_000, 'the row to leave the table');
    assert.equal(seen.row?.closedBy, 'server');
    assert.equal(seen.row?.closeReason, 'unmanaged handler finished');
    const close = closeOf(events, seen.row?.id);
    assert.equal(close?.closedBy, 'server');
    assert.equal(close?.reason, 'unmanaged handler finished');
    client.close();
  }));

  it('without managesSocket, a takeover promise holds the connection open until it settles', () => withLab({}, async (server) => {
    let done: (() => void) | undefined;
    const seen: Parameters<typeof echoTakeover>[0] = { server };
    const takeover = echoTakeover(seen);
    server.registry.register({
      token: 'until-done',
      takeover: (ctx) => { takeover(ctx); return new Promise<void>((resolve) => { done = resolve; }); },
    });
    const client = await RawClient.open(server.port);
    client.write(upgrade('until-done'));
    await client.waitFor((t) => t.includes('\r\n\r\n'), 3_000, 'the 101');
    client.write('still here');
    await client.waitFor((t) => afterHead(t) === 'still here', 3_000, 'the echo while the promise is pending');
    assert.equal(client.ended, false);
    done!();
    await client.waitForEnd(3_000);
    await eventually(() => server.table.size === 0, 3_000, 'the row to leave the table');
    assert.equal(seen.row?.closeReason, 'until-done handler finished');
  }));

  it('managesSocket: a takeover that throws gets its socket destroyed and the failure reported', () => withLab({}, async (server, events) => {
    const seen: Parameters<typeof echoTakeover>[0] = { server };
    const takeover = echoTakeover(seen);
    server.registry.register({
      token: 'managed-bug',
      managesSocket: true,
      takeover: (ctx) => { takeover(ctx); throw new Error('boom in takeover'); },
    });
    const client = await RawClient.open(server.port);
    client.write(upgrade('managed-bug'));
    const text = await client.waitForEnd(3_000);
    assert.ok(text.startsWith(SWITCHED));
    assert.equal(seen.ctx!.socket.destroyed, true);
    await eventually(() => server.table.size === 0, 3_000, 'the row to leave the table');
    const row = seen.row!;
    assert.ok(row, 'the row was in the table during takeover');
    assert.equal(row.closedBy, 'server');
    assert.match(row.closeReason ?? '', /handler failed/);
    assert.match(row.closeReason ?? '', /boom in takeover/);
    const error = events.find((e) => e.type === 'error' && e.code === 'ERR_PLUGIN_TAKEOVER');
    assert.ok(error?.type === 'error', 'an ERR_PLUGIN_TAKEOVER event');
    assert.equal(error.id, row.id);
    assert.equal(error.fiveTuple, row.key);
    assert.match(error.message, /managed-bug handler failed: boom in takeover/);
    assert.match(closeOf(events, row.id)?.reason ?? '', /handler failed/);
    // The server itself is fine.
    const next = await RawClient.open(server.port);
    next.write('GET /healthz HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
    assert.match(await next.waitForEnd(3_000), /^HTTP\/1\.1 200 /);
    client.close();
  }));

  it('ctx.hooks.onShutdown(fn, target) registered in takeover runs with target when the server closes', () => withLab({ limits: { shutdownTimeoutMs: 3_000 } }, async (server, events) => {
    interface Goodbye { readonly socket: Duplex; readonly hooks: ConnectionHooks }
    const calls: Goodbye[] = [];
    let target: Goodbye | undefined;
    const sayBye = (goodbye: Goodbye): void => {
      calls.push(goodbye);
      goodbye.hooks.noteServerClose('saying goodbye');
      goodbye.socket.end('bye\n');
    };
    let rowId: number | undefined;
    server.registry.register({
      token: 'polite/1',
      managesSocket: true,
      takeover(ctx) {
        rowId = server.table.get(formatFiveTuple(ctx.fiveTuple))?.id;
        target = { socket: ctx.socket, hooks: ctx.hooks };
        ctx.socket.on('end', () => ctx.socket.end());
        ctx.socket.on('error', () => {});
        ctx.socket.resume();
        ctx.hooks.onShutdown(sayBye, target);
      },
    });
    const client = await RawClient.open(server.port);
    client.write(upgrade('polite/1'));
    await client.waitFor((t) => t.includes('\r\n\r\n'), 3_000, 'the 101');
    assert.equal(calls.length, 0, 'not before shutdown');
    const started = Date.now();
    await server.close();
    assert.ok(Date.now() - started < 2_500, 'closed by the goodbye, not by the shutdown deadline');
    assert.equal(calls.length, 1);
    assert.equal(calls[0], target, 'called with the registered target');
    const text = await client.waitForEnd(3_000);
    assert.equal(afterHead(text), 'bye\n');
    assert.equal(server.table.size, 0);
    assert.ok(!events.some((e) => e.type === 'shutdown' && e.phase.startsWith('deadline passed')), 'nothing left for the deadline');
    const close = closeOf(events, rowId);
    assert.equal(close?.closedBy, 'server');
    assert.equal(close?.reason, 'saying goodbye');
    client.close();
  }));

  it('bytes sent with the upgrade request reach ctx.head; a synchronous reply follows the 101 directly', () => withLab({}, async (server, events) => {
    const heads: string[] = [];
    server.registry.register({
      token: 'early/1',
      managesSocket: true,
      takeover({ socket, head }) {
        const text = Buffer.from(head).toString('latin1');
        heads.push(text);
        socket.write(`got:${text};`);
        socket.on('end', () => socket.end());
        socket.on('error', () => {});
        socket.resume();
      },
    });
    const client = await RawClient.open(server.port);
    const chunks: Buffer[] = [];
    client.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.write(upgrade('early/1') + 'EARLY\x00BYTES');
    const text = await client.waitFor((t) => t.endsWith('got:EARLY\x00BYTES;'), 3_000, 'the reply to the head bytes');
    assert.deepEqual(heads, ['EARLY\x00BYTES']);
    assert.ok(text.startsWith(SWITCHED));
    assert.match(text, /\r\nUpgrade: early\/1\r\n/);
    assert.equal(afterHead(text), 'got:EARLY\x00BYTES;', 'the reply is the first thing after the 101');
    const upgradeEvent = events.find((e) => e.type === 'upgrade');
    assert.equal(upgradeEvent?.type === 'upgrade' && upgradeEvent.headBytes, 'EARLY\x00BYTES'.length);
    // Without head bytes, head is empty (never absent).
    const second = await RawClient.open(server.port);
    second.write(upgrade('early/1'));
    await second.waitFor((t) => t.endsWith('\r\n\r\ngot:;'), 3_000, 'the reply to no head bytes');
    assert.deepEqual(heads, ['EARLY\x00BYTES', '']);
    client.close();
    second.close();
  }));

  // plugin.ts, step 2 of the contract: "the handler owns `ctx.socket` (paused: resume it or attach a
  // 'data' listener)". The loop pauses with socket.pause(), which makes readableFlowing false, and a
  // Readable only starts flowing on a new 'data' listener when readableFlowing is not false.
  it("contract: attaching a 'data' listener alone is enough to start reading the handed-over socket", () => withLab({ limits: { shutdownTimeoutMs: 500 } }, async (server) => {
    server.registry.register({
      token: 'listener-only',
      managesSocket: true,
      takeover({ socket, head }) {
        socket.write(head);
        socket.on('data', (chunk: Buffer) => socket.write(chunk));
        socket.on('end', () => socket.end());
        socket.on('error', () => {});
      },
    });
    const client = await RawClient.open(server.port);
    try {
      client.write(upgrade('listener-only') + 'head|');
      await client.waitFor((t) => t.includes('\r\n\r\n'), 3_000, 'the 101');
      client.write('later|');
      await client.waitFor((t) => afterHead(t) === 'head|later|', 2_000, "the echo through a 'data' listener");
    } finally {
      client.close();
    }
  }));

  // docs/plugins.md, "When a plugin breaks": "`takeover` throws or its promise rejects → the connection
  // closes, `error` `ERR_PLUGIN_TAKEOVER`". With managesSocket the loop ignores the returned promise.
  it('managesSocket: a takeover whose promise rejects closes its connection and reports ERR_PLUGIN_TAKEOVER', () => withLab({ limits: { shutdownTimeoutMs: 500 } }, async (server, events) => {
    let client: RawClient | undefined;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      server.registry.register({
        token: 'managed-async-bug',
        managesSocket: true,
        takeover: async ({ socket }) => {
          socket.on('error', () => {});
          await Promise.resolve();
          throw new Error('async boom');
        },
      });
      client = await RawClient.open(server.port);
      client.write(upgrade('managed-async-bug'));
      await client.waitFor((t) => t.includes('\r\n\r\n'), 3_000, 'the 101');
      // Give the rejection time to surface (as unhandled, or as a handled failure).
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(unhandled.map((r) => (r as Error).message), [], 'no unhandled rejection (it would end a plain Node process)');
      assert.ok(events.some((e) => e.type === 'error' && e.code === 'ERR_PLUGIN_TAKEOVER'), 'an ERR_PLUGIN_TAKEOVER event');
      await client.waitForEnd(2_000);
      await eventually(() => server.table.size === 0, 2_000, 'the row to leave the table');
    } finally {
      client?.close();
      process.off('unhandledRejection', onUnhandled);
    }
  }));
});
