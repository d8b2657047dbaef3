/**
 * Autobahn section 9, "Limits/Performance": big messages whole (9.1, 9.2), 4 MiB messages in frames of
 * 64 B to 4 MiB (9.3, 9.4), 1 MiB messages written in TCP chops of 64 B to 2 KiB (9.5, 9.6), and 1000
 * small messages in a row (9.7, 9.8). Autobahn measures the time; here only correctness is asserted, and
 * the sizes go up to exactly the default `webSocketMaxMessageBytes` (16 MiB, inclusive). One byte more is
 * refused with 1009 (§7.4.1 "a message that is too big for it to process"), decided at the frame header,
 * before the payload is sent, whether the message comes whole or in fragments.
 */
import { describe, it } from 'node:test';
import { CLEAN_NORMAL, OP, asciiText, binary, buildFrame, failedWith, labFixture, pattern, runCase, text, type PeerEvent } from './peer.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const kinds = [
  { name: 'text', opcode: OP.TEXT, make: (n: number) => asciiText(n), expect: (b: Buffer): PeerEvent => text(b) },
  { name: 'binary', opcode: OP.BINARY, make: (n: number) => pattern(n), expect: (b: Buffer): PeerEvent => binary(b) },
] as const;

/** A message as frames of `size` bytes (the last may be shorter). */
function fragmented(opcode: number, payload: Buffer, size: number): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < payload.length; at += size) {
    frames.push(buildFrame({ opcode: at === 0 ? opcode : OP.CONT, payload: payload.subarray(at, at + size), fin: at + size >= payload.length }));
  }
  return Buffer.concat(frames);
}

describe('Autobahn 9.1, 9.2: large messages', () => {
  const lab = labFixture();
  kinds.forEach((kind, k) => {
    [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB].forEach((size, i) => {
      const id = `9.${k + 1}.${i + 1}`;
      it(`${id} a ${size / KiB} KiB ${kind.name} message is echoed`, () => {
        const payload = kind.make(size);
        return runCase(lab.port, { id, run: (peer) => peer.sendFrame({ opcode: kind.opcode, payload }), expect: [kind.expect(payload)], close: CLEAN_NORMAL });
      });
    });
  });
});

describe('Autobahn 9.3, 9.4: a 4 MiB message in frames of 64 B to 4 MiB', () => {
  const lab = labFixture();
  kinds.forEach((kind, k) => {
    const payload = kind.make(4 * MiB);
    [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB].forEach((size, i) => {
      const id = `9.${k + 3}.${i + 1}`;
      it(`${id} ${kind.name} in ${4 * MiB / size} frames of ${size} B is echoed whole`, () => runCase(lab.port, {
        id, run: (peer) => peer.send(fragmented(kind.opcode, payload, size)), expect: [kind.expect(payload)], close: CLEAN_NORMAL,
      }));
    });
  });
});

describe('Autobahn 9.5, 9.6: a 1 MiB message written in TCP chops of 64 B to 2 KiB', () => {
  const lab = labFixture();
  kinds.forEach((kind, k) => {
    const payload = kind.make(MiB);
    [64, 128, 256, 512, 1024, 2048].forEach((chop, i) => {
      const id = `9.${k + 5}.${i + 1}`;
      it(`${id} ${kind.name} in ${chop}-byte chops is echoed`, () => runCase(lab.port, {
        id, run: (peer) => peer.sendFrame({ opcode: kind.opcode, payload, chop }), expect: [kind.expect(payload)], close: CLEAN_NORMAL,
      }));
    });
  });
});

describe('Autobahn 9.7, 9.8: 1000 messages in a row', () => {
  const lab = labFixture();
  kinds.forEach((kind, k) => {
    [0, 16, 64, 256, KiB, 4 * KiB].forEach((size, i) => {
      const id = `9.${k + 7}.${i + 1}`;
      it(`${id} 1000 ${kind.name} messages of ${size} B are echoed in order`, () => {
        const messages = Array.from({ length: 1000 }, (_, n) => kind.make(size).fill(0x30 + (n % 10), 0, Math.min(size, 1)));
        return runCase(lab.port, {
          id,
          run: (peer) => peer.send(Buffer.concat(messages.map((payload) => buildFrame({ opcode: kind.opcode, payload })))),
          expect: messages.map((payload) => kind.expect(payload)),
          close: CLEAN_NORMAL,
        });
      });
    });
  });
});

describe('the message size limit (16 MiB, inclusive)', () => {
  const lab = labFixture();
  it('a 16 MiB + 1 byte message is refused with 1009 at its header: the payload is never sent', () => runCase(lab.port, {
    id: '9.x whole',
    run: (peer) => {
      // FIN + binary, MASK + 64-bit length 0x0000000001000001, a masking key; no payload follows.
      peer.send(Buffer.from('82ff' + '0000000001000001' + '37fa213d', 'hex'));
    },
    expect: [], close: failedWith(1009),
  }));
  it('fragments adding up to 16 MiB + 1 byte are refused with 1009 at the header of the last one, before its payload', () => runCase(lab.port, {
    id: '9.x fragments',
    run: (peer) => {
      const quarter = Buffer.alloc(4 * MiB);
      for (let i = 0; i < 4; i++) peer.sendFrame({ opcode: i === 0 ? OP.BINARY : OP.CONT, payload: quarter, fin: false });
      // FIN + continuation, MASK + length 1 (one byte over), the masking key, and no payload.
      peer.send(Buffer.from('8081' + '37fa213d', 'hex'));
    },
    expect: [], close: failedWith(1009),
  }));
});
