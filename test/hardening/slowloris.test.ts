/**
 * Slow requests (slowloris): the header section must be complete `headersTimeoutMs` after it began, however
 * slowly its bytes trickle in; trickling never extends the deadline. The answer is 408, then a close.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { withLab } from '../helpers/lab.js';

/** A request that takes 50 ms × its length (about 15 s) to trickle in, one byte at a time. */
const LONG_REQUEST = `GET /healthz HTTP/1.1\r\nHost: lab\r\nX-Padding: ${'p'.repeat(250)}\r\n\r\n`;

/** Writes `text` one byte per 50 ms until it is all sent or the server has closed; returns how many went out. */
function trickle(client: RawClient, text: string): { readonly sent: () => number; readonly stop: () => void } {
  let at = 0;
  const timer = setInterval(() => {
    if (at >= text.length || client.ended || client.closed) { clearInterval(timer); return; }
    client.write(text[at++]!);
  }, 50);
  return { sent: () => at, stop: () => clearInterval(timer) };
}

describe('slowloris: the header section has a deadline', () => {
  it('408 and a close for a head trickling in one byte per 50 ms, long before it is complete', { timeout: 60_000 }, () =>
    withLab({ limits: { headersTimeoutMs: 500 } }, async (server, events) => {
      const client = await RawClient.open(server.port);
      const drip = trickle(client, LONG_REQUEST);
      try {
        const text = await client.waitForEnd(45_000);
        const responses = parseResponses(text);
        assert.equal(responses.length, 1);
        assert.equal(responses[0]!.status, 408);
        assert.equal(responses[0]!.headers['connection'], 'close');
        assert.ok(drip.sent() < LONG_REQUEST.length, `answered after ${drip.sent()} of ${LONG_REQUEST.length} bytes: trickling did not extend the deadline`);
        assert.ok(events.some((e) => e.type === 'error' && e.code === 'ERR_REQUEST_TIMEOUT'), 'logged as a request timeout');
      } finally {
        drip.stop();
      }
    }));

  it('the deadline starts again with the first byte of the next request on a keep-alive connection', { timeout: 60_000 }, () =>
    withLab({ limits: { headersTimeoutMs: 500, keepAliveTimeoutMs: 60_000 } }, async (server) => {
      const client = await RawClient.open(server.port);
      client.write('GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n');
      await client.waitFor((t) => parseResponses(t).length === 1, 10_000, 'the first response');
      const drip = trickle(client, LONG_REQUEST);
      try {
        const responses = parseResponses(await client.waitForEnd(45_000));
        assert.deepEqual(responses.map((r) => r.status), [200, 408]);
        assert.ok(drip.sent() < LONG_REQUEST.length);
      } finally {
        drip.stop();
      }
    }));

  it('a client that connects and sends nothing gets 408 and a close, not a slot held forever', { timeout: 60_000 }, () =>
    withLab({ limits: { headersTimeoutMs: 300 } }, async (server) => {
      const client = await RawClient.open(server.port);
      const responses = parseResponses(await client.waitForEnd(30_000));
      assert.equal(responses[0]?.status, 408);
      await client.waitFor(() => client.closed, 10_000, 'the close');
    }));

  it('a body that stalls gets 408 once no byte arrived for the timeout', { timeout: 60_000 }, () =>
    withLab({ limits: { headersTimeoutMs: 300 } }, async (server) => {
      const client = await RawClient.open(server.port);
      client.write('POST /healthz HTTP/1.1\r\nHost: lab\r\nContent-Length: 10\r\n\r\n12345');
      const responses = parseResponses(await client.waitForEnd(30_000));
      assert.deepEqual(responses.map((r) => r.status), [408]);
    }));
});
