/**
 * Autobahn section 3, "Reserved Bits": RFC 6455 §5.2, RSV1-3 "MUST be 0 unless an extension is negotiated
 * that defines meanings for non-zero values. If a nonzero value is received ... the receiving endpoint
 * MUST _Fail the WebSocket Connection_." We negotiate no extension, so every combination fails with 1002;
 * what came before is answered, and nothing after the bad frame is (the ping that follows gets no pong).
 */
import { describe, it } from 'node:test';
import { OP, failedWith, labFixture, runCase, text, type Peer } from './peer.js';

const HELLO = 'Hello, world!';

/** A good message, the bad one, then a ping, written as `how` says (Autobahn 3.2-3.4). */
function goodBadPing(rsv: number, how: 'together' | 'frame-wise' | 'octet-wise') {
  return async (peer: Peer): Promise<void> => {
    const chop = how === 'octet-wise' ? 1 : undefined;
    peer.sendFrame({ opcode: OP.TEXT, payload: HELLO, ...(chop ? { chop } : {}) });
    // Frame-wise: wait for the echo (the server has processed the good frame) before the next one.
    if (how !== 'together') await peer.until(() => peer.events.length === 1, 'the echo of the good message');
    peer.sendFrame({ opcode: OP.TEXT, payload: HELLO, rsv, ...(chop ? { chop } : {}) });
    peer.sendFrame({ opcode: OP.PING, ...(chop ? { chop } : {}) });
  };
}

describe('Autobahn 3: reserved bits', () => {
  const lab = labFixture();

  it('3.1 a text message with RSV = 1 fails the connection with 1002', () => runCase(lab.port, {
    id: '3.1', run: (peer) => peer.sendFrame({ opcode: OP.TEXT, payload: HELLO, rsv: 1 }), expect: [], close: failedWith(1002),
  }));
  it('3.2 text, then text with RSV = 2, then a ping: echo, then 1002, no pong', () => runCase(lab.port, {
    id: '3.2', run: goodBadPing(2, 'together'), expect: [text(HELLO)], close: failedWith(1002),
  }));
  it('3.3 the same with RSV = 3, frame by frame', () => runCase(lab.port, {
    id: '3.3', run: goodBadPing(3, 'frame-wise'), expect: [text(HELLO)], close: failedWith(1002),
  }));
  it('3.4 the same with RSV = 4, octet by octet', () => runCase(lab.port, {
    id: '3.4', run: goodBadPing(4, 'octet-wise'), expect: [text(HELLO)], close: failedWith(1002),
  }));
  it('3.5 a binary message with RSV = 5 fails the connection with 1002', () => runCase(lab.port, {
    id: '3.5', run: (peer) => peer.sendFrame({ opcode: OP.BINARY, payload: Uint8Array.of(0, 1, 2, 3), rsv: 5 }), expect: [], close: failedWith(1002),
  }));
  it('3.6 a ping with RSV = 6 fails the connection with 1002 and gets no pong', () => runCase(lab.port, {
    id: '3.6', run: (peer) => peer.sendFrame({ opcode: OP.PING, payload: HELLO, rsv: 6 }), expect: [], close: failedWith(1002),
  }));
  it('3.7 a close with RSV = 7 fails the connection with 1002', () => runCase(lab.port, {
    id: '3.7', run: (peer) => peer.sendFrame({ opcode: OP.CLOSE, payload: Uint8Array.of(0x03, 0xe8), rsv: 7 }), expect: [], close: failedWith(1002),
  }));
  for (let rsv = 1; rsv <= 7; rsv++) {
    for (const [name, opcode] of [['text', OP.TEXT], ['binary', OP.BINARY], ['continuation', OP.CONT], ['ping', OP.PING], ['pong', OP.PONG]] as const) {
      it(`RSV = ${rsv} on a ${name} frame after a good message: echo, 1002, nothing after`, () => runCase(lab.port, {
        id: `3.x rsv=${rsv} ${name}`,
        run: (peer) => {
          peer.sendFrame({ opcode: OP.TEXT, payload: HELLO });
          if (opcode === OP.CONT) peer.sendFrame({ opcode: OP.TEXT, payload: 'start', fin: false });
          peer.sendFrame({ opcode, payload: 'bad', rsv });
          peer.sendFrame({ opcode: OP.TEXT, payload: 'after' });
          peer.sendFrame({ opcode: OP.PING, payload: 'after' });
        },
        expect: [text(HELLO)],
        close: failedWith(1002),
      }));
    }
  }
});
