/**
 * Autobahn section 5, "Fragmentation": RFC 6455 §5.4. Control frames "MUST NOT be fragmented" but "MAY be
 * injected in the middle of a fragmented message" (and are answered at once); fragments after the first
 * are continuation frames, and a continuation with nothing to continue, or a new message before the last
 * fragment, fails the connection (1002). Where Autobahn waits a second between fragments, these cases send
 * a ping and wait for its pong, which shows the server holds a half message without delivering it.
 */
import { describe, it } from 'node:test';
import { CLEAN_NORMAL, OP, binary, buildFrame, failedWith, labFixture, pattern, pong, runCase, text, type Peer } from './peer.js';

type Frame = { opcode: number; payload?: string | Uint8Array; fin?: boolean };

/** Send `frames` together, frame by frame (each its own write), or octet by octet. */
function send(peer: Peer, frames: readonly Frame[], how: 'together' | 'frame-wise' | 'octet-wise' = 'together'): void {
  for (const frame of frames) peer.sendFrame({ ...frame, ...(how === 'octet-wise' ? { chop: 1 } : {}) });
}

describe('Autobahn 5: fragmentation', () => {
  const lab = labFixture();

  it('5.1 a ping fragmented into 2 frames fails with 1002', () => runCase(lab.port, {
    id: '5.1',
    run: (peer) => send(peer, [{ opcode: OP.PING, payload: 'fragment1', fin: false }, { opcode: OP.CONT, payload: 'fragment2' }]),
    expect: [], close: failedWith(1002),
  }));
  it('5.2 a pong fragmented into 2 frames fails with 1002', () => runCase(lab.port, {
    id: '5.2',
    run: (peer) => send(peer, [{ opcode: OP.PONG, payload: 'fragment1', fin: false }, { opcode: OP.CONT, payload: 'fragment2' }]),
    expect: [], close: failedWith(1002),
  }));

  const twoFragments: Frame[] = [{ opcode: OP.TEXT, payload: 'fragment1', fin: false }, { opcode: OP.CONT, payload: 'fragment2' }];
  it('5.3 a text message in 2 fragments is echoed whole', () => runCase(lab.port, {
    id: '5.3', run: (peer) => send(peer, twoFragments), expect: [text('fragment1fragment2')], close: CLEAN_NORMAL,
  }));
  it('5.4 the same, the server holding fragment 1 until fragment 2 comes', () => runCase(lab.port, {
    id: '5.4',
    run: async (peer) => {
      send(peer, twoFragments.slice(0, 1));
      await peer.sync('held'); // the server has fragment 1 and has not delivered a message
      send(peer, twoFragments.slice(1));
    },
    expect: [pong('held'), text('fragment1fragment2')], close: CLEAN_NORMAL,
  }));
  it('5.5 the same, octet by octet', () => runCase(lab.port, {
    id: '5.5', run: (peer) => send(peer, twoFragments, 'octet-wise'), expect: [text('fragment1fragment2')], close: CLEAN_NORMAL,
  }));

  const withPing: Frame[] = [twoFragments[0]!, { opcode: OP.PING, payload: 'ping payload' }, twoFragments[1]!];
  it('5.6 a ping between 2 fragments is answered first, then the message is echoed', () => runCase(lab.port, {
    id: '5.6', run: (peer) => send(peer, withPing), expect: [pong('ping payload'), text('fragment1fragment2')], close: CLEAN_NORMAL,
  }));
  it('5.7 the same, waiting for the pong before the last fragment', () => runCase(lab.port, {
    id: '5.7',
    run: async (peer) => {
      send(peer, withPing.slice(0, 2));
      await peer.until(() => peer.events.length === 1, 'the pong in the middle of the message');
      send(peer, withPing.slice(2));
    },
    expect: [pong('ping payload'), text('fragment1fragment2')], close: CLEAN_NORMAL,
  }));
  it('5.8 the same, octet by octet', () => runCase(lab.port, {
    id: '5.8', run: (peer) => send(peer, withPing, 'octet-wise'), expect: [pong('ping payload'), text('fragment1fragment2')], close: CLEAN_NORMAL,
  }));

  // 5.9-5.14: a continuation with nothing to continue, FIN set (5.9-5.11) or clear (5.12-5.14).
  const hows = ['together', 'frame-wise', 'octet-wise'] as const;
  [true, false].forEach((fin, f) => {
    hows.forEach((how, h) => {
      const id = `5.${9 + f * 3 + h}`;
      it(`${id} a continuation (FIN=${fin ? 1 : 0}) with nothing to continue, then a text message, ${how}: 1002`, () => runCase(lab.port, {
        id,
        run: (peer) => send(peer, [{ opcode: OP.CONT, payload: 'non-continuation payload', fin }, { opcode: OP.TEXT, payload: 'Hello, world!' }], how),
        expect: [], close: failedWith(1002),
      }));
    });
  });

  it('5.15 2 fragments, then a continuation with nothing to continue: the first message is echoed, then 1002', () => runCase(lab.port, {
    id: '5.15',
    run: (peer) => send(peer, [...twoFragments, { opcode: OP.CONT, payload: 'fragment3', fin: false }, { opcode: OP.TEXT, payload: 'fragment4' }]),
    expect: [text('fragment1fragment2')], close: failedWith(1002),
  }));
  [true, false].forEach((fin, i) => {
    const id = `5.${17 - i}`;
    it(`${id} twice: a continuation (FIN=${fin ? 1 : 0}) with nothing to continue, then 2 fragments: 1002, nothing echoed`, () => runCase(lab.port, {
      id,
      run: (peer) => {
        for (let n = 0; n < 2; n++) send(peer, [{ opcode: OP.CONT, payload: 'fragment1', fin }, { opcode: OP.TEXT, payload: 'fragment2', fin: false }, { opcode: OP.CONT, payload: 'fragment3' }]);
      },
      expect: [], close: failedWith(1002),
    }));
  });
  it('5.18 2 fragments both with the text opcode: 1002', () => runCase(lab.port, {
    id: '5.18',
    run: (peer) => send(peer, [{ opcode: OP.TEXT, payload: 'fragment1', fin: false }, { opcode: OP.TEXT, payload: 'fragment2' }]),
    expect: [], close: failedWith(1002),
  }));

  const fiveFragments = (peer: Peer, wait: boolean) => async (): Promise<void> => {
    send(peer, [
      { opcode: OP.TEXT, payload: 'fragment1', fin: false },
      { opcode: OP.CONT, payload: 'fragment2', fin: false },
      { opcode: OP.PING, payload: 'pongme 1!' },
    ]);
    if (wait) await peer.until(() => peer.events.length === 1, 'the first pong');
    send(peer, [
      { opcode: OP.CONT, payload: 'fragment3', fin: false },
      { opcode: OP.CONT, payload: 'fragment4', fin: false },
      { opcode: OP.PING, payload: 'pongme 2!' },
      { opcode: OP.CONT, payload: 'fragment5' },
    ]);
  };
  const fiveExpected = [pong('pongme 1!'), pong('pongme 2!'), text('fragment1fragment2fragment3fragment4fragment5')];
  it('5.19 5 fragments with 2 pings among them, waiting for the first pong: pongs first, then the message', () => runCase(lab.port, {
    id: '5.19', run: (peer) => fiveFragments(peer, true)(), expect: fiveExpected, close: CLEAN_NORMAL,
  }));
  it('5.20 the same, all at once', () => runCase(lab.port, {
    id: '5.20', run: (peer) => fiveFragments(peer, false)(), expect: fiveExpected, close: CLEAN_NORMAL,
  }));

  it('large counts: a 1000-character text message in 1000 one-byte fragments', () => {
    const message = 'x'.repeat(1000);
    return runCase(lab.port, {
      id: '5.x 1000 fragments',
      run: (peer) => {
        peer.sendFrame({ opcode: OP.TEXT, payload: message.slice(0, 1), fin: false });
        for (let i = 1; i < 999; i++) peer.sendFrame({ opcode: OP.CONT, payload: message.slice(i, i + 1), fin: false });
        peer.sendFrame({ opcode: OP.CONT, payload: message.slice(999) });
      },
      expect: [text(message)], close: CLEAN_NORMAL,
    });
  });
  it('large counts: 20,000 fragments, empty ones among them, with a ping every 1000', () => {
    const data = pattern(10_000);
    const frames: Buffer[] = [];
    const pongs = [];
    for (let i = 0; i < 20_000; i++) {
      const piece = i % 2 === 0 ? data.subarray(i / 2, i / 2 + 1) : new Uint8Array(0);
      frames.push(buildFrame({ opcode: i === 0 ? OP.BINARY : OP.CONT, payload: piece, fin: i === 19_999 }));
      if (i % 1000 === 999 && i < 19_999) {
        frames.push(buildFrame({ opcode: OP.PING, payload: `ping ${i}` }));
        pongs.push(pong(`ping ${i}`));
      }
    }
    return runCase(lab.port, {
      id: '5.x 20000 fragments',
      run: (peer) => peer.send(Buffer.concat(frames)),
      expect: [...pongs, binary(data)],
      close: CLEAN_NORMAL,
    });
  });
});
