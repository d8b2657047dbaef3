/** RFC 8441 extended CONNECT with node:http2's client: echo, 501 for unknown or missing :protocol. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { body, session, status, within } from '../helpers/h2-client.js';
import { withLab } from '../helpers/lab.js';

describe('HTTP/2 extended CONNECT', () => {
  it('announces SETTINGS_ENABLE_CONNECT_PROTOCOL and echoes bytes on :protocol echo', () => withLab({}, async (server) => {
    const client = await session(server.port);
    try {
      assert.equal(client.remoteSettings.enableConnectProtocol, true);
      const stream = client.request({ ':method': 'CONNECT', ':protocol': 'echo', ':path': '/', ':scheme': 'http', ':authority': 'lab' }, { endStream: false });
      assert.equal(await status(stream), 200);
      let got = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => { got += chunk; });
      stream.write('hello over h2\n');
      await within((async () => { while (!got.includes('hello over h2\n')) await new Promise((r) => setTimeout(r, 10)); })(), 3_000, 'echo');
      stream.close();
    } finally {
      client.destroy();
    }
  }));

  it('unknown :protocol → 501 on that stream, and the session keeps serving', () => withLab({}, async (server) => {
    const client = await session(server.port);
    try {
      const bad = client.request({ ':method': 'CONNECT', ':protocol': 'no-such-thing', ':path': '/', ':scheme': 'http', ':authority': 'lab' }, { endStream: false });
      assert.equal(await status(bad), 501);
      bad.resume();
      const ok = client.request({ ':path': '/healthz' });
      assert.equal(await status(ok), 200);
      assert.equal(await body(ok), 'ok\n');
      assert.equal(client.destroyed, false);
    } finally {
      client.destroy();
    }
  }));
});
