/**
 * Autobahn section 1, "Framing": text and binary messages at every edge of the payload length encoding
 * (RFC 6455 §5.2: 7-bit up to 125, 16-bit from 126 to 65535, 64-bit from 65536) come back unchanged, as
 * the same kind, and the closing handshake that follows is clean.
 */
import { describe, it } from 'node:test';
import { CLEAN_NORMAL, OP, asciiText, binary, labFixture, pattern, runCase, text } from './peer.js';

const SIZES = [0, 125, 126, 127, 128, 65535, 65536] as const;

describe('Autobahn 1.1: text messages', () => {
  const lab = labFixture();
  SIZES.forEach((size, i) => {
    const id = `1.1.${i + 1}`;
    it(`${id} a ${size}-byte text message is echoed`, () => runCase(lab.port, {
      id,
      run: (peer) => peer.sendFrame({ opcode: OP.TEXT, payload: asciiText(size, '*') }),
      expect: [text(asciiText(size, '*'))],
      close: CLEAN_NORMAL,
    }));
  });
  it('1.1.8 a 65536-byte text message written in 997-byte chops is echoed', () => runCase(lab.port, {
    id: '1.1.8',
    run: (peer) => peer.sendFrame({ opcode: OP.TEXT, payload: asciiText(65536, '*'), chop: 997 }),
    expect: [text(asciiText(65536, '*'))],
    close: CLEAN_NORMAL,
  }));
});

describe('Autobahn 1.2: binary messages', () => {
  const lab = labFixture();
  SIZES.forEach((size, i) => {
    const id = `1.2.${i + 1}`;
    it(`${id} a ${size}-byte binary message is echoed`, () => runCase(lab.port, {
      id,
      run: (peer) => peer.sendFrame({ opcode: OP.BINARY, payload: pattern(size) }),
      expect: [binary(pattern(size))],
      close: CLEAN_NORMAL,
    }));
  });
  it('1.2.8 a 65536-byte binary message written in 997-byte chops is echoed', () => runCase(lab.port, {
    id: '1.2.8',
    run: (peer) => peer.sendFrame({ opcode: OP.BINARY, payload: pattern(65536), chop: 997 }),
    expect: [binary(pattern(65536))],
    close: CLEAN_NORMAL,
  }));
  it('text and binary are never confused: a binary payload that is valid UTF-8 stays binary', () => runCase(lab.port, {
    id: '1.x',
    run: (peer) => {
      peer.sendFrame({ opcode: OP.BINARY, payload: 'Hello' });
      peer.sendFrame({ opcode: OP.TEXT, payload: 'Hello' });
    },
    expect: [binary(Buffer.from('Hello')), text('Hello')],
    close: CLEAN_NORMAL,
  }));
});
