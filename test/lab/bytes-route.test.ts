/**
 * `GET /_lab/connections/ID/bytes`: what a connection carried, each way, as a real client sent it and
 * the lab answered: the RFC 6455 §1.3 handshake byte for byte, the §5.7 frames laid out field by field,
 * TLS decrypted, the limit, closed rows, and the answers for ids it does not have.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startLab } from '../../src/lab.js';
import type { ConnectionBytesView } from '../../src/lab/bytes-route.js';
import { withLab, eventually } from '../helpers/lab.js';
import { RawClient } from '../helpers/raw-client.js';
import { hex } from '../protocols/websocket/wire.js';

const RFC_REQUEST = 'GET /echo HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
  + 'Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n\r\n';
/** RFC 6455 §5.7: "A single-frame masked text message" (Hello, masking key 37 fa 21 3d). */
const MASKED_HELLO = hex('81 85 37 fa 21 3d 7f 9f 4d 51 58');
const CLOSE_1000 = hex('88 82 00 00 00 00 03 e8');

async function bytesOf(port: number, id: number): Promise<{ status: number; body: ConnectionBytesView & { error?: string } }> {
  const response = await fetch(`http://127.0.0.1:${port}/_lab/connections/${id}/bytes`);
  return { status: response.status, body: await response.json() as ConnectionBytesView & { error?: string } };
}

const idOf = (server: { table: { records(): IterableIterator<{ id: number; fiveTuple: { remotePort: number } }> } }, port: number): number => {
  for (const record of server.table.records()) if (record.fiveTuple.remotePort === port) return record.id;
  throw new Error(`no row for client port ${port}`);
};

