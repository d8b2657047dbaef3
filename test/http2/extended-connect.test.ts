/** RFC 8441 extended CONNECT with node:http2's client: echo, 501 for unknown or missing :protocol. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { withLab } from '../helpers/lab.js';

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); })])
    .finally(() => clearTimeout(timer));
}

async function session(port: number): Promise<ClientHttp2Session> {
  const client = connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  await within(new Promise<void>((resolve) => client.once('remoteSettings', () => resolve())), 3_000, 'server SETTINGS');
  return client;
}

function status(stream: ClientHttp2Stream): Promise<number> {
  return within(new Promise((resolve, reject) => {
    stream.once('response', (headers) => resolve(Number(headers[':status'])));
    stream.once('error', reject);
  }), 3_000, ':status');
}

function body(stream: ClientHttp2Stream): Promise<string> {
  return within(new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => { text += chunk; });
    stream.once('end', () => resolve(text));
    stream.once('error', reject);
  }), 3_000, 'body');
}

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
