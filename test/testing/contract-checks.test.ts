/**
 * The contract checks of switchyard/testing against the built-in plugins (every check that applies
 * passes) and against test/fixtures/broken-plugins, each of which breaks one rule of the contract: it
 * must fail exactly the check for that rule, and pass every other.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ChatRoom } from '../../src/protocols/chat/room.js';
import { echoProtocol } from '../../src/protocols/echo/echo.js';
import { createLabChatProtocol } from '../../src/protocols/lab-chat/plugin.js';
import { echoEndpoint } from '../../src/protocols/websocket/endpoints.js';
import { createWebSocketProtocol } from '../../src/protocols/websocket/plugin.js';
import type { ProtocolHandler } from '../../src/registry/plugin.js';
import type { CheckOptions } from '../../src/testing/check-options.js';
import { CheckName, CONTRACT_CHECKS, type CheckResult, formatCheckLine, runContractChecks } from '../../src/testing/contract-checks.js';
import { REPO } from '../plugins/paths.js';

/** Short waits: every check here either answers at once or is meant to fail. */
const QUICK: CheckOptions = { timeoutMs: 1_000, drainMs: 1_000 };
const failed = (results: readonly CheckResult[]): string[] => results.filter((r) => !r.ok).map((r) => r.name);
const report = (results: readonly CheckResult[]): string => results.map(formatCheckLine).join('\n');

describe('contract checks against the built-in plugins', { timeout: 120_000 }, () => {
  it('echo passes every check; it has no handshake, so decline and reject are not exercised', async () => {
    const results = await runContractChecks(echoProtocol, QUICK);
    assert.deepEqual(results.map((r) => r.name), CONTRACT_CHECKS.map((c) => c.name), 'every check, in the documented order');
    assert.deepEqual(failed(results), [], report(results));
    assert.deepEqual(results.filter((r) => r.skipped).map((r) => r.name), [CheckName.Decline, CheckName.Reject]);
  });

  it('lab-chat/1 passes, its answers observed on another member\'s connection', async () => {
    const results = await runContractChecks(() => createLabChatProtocol(new ChatRoom(1 << 20)), { ...QUICK, exchange: { answeredOn: 'others' } });
    assert.deepEqual(failed(results), [], report(results));
    assert.match(results.find((r) => r.name === CheckName.ShutdownEnds)!.detail, /bye server shutting down/, 'its goodbye is seen');
  });

  it('websocket passes with masked frames as messages, a short close timeout, and its 400 for a request without a key', async () => {
    const key: [string, string] = ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='];
    const version: [string, string] = ['Sec-WebSocket-Version', '13'];
    // A text frame with a zero masking key: the payload goes as it is (RFC 6455 §5.3), and comes back unmasked.
    const frame = (text: string): Uint8Array => { const p = Buffer.from(text); return Buffer.concat([Buffer.from([0x81, 0x80 | p.length, 0, 0, 0, 0]), p]); };
    const results = await runContractChecks(() => createWebSocketProtocol({ endpoints: { '/echo': echoEndpoint() } }), {
      ...QUICK,
      request: { path: '/echo', headers: [key, version] },
      exchange: { message: frame },
      // Our raw client never answers the Close frame of the goodbye: the session waits this long for it.
      limits: { webSocketCloseTimeoutMs: 200 },
      reject: { path: '/echo', headers: [version], status: 400 },
    });
    assert.deepEqual(failed(results), [], report(results));
    assert.deepEqual(results.filter((r) => r.skipped).map((r) => r.name), [CheckName.Decline], 'WebSocket never declines');
  });

  it('a check given a broken factory says so instead of throwing', async () => {
    const result = await CONTRACT_CHECKS[0]!.run(() => { throw new Error('no handler today'); }, QUICK);
    assert.equal(result.ok, false);
    assert.match(result.detail, /could not be made: no handler today/);
  });

  it('skip: a check can be left out by name', async () => {
    const result = await CONTRACT_CHECKS[1]!.run(echoProtocol, { ...QUICK, skip: [CheckName.EarlyBytes] });
    assert.deepEqual([result.ok, result.skipped], [true, true]);
  });

  it('a protocol that answers nothing fails early-bytes with advice, not a verdict on ctx.head', async () => {
    const silent: ProtocolHandler = { token: 'silent/1', managesSocket: true, takeover: ({ socket }) => { socket.resume(); socket.on('end', () => socket.end()); } };
    const result = await CONTRACT_CHECKS[1]!.run(silent, QUICK);
    assert.equal(result.ok, false);
    assert.match(result.detail, /not even one sent after the 101; tell the checks how to talk to your protocol/);
  });
});

/** Each fixture and the one check it breaks. */
const BROKEN: Record<string, CheckName> = {
  'wrong-upgrade': CheckName.Handshake101,
  'loses-head': CheckName.EarlyBytes,
  'ignores-backpressure': CheckName.SlowReaderBounded,
  'never-ends': CheckName.ClientCloseReleases,
  'ignores-shutdown': CheckName.ShutdownEnds,
  'leaks-handshake-reservation': CheckName.HandshakeThrowIsolated,
  'leaks-on-destroy': CheckName.TakeoverThrowIsolated,
  'forgets-decline': CheckName.Decline,
  'forgets-reject': CheckName.Reject,
};

describe('contract checks against the broken plugins in test/fixtures', { timeout: 240_000 }, () => {
  it('every check has a fixture that breaks it', () => {
    assert.deepEqual(Object.values(BROKEN).sort(), CONTRACT_CHECKS.map((c) => c.name).sort());
  });

  for (const [fixture, check] of Object.entries(BROKEN)) {
    it(`${fixture}.js fails ${check} and only it`, async () => {
      const module = await import(pathToFileURL(join(REPO, 'test/fixtures/broken-plugins', `${fixture}.js`)).href) as { default: () => ProtocolHandler; contract: CheckOptions };
      const results = await runContractChecks(module.default, { ...module.contract, ...QUICK });
      assert.deepEqual(failed(results), [check], report(results));
      assert.deepEqual(results.filter((r) => r.skipped).map((r) => r.name), [], 'its contract export makes every check run');
      assert.ok(results.find((r) => r.name === check)!.detail.length > 20, 'the FAIL says what was seen');
    });
  }
});
