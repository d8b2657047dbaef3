/**
 * Autobahn section 7, "Close Handling": RFC 6455 §5.5.1 and §7. A Close is answered with a Close (echoing
 * the code), then the server closes TCP (§7.1.1); anything the peer sends after its Close is ignored
 * ("MUST NOT send any more data frames after sending a Close frame", so none is answered). A Close payload
 * is empty or a 2-byte code plus a UTF-8 reason, within a control frame's 125 bytes; a 1-byte payload, a
 * code no endpoint may send (§7.4.1-7.4.2) or a reason that is not UTF-8 fails the connection.
 */
import { describe, it } from 'node:test';
import { CLEAN_NORMAL, OP, asciiText, closePayload, labFixture, runCase, text } from './peer.js';

const protocolErrorAfterOurClose = { closedByMe: true, codes: [1002], requireClean: false } as const;

describe('Autobahn 7.1: the closing handshake and what comes after it', () => {
  const lab = labFixture();

  it('7.1.1 a message, then a Close: the echo, then a clean close with 1000', () => runCase(lab.port, {
    id: '7.1.1',
    run: (peer) => { peer.sendFrame({ opcode: OP.TEXT, payload: 'Hello World!' }); peer.sendClose(1000); },
    expect: [text('Hello World!')], close: CLEAN_NORMAL,
  }));
  it('7.1.2 two Close frames: the second is ignored, the close is clean', () => runCase(lab.port, {
    id: '7.1.2',
    run: (peer) => { peer.sendClose(1000); peer.sendFrame({ opcode: OP.CLOSE, payload: closePayload(1000) }); },
    expect: [], close: CLEAN_NORMAL,
  }));
  it('7.1.3 a Close, then a ping: no pong (data after a Close is ignored)', () => runCase(lab.port, {
    id: '7.1.3',
    run: (peer) => { peer.sendClose(1000); peer.sendFrame({ opcode: OP.PING, payload: 'Hello World!' }); },
    expect: [], close: CLEAN_NORMAL,
  }));
  it('7.1.4 a Close, then a text message: not echoed', () => runCase(lab.port, {
    id: '7.1.4',
    run: (peer) => { peer.sendClose(1000); peer.sendFrame({ opcode: OP.TEXT, payload: 'Hello World!' }); },
    expect: [], close: CLEAN_NORMAL,
  }));
  it('7.1.5 fragment 1, a Close, fragment 2: the half message is dropped, the close is clean', () => runCase(lab.port, {
    id: '7.1.5',
    run: (peer) => {
      peer.sendFrame({ opcode: OP.TEXT, payload: 'fragment1', fin: false });
      peer.sendClose(1000);
      peer.sendFrame({ opcode: OP.CONT, payload: 'fragment2' });
    },
    expect: [], close: CLEAN_NORMAL,
  }));
  it('7.1.6 a 256 KiB message, a short one, a Close and a ping, back to back: both echoed in order, no pong', () => runCase(lab.port, {
    id: '7.1.6',
    run: (peer) => {
      peer.sendFrame({ opcode: OP.TEXT, payload: asciiText(256 * 1024) });
      peer.sendFrame({ opcode: OP.TEXT, payload: 'Hello World!' });
      peer.sendClose(1000);
      peer.sendFrame({ opcode: OP.PING });
    },
    expect: [text(asciiText(256 * 1024)), text('Hello World!')], close: CLEAN_NORMAL,
  }));
  it('garbage after a Close is ignored too: the server still answers the Close and closes TCP', () => runCase(lab.port, {
    id: '7.x',
    run: (peer) => { peer.sendClose(1000); peer.send(Buffer.from('this is not a WebSocket frame at all')); },
    expect: [], close: CLEAN_NORMAL,
  }));
});

describe('Autobahn 7.3: Close payloads', () => {
  const lab = labFixture();

  it('7.3.1 an empty Close is answered, with no code or with 1000', () => runCase(lab.port, {
    id: '7.3.1', run: (peer) => peer.sendClose(), expect: [], close: { closedByMe: true, codes: [null, 1000], requireClean: true },
  }));
  it('7.3.2 a Close with a 1-byte payload: 1002', () => runCase(lab.port, {
    id: '7.3.2',
    run: (peer) => peer.sendCloseFrame(Buffer.from('a')),
    expect: [], close: protocolErrorAfterOurClose,
  }));
  it('7.3.3 a Close with code 1000 and no reason: clean, 1000', () => runCase(lab.port, {
    id: '7.3.3', run: (peer) => peer.sendClose(1000), expect: [], close: CLEAN_NORMAL,
  }));
  it('7.3.4 a Close with code 1000 and a reason: clean, 1000', () => runCase(lab.port, {
    id: '7.3.4', run: (peer) => peer.sendClose(1000, 'Hello World!'), expect: [], close: CLEAN_NORMAL,
  }));
  it('7.3.5 a Close with the longest reason (123 bytes): clean, 1000', () => runCase(lab.port, {
    id: '7.3.5', run: (peer) => peer.sendClose(1000, '*'.repeat(123)), expect: [], close: CLEAN_NORMAL,
  }));
  it('7.3.6 a Close with a 124-byte reason (a 126-byte control frame): 1002', () => runCase(lab.port, {
    id: '7.3.6', run: (peer) => peer.sendClose(1000, '*'.repeat(124)), expect: [], close: protocolErrorAfterOurClose,
  }));
  it('7.5.1 a Close whose reason is not UTF-8: 1007', () => runCase(lab.port, {
    id: '7.5.1',
    run: (peer) => peer.sendClose(1000, Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex')),
    expect: [], close: { closedByMe: true, codes: [1007], requireClean: false },
  }));
});

describe('Autobahn 7.7, 7.9, 7.13: close codes', () => {
  const lab = labFixture();

  // 7.7.x: codes a peer may send; the answer echoes the code (or says 1000), and the close is clean.
  [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].forEach((code, i) => {
    it(`7.7.${i + 1} a Close with code ${code} is answered with ${code} and closes cleanly`, () => runCase(lab.port, {
      id: `7.7.${i + 1}`, run: (peer) => peer.sendClose(code), expect: [], close: { closedByMe: true, codes: [code], requireClean: true },
    }));
  });
  // 7.9.x and 7.13.x: codes no endpoint may send (§7.4.1: 1004 reserved; 1005, 1006 "MUST NOT be set as a
  // status code in a Close control frame"; §7.4.2: below 1000 unused, 1016-2999 reserved for this
  // protocol's future use, 5000 and up undefined).
  const invalid: Array<[string, number]> = [
    ...[0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].map((code, i): [string, number] => [`7.9.${i + 1}`, code]),
    ['7.13.1', 5000], ['7.13.2', 65535],
  ];
  for (const [id, code] of invalid) {
    it(`${id} a Close with code ${code}: 1002`, () => runCase(lab.port, {
      id, run: (peer) => peer.sendClose(code), expect: [], close: protocolErrorAfterOurClose,
    }));
  }
  it('1015 (TLS failure) may never be sent either: 1002', () => runCase(lab.port, {
    id: '7.x 1015', run: (peer) => peer.sendClose(1015), expect: [], close: protocolErrorAfterOurClose,
  }));
});
