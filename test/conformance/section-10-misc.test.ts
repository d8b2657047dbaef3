/**
 * Autobahn section 10, "Misc": 10.1.1 sends a 64 KiB text message auto-fragmented into 1300-byte frames.
 * Also here: small messages and control frames written one byte per TCP write, so the server sees frame
 * headers, masking keys and payloads cut at every point (RFC 6455 §5.2 frames are a byte stream: how TCP
 * cuts it must not matter), and the request plus its first frames in one write (the bytes that arrive
 * with the upgrade request belong to the WebSocket, not to HTTP).
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.js';
import { CLEAN_NORMAL, OP, asciiText, binary, buildFrame, labFixture, pattern, pong, runCase, text } from './peer.js';

describe('Autobahn 10: auto-fragmentation and chopping', () => {
  const lab = labFixture();

  it('10.1.1 a 65536-byte text message in 1300-byte frames is echoed whole', () => {
    const payload = asciiText(65536, '*');
    return runCase(lab.port, {
      id: '10.1.1',
      run: (peer) => {
        for (let at = 0; at < payload.length; at += 1300) {
          peer.sendFrame({ opcode: at === 0 ? OP.TEXT : OP.CONT, payload: payload.subarray(at, at + 1300), fin: at + 1300 >= payload.length });
        }
      },
      expect: [text(payload)], close: CLEAN_NORMAL,
    });
  });

  it('small messages, pings and a fragmented message, every frame written one byte at a time', () => runCase(lab.port, {
    id: '10.x byte-wise',
    run: (peer) => {
      const chop = 1;
      peer.sendFrame({ opcode: OP.TEXT, payload: 'Hello, world!', chop });
      peer.sendFrame({ opcode: OP.BINARY, payload: pattern(125), chop });
      peer.sendFrame({ opcode: OP.BINARY, payload: pattern(126), chop });
      peer.sendFrame({ opcode: OP.PING, payload: 'one byte at a time', chop });
      peer.sendFrame({ opcode: OP.TEXT, payload: 'frag', fin: false, chop });
      peer.sendFrame({ opcode: OP.PING, payload: 'between', chop });
      peer.sendFrame({ opcode: OP.CONT, payload: 'ment', chop });
      peer.sendFrame({ opcode: OP.TEXT, payload: Buffer.from('κόσμε', 'utf8'), chop });
    },
    expect: [
      text('Hello, world!'), binary(pattern(125)), binary(pattern(126)), pong('one byte at a time'),
      pong('between'), text('fragment'), text(Buffer.from('κόσμε', 'utf8')),
    ],
    close: CLEAN_NORMAL,
  }));

  it('a 64 KiB binary message (64-bit length) written one byte at a time', () => runCase(lab.port, {
    id: '10.x 64-bit byte-wise',
    run: (peer) => peer.sendFrame({ opcode: OP.BINARY, payload: pattern(65536), chop: 1 }),
    expect: [binary(pattern(65536))], close: CLEAN_NORMAL,
  }));

  it('the upgrade request and three frames in ONE write: the frames are answered, nothing lost', async () => {
    const client = await RawClient.open(lab.port);
    const key = randomBytes(16).toString('base64');
    const request = `GET /echo HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    client.write(Buffer.concat([
      Buffer.from(request, 'latin1'),
      buildFrame({ opcode: OP.TEXT, payload: 'first' }),
      buildFrame({ opcode: OP.PING, payload: 'second' }),
      buildFrame({ opcode: OP.CLOSE, payload: Buffer.from([0x03, 0xe8]) }),
    ]));
    const wire = Buffer.from(await client.waitForEnd(), 'latin1');
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    const head = wire.subarray(0, wire.indexOf('\r\n\r\n') + 4).toString('latin1');
    assert.match(head, new RegExp(`^HTTP/1\\.1 101 [^]*Sec-WebSocket-Accept: ${accept.replace(/[+/]/g, '\\$&')}\r\n`));
    // Unmasked server frames: text "first", pong "second", close 1000.
    assert.equal(wire.subarray(head.length).toString('hex'), '8105' + Buffer.from('first').toString('hex') + '8a06' + Buffer.from('second').toString('hex') + '880203e8');
  });
});
