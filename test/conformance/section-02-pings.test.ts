/**
 * Autobahn section 2, "Pings/Pongs": RFC 6455 §5.5.2 "Upon receipt of a Ping frame, an endpoint MUST send
 * a Pong frame in response ... [with] identical Application data"; §5.5.3 an unsolicited Pong needs no
 * answer; §5.5 a control frame carries at most 125 bytes, so a 126-byte ping fails the connection (1002).
 */
import { describe, it } from 'node:test';
import { CLEAN_NORMAL, OP, buildFrame, failedWith, labFixture, pattern, pong, runCase } from './peer.js';

describe('Autobahn 2: pings and pongs', () => {
  const lab = labFixture();
  const BINARY_PAYLOAD = Uint8Array.of(0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff);

  it('2.1 a ping without payload gets a pong without payload', () => runCase(lab.port, {
    id: '2.1', run: (peer) => peer.sendFrame({ opcode: OP.PING }), expect: [pong()], close: CLEAN_NORMAL,
  }));
  it('2.2 a ping with a short text payload gets a pong with the same payload', () => runCase(lab.port, {
    id: '2.2', run: (peer) => peer.sendFrame({ opcode: OP.PING, payload: 'Hello, world!' }), expect: [pong('Hello, world!')], close: CLEAN_NORMAL,
  }));
  it('2.3 a ping with a short binary payload gets a pong with the same payload', () => runCase(lab.port, {
    id: '2.3', run: (peer) => peer.sendFrame({ opcode: OP.PING, payload: BINARY_PAYLOAD }), expect: [pong(BINARY_PAYLOAD)], close: CLEAN_NORMAL,
  }));
  it('2.4 a ping with the largest payload (125 bytes) gets an identical pong', () => runCase(lab.port, {
    id: '2.4', run: (peer) => peer.sendFrame({ opcode: OP.PING, payload: pattern(125, 0xfe) }), expect: [pong(pattern(125, 0xfe))], close: CLEAN_NORMAL,
  }));
  it('2.5 a ping with 126 bytes of payload fails the connection with 1002 and gets no pong', () => runCase(lab.port, {
    id: '2.5', run: (peer) => peer.sendFrame({ opcode: OP.PING, payload: pattern(126, 0xfe) }), expect: [], close: failedWith(1002),
  }));
  it('2.6 a 125-byte ping written one byte at a time gets an identical pong', () => runCase(lab.port, {
    id: '2.6', run: (peer) => peer.sendFrame({ opcode: OP.PING, payload: pattern(125, 0xfe), chop: 1 }), expect: [pong(pattern(125, 0xfe))], close: CLEAN_NORMAL,
  }));
  it('2.7 an unsolicited pong without payload is ignored', () => runCase(lab.port, {
    id: '2.7', run: (peer) => peer.sendFrame({ opcode: OP.PONG }), expect: [], close: CLEAN_NORMAL,
  }));
  it('2.8 an unsolicited pong with payload is ignored', () => runCase(lab.port, {
    id: '2.8', run: (peer) => peer.sendFrame({ opcode: OP.PONG, payload: 'unsolicited pong payload' }), expect: [], close: CLEAN_NORMAL,
  }));
  it('2.9 an unsolicited pong, then a ping: only the ping is answered', () => runCase(lab.port, {
    id: '2.9',
    run: (peer) => {
      peer.sendFrame({ opcode: OP.PONG, payload: 'unsolicited pong payload' });
      peer.sendFrame({ opcode: OP.PING, payload: 'ping payload' });
    },
    expect: [pong('ping payload')],
    close: CLEAN_NORMAL,
  }));
  it('2.10 ten pings in a row get ten pongs, in order', () => runCase(lab.port, {
    id: '2.10',
    run: (peer) => { for (let i = 0; i < 10; i++) peer.sendFrame({ opcode: OP.PING, payload: `payload-${i}` }); },
    expect: Array.from({ length: 10 }, (_, i) => pong(`payload-${i}`)),
    close: CLEAN_NORMAL,
  }));
  it('2.11 ten pings written one byte at a time get ten pongs, in order', () => runCase(lab.port, {
    id: '2.11',
    run: (peer) => { for (let i = 0; i < 10; i++) peer.sendFrame({ opcode: OP.PING, payload: `payload-${i}`, chop: 1 }); },
    expect: Array.from({ length: 10 }, (_, i) => pong(`payload-${i}`)),
    close: CLEAN_NORMAL,
  }));
  it('a ping whose header and payload arrive in separate TCP writes is answered once', () => runCase(lab.port, {
    id: '2.x',
    run: (peer) => {
      const frame = buildFrame({ opcode: OP.PING, payload: 'split ping' });
      peer.send(frame.subarray(0, 2));
      peer.send(frame.subarray(2, 6));
      peer.send(frame.subarray(6, 9));
      peer.send(frame.subarray(9));
    },
    expect: [pong('split ping')],
    close: CLEAN_NORMAL,
  }));
});
