/**
 * Autobahn section 6, "UTF-8 Handling": RFC 6455 §8.1, "When an endpoint is to interpret a byte stream as
 * UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the
 * WebSocket Connection_" — with 1007 (§7.4.1, "data within a message that was not consistent with the type
 * of the message"). Valid text comes back byte for byte, however it was fragmented. Invalid text fails
 * fast: on the byte that makes it invalid, even in the middle of a fragment, before the rest is sent (the
 * peer here never sends the rest: it waits for the 1007 first, so a server that waits for the whole
 * message times the case out).
 */
import { describe, it } from 'node:test';
import { CLEAN_NORMAL, OP, asciiText, buildFrame, failedWith, labFixture, pong, runCase, text, type Peer } from './peer.js';
import { KOSME, UTF8_CATEGORIES } from './utf8-sequences.js';

const hex = (h: string): Buffer => Buffer.from(h, 'hex');

/** A text message sent as one fragment per byte (the first a text frame, the rest continuations). */
function sendBytewise(peer: Peer, payload: Buffer): void {
  if (payload.length === 0) { peer.sendFrame({ opcode: OP.TEXT }); return; }
  for (let i = 0; i < payload.length; i++) {
    peer.sendFrame({ opcode: i === 0 ? OP.TEXT : OP.CONT, payload: payload.subarray(i, i + 1), fin: i === payload.length - 1 });
  }
}

