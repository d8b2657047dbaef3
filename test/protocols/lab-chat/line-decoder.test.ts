import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineDecoder, LineErrorCode } from '../../../src/protocols/lab-chat/line-decoder.js';
import { splits } from '../../helpers/split.js';

interface Outcome {
  lines: string[];
  error: string | undefined;
  ended: boolean;
  buffered: number;
}

/** Feed chunks the way the session does (receive, then next() until it needs data), optionally end. */
function run(chunks: readonly Uint8Array[], max: number, end = false): Outcome {
  const decoder = new LineDecoder(max);
  const outcome: Outcome = { lines: [], error: undefined, ended: false, buffered: 0 };
  const drain = (): void => {
    for (let guard = 0; guard < 100_000; guard++) {
      const event = decoder.next();
      if (event.type === 'line') { outcome.lines.push(event.text); continue; }
      if (event.type === 'error') outcome.error = event.error.code;
      if (event.type === 'end') outcome.ended = true;
      return;
    }
    assert.fail('the decoder never asked for more data');
  };
  for (const chunk of chunks) {
    decoder.receive(chunk);
    drain();
    if (outcome.error) break;
  }
  if (end && !outcome.error) {
    decoder.receiveEnd();
    drain();
  }
  outcome.buffered = decoder.bufferedBytes;
  return outcome;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The three-way rule: whole, split at every offset, byte by byte — every way gives the same outcome. */
function sameEveryWay(input: Uint8Array, max: number, expected: Outcome, end = false): void {
  for (const { label, chunks } of splits(input)) {
    assert.deepEqual(run(chunks, max, end), expected, label);
  }
}

describe('lab-chat LineDecoder', () => {
  it('splits LF and CRLF lines, keeps multi-byte UTF-8 whole, however the bytes are chunked', () => {
    sameEveryWay(utf8('hello\r\nhéllo wörld ✓\n\nlast\r\n'), 64, {
      lines: ['hello', 'héllo wörld ✓', '', 'last'], error: undefined, ended: false, buffered: 0,
    });
  });

  it('leaves trailing bytes of an unfinished line untouched until its end arrives', () => {
    const input = utf8('one\ntwo\npart✓');
    const trailing = utf8('part✓').length;
    sameEveryWay(input, 64, { lines: ['one', 'two'], error: undefined, ended: false, buffered: trailing });
    // At the peer's FIN the unfinished line is still a line, unchanged; a lone CR at the very end is dropped.
    sameEveryWay(input, 64, { lines: ['one', 'two', 'part✓'], error: undefined, ended: true, buffered: 0 }, true);
    sameEveryWay(utf8('x\r'), 64, { lines: ['x'], error: undefined, ended: true, buffered: 0 }, true);
  });

  it('keeps a CR that is not before LF as part of the line', () => {
    sameEveryWay(utf8('a\rb\n'), 64, { lines: ['a\rb'], error: undefined, ended: false, buffered: 0 });
  });

  it('accepts a line of exactly the maximum, with LF or CRLF, and refuses one byte more', () => {
    const max = 8;
    sameEveryWay(utf8('12345678\n12345678\r\n'), max, { lines: ['12345678', '12345678'], error: undefined, ended: false, buffered: 0 });
    // The verdict does not depend on chunking, and lines before the long one still come out.
    sameEveryWay(utf8('ok\n123456789\nnever'), max, { lines: ['ok'], error: LineErrorCode.TooLong, ended: false, buffered: 0 });
    sameEveryWay(utf8('ok\n12345678\rx\n'), max, { lines: ['ok'], error: LineErrorCode.TooLong, ended: false, buffered: 0 });
    // An over-long last line without a terminator is refused at the FIN as well.
    sameEveryWay(utf8('123456789'), max, { lines: [], error: LineErrorCode.TooLong, ended: false, buffered: 0 }, true);
  });

  it('refuses a long line as soon as it is too long, without waiting for its end', () => {
    const decoder = new LineDecoder(16);
    decoder.receive(new Uint8Array(17).fill(0x61));
    const event = decoder.next();
    assert.equal(event.type, 'error');
    assert.equal(event.type === 'error' && event.error.code, LineErrorCode.TooLong);
    assert.equal(decoder.bufferedBytes, 0, 'nothing kept after the error');
  });

  it('never holds more than max bytes of an unfinished line, plus one CR that may end it', () => {
    const decoder = new LineDecoder(100);
    let most = 0;
    const feed = (byte: number): string => {
      decoder.receive(Uint8Array.of(byte));
      const type = decoder.next().type;
      most = Math.max(most, decoder.bufferedBytes);
      return type;
    };
    for (let i = 0; i < 100; i++) assert.equal(feed(0x61), 'need-data');
    assert.equal(feed(0x0d), 'need-data', 'a CR after the maximum may still be half of CRLF');
    assert.equal(most, 101);
    assert.equal(feed(0x61), 'error', 'it was not');
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('refuses invalid UTF-8 and is sticky afterwards', () => {
    sameEveryWay(Uint8Array.from([0x6f, 0x6b, 0x0a, 0xc3, 0x28, 0x0a, 0x6e, 0x0a]), 64, {
      lines: ['ok'], error: LineErrorCode.NotUtf8, ended: false, buffered: 0,
    });
    const decoder = new LineDecoder(64);
    decoder.receive(Uint8Array.from([0xff, 0x0a]));
    assert.equal(decoder.next().type, 'error');
    decoder.receive(utf8('fine\n'));
    assert.equal(decoder.next().type, 'error');
  });

  it('reports end once everything is out, and repeats it', () => {
    const decoder = new LineDecoder(64);
    decoder.receive(utf8('a\n'));
    decoder.receiveEnd();
    decoder.receive(utf8('ignored after the end\n'));
    assert.deepEqual(decoder.next(), { type: 'line', text: 'a' });
    assert.equal(decoder.next().type, 'end');
    assert.equal(decoder.next().type, 'end');
  });
});
