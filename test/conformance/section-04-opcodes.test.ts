/**
 * Autobahn section 4, "Opcodes": RFC 6455 §5.2, opcodes 0x3-0x7 are "reserved for further non-control
 * frames" and 0xB-0xF "for further control frames"; "If an unknown opcode is received, the receiving
 * endpoint MUST _Fail the WebSocket Connection_" (1002). A good message before is echoed; a ping after is
 * not answered.
 */
import { describe, it } from 'node:test';
import { OP, failedWith, labFixture, runCase, text } from './peer.js';

const HELLO = 'Hello, world!';

describe('Autobahn 4: reserved opcodes', () => {
  const lab = labFixture();
  // 4.1.x are the non-control range 3-7, 4.2.x the control range 11-15, each in Autobahn's five shapes.
  const ranges = [{ group: '4.1', opcodes: [3, 4, 5, 6, 7] }, { group: '4.2', opcodes: [11, 12, 13, 14, 15] }];
  for (const { group, opcodes } of ranges) {
    opcodes.forEach((opcode, i) => {
      const id = `${group}.${i + 1}`;
      const withPayload = i === 1 || i >= 3;
      const afterGoodMessage = i >= 2;
      const shape = `${afterGoodMessage ? 'text, then ' : ''}opcode ${opcode}${withPayload ? ' with payload' : ''}${afterGoodMessage ? ', then a ping' : ''}`;
      it(`${id} ${shape}: ${afterGoodMessage ? 'echo, then ' : ''}1002, no pong`, () => runCase(lab.port, {
        id,
        run: (peer) => {
          if (afterGoodMessage) peer.sendFrame({ opcode: OP.TEXT, payload: HELLO });
          peer.sendFrame({ opcode, ...(withPayload ? { payload: 'reserved opcode payload' } : {}) });
          if (afterGoodMessage) peer.sendFrame({ opcode: OP.PING });
        },
        expect: afterGoodMessage ? [text(HELLO)] : [],
        close: failedWith(1002),
      }));
    });
  }
  it('every reserved opcode in the middle of a fragmented message fails with 1002', async () => {
    for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
      await runCase(lab.port, {
        id: `4.x opcode ${opcode} between fragments`,
        run: (peer) => {
          peer.sendFrame({ opcode: OP.TEXT, payload: 'frag', fin: false });
          peer.sendFrame({ opcode, fin: opcode < 8 ? false : true, payload: 'x' });
          peer.sendFrame({ opcode: OP.CONT, payload: 'ment' });
        },
        expect: [],
        close: failedWith(1002),
      });
    }
  });
});