describe('Autobahn 6.1-6.4: text messages, fragments and fail-fast', () => {
  const lab = labFixture();

  it('6.1.1 an empty text message is echoed', () => runCase(lab.port, {
    id: '6.1.1', run: (peer) => peer.sendFrame({ opcode: OP.TEXT }), expect: [text('')], close: CLEAN_NORMAL,
  }));
  it('6.1.2 a text message of 3 empty fragments is echoed as one empty message', () => runCase(lab.port, {
    id: '6.1.2',
    run: (peer) => {
      peer.sendFrame({ opcode: OP.TEXT, fin: false });
      peer.sendFrame({ opcode: OP.CONT, fin: false });
      peer.sendFrame({ opcode: OP.CONT });
    },
    expect: [text('')], close: CLEAN_NORMAL,
  }));
  it('6.1.3 3 fragments, the first and last empty', () => runCase(lab.port, {
    id: '6.1.3',
    run: (peer) => {
      peer.sendFrame({ opcode: OP.TEXT, fin: false });
      peer.sendFrame({ opcode: OP.CONT, payload: 'middle frame payload', fin: false });
      peer.sendFrame({ opcode: OP.CONT });
    },
    expect: [text('middle frame payload')], close: CLEAN_NORMAL,
  }));

  const GREETING = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!', 'utf8');
  it('6.2.1 valid UTF-8 in one fragment is echoed', () => runCase(lab.port, {
    id: '6.2.1', run: (peer) => peer.sendFrame({ opcode: OP.TEXT, payload: GREETING }), expect: [text(GREETING)], close: CLEAN_NORMAL,
  }));
  it('6.2.2 valid UTF-8 in 2 fragments split on a character boundary', () => runCase(lab.port, {
    id: '6.2.2',
    run: (peer) => {
      peer.sendFrame({ opcode: OP.TEXT, payload: GREETING.subarray(0, 7), fin: false }); // "Hello-µ"
      peer.sendFrame({ opcode: OP.CONT, payload: GREETING.subarray(7) });
    },
    expect: [text(GREETING)], close: CLEAN_NORMAL,
  }));
  it('6.2.3 valid UTF-8 in 1-byte fragments, most ending inside a character', () => runCase(lab.port, {
    id: '6.2.3', run: (peer) => sendBytewise(peer, GREETING), expect: [text(GREETING)], close: CLEAN_NORMAL,
  }));
  it('6.2.4 κόσμε in 1-byte fragments', () => runCase(lab.port, {
    id: '6.2.4', run: (peer) => sendBytewise(peer, hex(KOSME)), expect: [text(hex(KOSME))], close: CLEAN_NORMAL,
  }));

  // κόσμε, then ED A0 80 (an encoded surrogate: invalid at A0), then "edited".
  const INVALID = hex(`${KOSME}eda080656469746564`);
  it('6.3.1 invalid UTF-8 in one fragment: 1007', () => runCase(lab.port, {
    id: '6.3.1', run: (peer) => peer.sendFrame({ opcode: OP.TEXT, payload: INVALID }), expect: [], close: failedWith(1007),
  }));
  it('6.3.2 the same in 1-byte fragments: 1007', () => runCase(lab.port, {
    id: '6.3.2', run: (peer) => sendBytewise(peer, INVALID), expect: [], close: failedWith(1007),
  }));

  // 6.4: κόσμε, then F4 90 80 80 (U+110000, past the last code point: invalid at the 90), then "edited".
  const PART1 = hex(KOSME);
  const PART2 = hex('f4908080');
  const PART3 = hex('656469746564');
  const WHOLE = Buffer.concat([PART1, PART2, PART3]);
  const waitForFailure = (peer: Peer): Promise<void> =>
    peer.until(() => peer.serverClose !== undefined, 'the 1007 before the rest of the message is sent');

  /** 6.4.1/6.4.2: three frames; a ping after the first proves it was accepted; the 1007 must follow the second. */
  const inFrames = (first: Buffer, second: Buffer, third: Buffer) => async (peer: Peer): Promise<void> => {
    peer.sendFrame({ opcode: OP.TEXT, payload: first, fin: false });
    await peer.sync('fragment 1 accepted');
    peer.sendFrame({ opcode: OP.CONT, payload: second, fin: false });
    await waitForFailure(peer);
    peer.sendFrame({ opcode: OP.CONT, payload: third }); // ignored: the connection has been failed
  };
  it('6.4.1 3 fragments, the 2nd makes it invalid: 1007 before the 3rd is sent', () => runCase(lab.port, {
    id: '6.4.1', run: inFrames(PART1, PART2, PART3), expect: [pong('fragment 1 accepted')], close: failedWith(1007),
  }));
  it('6.4.2 the same, the 2nd fragment being just the byte that makes it invalid', () => runCase(lab.port, {
    id: '6.4.2', run: inFrames(WHOLE.subarray(0, 12), WHOLE.subarray(12, 13), WHOLE.subarray(13)), expect: [pong('fragment 1 accepted')], close: failedWith(1007),
  }));

  /** 6.4.3/6.4.4: ONE frame written in three chops: the failure must come in the middle of the frame. */
  const inChops = (cut1: number, cut2: number) => async (peer: Peer): Promise<void> => {
    const frame = buildFrame({ opcode: OP.TEXT, payload: WHOLE });
    const header = frame.length - WHOLE.length;
    peer.send(frame.subarray(0, header + cut1));
    peer.send(frame.subarray(header + cut1, header + cut2));
    await waitForFailure(peer);
    peer.send(frame.subarray(header + cut2));
  };
  it('6.4.3 one frame in 3 chops, the 2nd makes it invalid: 1007 in the middle of the frame', () => runCase(lab.port, {
    id: '6.4.3', run: inChops(PART1.length, PART1.length + PART2.length), expect: [], close: failedWith(1007),
  }));
  it('6.4.4 the same, the 2nd chop being just the byte that makes it invalid', () => runCase(lab.port, {
    id: '6.4.4', run: inChops(12, 13), expect: [], close: failedWith(1007),
  }));
  it('fail-fast deep inside a 64 KiB frame: 1007 before the last 25 KiB are sent', () => runCase(lab.port, {
    id: '6.x',
    run: async (peer) => {
      const payload = asciiText(65536);
      payload[40_000] = 0xff; // never valid in UTF-8
      const frame = buildFrame({ opcode: OP.TEXT, payload });
      const cut = frame.length - payload.length + 40_001;
      peer.send(frame.subarray(0, cut));
      await waitForFailure(peer);
      peer.send(frame.subarray(cut));
    },
    expect: [], close: failedWith(1007),
  }));
});

describe('Autobahn 6.5-6.23: the UTF-8 decoder stress test, whole and one byte per fragment', () => {
  const lab = labFixture();
  for (const category of UTF8_CATEGORIES) {
    category.cases.forEach((utf8Case, i) => {
      const id = `${category.section}.${i + 1}`;
      const payload = hex(utf8Case.hex);
      const verdict = utf8Case.valid ? 'echoed' : '1007';
      const show = utf8Case.hex.length > 24 ? `${utf8Case.hex.slice(0, 24)}…` : utf8Case.hex;
      it(`${id} ${category.title}: ${show} → ${verdict}`, async () => {
        const expectation = utf8Case.valid
          ? { expect: [text(payload)], close: CLEAN_NORMAL }
          : { expect: [], close: failedWith(1007) };
        await runCase(lab.port, { id, run: (peer) => peer.sendFrame({ opcode: OP.TEXT, payload }), ...expectation });
        await runCase(lab.port, { id: `${id} byte-wise`, run: (peer) => sendBytewise(peer, payload), ...expectation });
      });
    });
  }
});
