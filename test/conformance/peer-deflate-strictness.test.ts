/**
 * The peer's own permessage-deflate checks, against a fake server that answers the handshake with a
 * chosen `Sec-WebSocket-Extensions` and then writes chosen frames. Sections 12 and 13 only mean something
 * if the peer would notice a server that broke RFC 7692: each case here is one way to break it, and the
 * peer must name it; the two well-behaved fakes must leave it nothing to say.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { Peer } from './peer.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** An unmasked server frame: the first byte (FIN, RSV, opcode) as given, a minimal length. */
function serverFrame(firstByte: number, payload: Uint8Array): Buffer {
  const length = payload.length;
  const head = length < 126 ? Buffer.from([firstByte, length]) : Buffer.from([firstByte, 126, length >> 8, length & 0xff]);
  return Buffer.concat([head, payload]);
}

/** A message compressed by zlib with `windowBits`, its 00 00 ff ff tail removed (RFC 7692 §7.2.1). */
const deflated = (data: Uint8Array, windowBits = 15): Buffer => {
  const out = deflateRawSync(data, { windowBits, finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
};

/** Connects the peer to a fake server; resolves with what the peer saw once the fake has closed. */
async function againstFake(offer: string | undefined, answer: string | undefined, frames: readonly Buffer[]): Promise<Peer> {
  const server = createServer((socket) => {
    let request = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (request.includes('\r\n\r\n')) return;
      request += chunk.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      const key = /\r\nSec-WebSocket-Key: *([^\r]*)/i.exec(request)![1]!;
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
        (answer === undefined ? '' : `Sec-WebSocket-Extensions: ${answer}\r\n`) + '\r\n');
      socket.end(Buffer.concat([...frames, serverFrame(0x88, Buffer.from([0x03, 0xe8]))]));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const peer = await Peer.open((server.address() as AddressInfo).port, offer === undefined ? {} : { extensions: [offer] });
    await peer.until(() => peer.tcpClosed, 'the fake server to close');
    return peer;
  } finally {
    server.close();
  }
}

const FIN_TEXT = 0x81;
const FIN_BINARY = 0x82;
const RSV1 = 0x40;
/** "Hello" and a second "Hello" referring back to it (RFC 7692 §7.2.3.1, §7.2.3.2). */
const HELLO = Buffer.from('f248cdc9c90700', 'hex');
const HELLO_AGAIN = Buffer.from('f200110000', 'hex');

describe('the peer judges a permessage-deflate server strictly', () => {
  const repeated = randomBytes(6000);
  const farMatches = Buffer.concat([repeated, repeated]); // the second half matches 6000 bytes back

  it('a server keeping to its window and context leaves no violation', async () => {
    const peer = await againstFake('permessage-deflate', 'permessage-deflate; server_max_window_bits=12', [
      serverFrame(FIN_BINARY | RSV1, deflated(farMatches, 12)),
      serverFrame(FIN_TEXT | RSV1, HELLO), serverFrame(FIN_TEXT | RSV1, HELLO_AGAIN),
      serverFrame(0x01 | RSV1, HELLO.subarray(0, 3)), serverFrame(0x80, HELLO.subarray(3)),
    ]);
    assert.deepEqual(peer.violations, []);
    assert.deepEqual(peer.events.map((event) => [event.data.length, event.kind === 'message' && event.compressed]), [[12_000, true], [5, true], [5, true], [5, true]]);
    assert.deepEqual(peer.deflate, { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 12, clientMaxWindowBits: 15 });
  });

  const broken: ReadonlyArray<[string, string | undefined, string | undefined, Buffer[], RegExp]> = [
    ['compressing with 15 bits after agreeing 12', 'permessage-deflate', 'permessage-deflate; server_max_window_bits=12',
      [serverFrame(FIN_BINARY | RSV1, deflated(farMatches, 15))], /does not inflate within its agreed window: invalid distance too far back/],
    ['referring back into the previous message after agreeing server_no_context_takeover', 'permessage-deflate; server_no_context_takeover', 'permessage-deflate; server_no_context_takeover',
      [serverFrame(FIN_TEXT | RSV1, HELLO), serverFrame(FIN_TEXT | RSV1, HELLO_AGAIN)], /does not inflate within its agreed window/],
    ['RSV1 on a continuation frame', 'permessage-deflate', 'permessage-deflate',
      [serverFrame(0x01 | RSV1, HELLO.subarray(0, 3)), serverFrame(0x80 | RSV1, HELLO.subarray(3))], /RSV1 on a continuation frame/],
    ['RSV1 on a pong', 'permessage-deflate', 'permessage-deflate', [serverFrame(0x8a | RSV1, Buffer.from('x'))], /RSV1 on control frame 10/],
    ['RSV2 with permessage-deflate agreed', 'permessage-deflate', 'permessage-deflate', [serverFrame(FIN_TEXT | 0x20, Buffer.from('x'))], /RSV bits 2/],
    ['RSV1 with no extension agreed', undefined, undefined, [serverFrame(FIN_TEXT | RSV1, HELLO)], /RSV bits 4/],
    ['data that is not a DEFLATE stream', 'permessage-deflate', 'permessage-deflate', [serverFrame(FIN_BINARY | RSV1, Buffer.from('ffffffff', 'hex'))], /invalid block type/],
    ['a compressed text message that is not UTF-8 once inflated', 'permessage-deflate', 'permessage-deflate',
      [serverFrame(FIN_TEXT | RSV1, deflated(Buffer.from('cebae1bdb9cf83cebcceb5eda080', 'hex')))], /not UTF-8/],
    ['client_max_window_bits answered to an offer without it', 'permessage-deflate', 'permessage-deflate; client_max_window_bits=10', [], /accepts none of the offers/],
    ['client_max_window_bits answered without a value', 'permessage-deflate; client_max_window_bits', 'permessage-deflate; client_max_window_bits', [], /without a value/],
    ['a server window above the one offered', 'permessage-deflate; server_max_window_bits=10', 'permessage-deflate; server_max_window_bits=13', [], /accepts none of the offers/],
    ['server_max_window_bits left out though offered', 'permessage-deflate; server_max_window_bits=10', 'permessage-deflate', [], /accepts none of the offers/],
    ['server_no_context_takeover left out though offered', 'permessage-deflate; server_no_context_takeover', 'permessage-deflate', [], /accepts none of the offers/],
    ['an extension that was not offered', 'permessage-deflate', 'x-webkit-deflate-frame', [], /speaks only permessage-deflate/],
    ['an extension answered to no offer', undefined, 'permessage-deflate', [], /to no offer/],
    ['a duplicate parameter', 'permessage-deflate', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover', [], /appears twice/],
  ];
  for (const [name, offer, answer, frames, violation] of broken) {
    it(`notices ${name}`, async () => {
      const peer = await againstFake(offer, answer, frames);
      assert.ok(peer.violations.some((line) => violation.test(line)), `expected a violation matching ${violation}, got ${JSON.stringify(peer.violations)}`);
    });
  }
});