describe('the byte view of a connection', () => {
  it('shows the RFC 6455 handshake as sent, the 101 as written, and the §5.7 frames field by field', async () => {
    await withLab({}, async (server) => {
      const client = await RawClient.open(server.port);
      // The frame rides in the same write as the request: it belongs to the new protocol, and to the view.
      client.write(Buffer.concat([Buffer.from(RFC_REQUEST, 'latin1'), MASKED_HELLO]));
      await client.waitFor((text) => text.includes('Hello'), 5_000, 'the echo');
      const id = idOf(server, client.socket.localPort!);
      const { status, body } = await bytesOf(server.port, id);
      assert.equal(status, 200);
      assert.equal(body.request, RFC_REQUEST, 'the request head exactly as sent, CR LF and all');
      assert.match(body.response!, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.ok(body.response!.includes('\r\nSec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n'), body.response!);
      assert.ok(body.response!.endsWith('\r\n\r\n'));
      assert.equal(Buffer.from(body.in.base64, 'base64').toString('latin1'), RFC_REQUEST + Buffer.from(MASKED_HELLO).toString('latin1'));
      assert.equal(body.protocol, 'websocket');
      assert.equal(body.open, true);
      assert.equal(body.fiveTuple.split(' ').at(-1), `127.0.0.1:${client.socket.localPort}`);
      const [sent, echoed] = body.frames!;
      assert.equal(body.frames!.length, 2);
      assert.deepEqual(
        { direction: sent!.direction, fin: sent!.fin, opcode: sent!.opcode, opcodeName: sent!.opcodeName, masked: sent!.masked, lengthField: sent!.lengthField, maskingKey: sent!.maskingKey, maskedHex: sent!.maskedHex, payloadHex: sent!.payloadHex, text: sent!.text, offset: sent!.offset },
        { direction: 'in', fin: true, opcode: 1, opcodeName: 'text', masked: true, lengthField: 5, maskingKey: '37fa213d', maskedHex: '7f 9f 4d 51 58', payloadHex: '48 65 6c 6c 6f', text: 'Hello', offset: RFC_REQUEST.length },
      );
      // §5.7: "A single-frame unmasked text message": the server's echo, 0x81 0x05 Hello.
      assert.deepEqual(
        { direction: echoed!.direction, masked: echoed!.masked, maskingKey: echoed!.maskingKey, text: echoed!.text, headerBytes: echoed!.headerBytes },
        { direction: 'out', masked: false, maskingKey: null, text: 'Hello', headerBytes: 2 },
      );
      assert.match(sent!.diagram, /0 0 0 1/, 'the opcode bits in the diagram');
      assert.match(sent!.diagram, new RegExp(`at byte ${RFC_REQUEST.length}:`), 'the diagram counts from the start of the stream');
      client.close();
    });
  });

  it('keeps a closed connection viewable, with its close frames', async () => {
    await withLab({}, async (server, events) => {
      const client = await RawClient.open(server.port);
      client.write(Buffer.concat([Buffer.from(RFC_REQUEST, 'latin1'), CLOSE_1000]));
      await client.waitForEnd();
      const port = client.socket.localPort!;
      await eventually(() => server.table.size === 0, 3_000, 'the row to close');
      const accepted = events.find((event) => event.type === 'accept' && event.fiveTuple.endsWith(`:${port}`));
      const id = (accepted as { id: number }).id;
      const { status, body } = await bytesOf(server.port, id);
      assert.equal(status, 200);
      assert.equal(body.open, false);
      assert.equal(body.fiveTuple.split(' ').at(-1), `127.0.0.1:${port}`);
      assert.deepEqual(body.frames!.map((f) => [f.direction, f.opcodeName, f.closeCode]), [['in', 'close', 1000], ['out', 'close', 1000]]);
    });
  });

  it('shows the bytes inside TLS decrypted', async () => {
    const cert = readFileSync(new URL('../../../test/fixtures/tls/cert.pem', import.meta.url), 'utf8');
    const key = readFileSync(new URL('../../../test/fixtures/tls/key.pem', import.meta.url), 'utf8');
    await withLab({ tls: { cert, key } }, async (server) => {
      const client = await RawClient.openTls(server.port, { ca: cert, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
      client.write(Buffer.concat([Buffer.from(RFC_REQUEST, 'latin1'), MASKED_HELLO]));
      await client.waitFor((text) => text.includes('Hello'), 5_000, 'the echo');
      const { body } = await bytesOf(server.port, idOf(server, client.socket.localPort!));
      assert.equal(body.transport, 'tls');
      assert.equal(body.request, RFC_REQUEST, 'the plaintext, not the ClientHello');
      assert.deepEqual(body.frames!.map((f) => [f.direction, f.text]), [['in', 'Hello'], ['out', 'Hello']]);
      client.close();
    });
  });

  it('keeps the first labBytesPerConnection bytes and counts the rest', async () => {
    await withLab({ limits: { labBytesPerConnection: 16 } }, async (server) => {
      const client = await RawClient.open(server.port);
      client.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await client.waitFor((text) => text.includes('\r\n\r\n'), 5_000, 'the answer');
      const { body } = await bytesOf(server.port, idOf(server, client.socket.localPort!));
      assert.equal(body.in.keptBytes, 16);
      assert.equal(body.in.totalBytes, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.length);
      assert.equal(Buffer.from(body.in.base64, 'base64').toString(), 'GET /healthz HTT');
      assert.equal(body.request, null, 'the head did not fit');
      assert.ok(body.notes.some((note) => note.includes('first 16 of')), body.notes.join('\n'));
      client.close();
    });
  });

  it('answers 404 with a reason for ids it has no bytes for', async () => {
    await withLab({}, async (server) => {
      const { status, body } = await bytesOf(server.port, 999_999);
      assert.equal(status, 404);
      assert.match(body.error!, /no connection 999999/);
      const wrong = await fetch(`http://127.0.0.1:${server.port}/_lab/connections/abc/bytes`);
      assert.equal(wrong.status, 404);
      await wrong.arrayBuffer();
      const post = await fetch(`http://127.0.0.1:${server.port}/_lab/connections/1/bytes`, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD, OPTIONS');
      await post.arrayBuffer();
    });
    const server = await startLab({ limits: { labBytesPerConnection: 0 } });
    try {
      const { status, body } = await bytesOf(server.port, 1);
      assert.equal(status, 404);
      assert.match(body.error!, /labBytesPerConnection is 0/);
    } finally {
      await server.close();
    }
  });
});
