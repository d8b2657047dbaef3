/**
 * `maxConnections` under a burst: every connection over the limit gets a 503 and a close (none hangs), the
 * admitted ones keep being served, and a slot freed by a close is available again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, parseResponses } from '../helpers/raw-client.js';
import { eventually, withLab } from '../helpers/lab.js';

const GET = 'GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n';

describe('connection limits under a burst', () => {
  it('503 and a close for each connection over maxConnections; the admitted ones are unaffected', { timeout: 60_000 }, () =>
    withLab({ limits: { maxConnections: 4 } }, async (server, events) => {
      const admitted = await Promise.all(Array.from({ length: 4 }, () => RawClient.open(server.port)));
      await eventually(() => server.table.size === 4, 10_000, 'four connections in the table');

      const burst = await Promise.all(Array.from({ length: 12 }, () => RawClient.open(server.port)));
      const answers = await Promise.all(burst.map((client) => client.waitForEnd(30_000)));
      for (const text of answers) {
        const [response] = parseResponses(text);
        assert.equal(response?.status, 503);
        assert.equal(response?.headers['connection'], 'close');
        assert.match(response!.body, /maxConnections \(4\) reached/);
      }
      assert.equal(events.filter((e) => e.type === 'refuse').length, 12);

      for (const client of admitted) client.write(GET);
      await Promise.all(admitted.map((client) => client.waitFor((t) => parseResponses(t).length === 1, 10_000, 'a response')));
      assert.deepEqual(admitted.map((client) => parseResponses(client.text)[0]!.status), [200, 200, 200, 200]);

      admitted[0]!.close();
      await eventually(() => server.table.size === 3, 10_000, 'the closed slot to free up');
      const late = await RawClient.open(server.port);
      late.write(GET);
      await late.waitFor((t) => parseResponses(t).length === 1, 10_000, 'the late client\'s response');
      assert.equal(parseResponses(late.text)[0]!.status, 200);
      for (const client of [...admitted, late]) client.close();
    }));
});
