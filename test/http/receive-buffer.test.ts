import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReceiveBuffer } from '../../src/http/receive-buffer.js';
import { splits, text } from '../helpers/split.js';
import { bytesOf } from './drive.js';

const CRLFCRLF = bytesOf('\r\n\r\n');
/** Bytes with an ArrayBuffer of their own (Buffer.from may share a pool), to check views by identity. */
const own = (value: string): Uint8Array => Uint8Array.from(bytesOf(value));

function bufferOf(chunks: Uint8Array[]): ReceiveBuffer {
  const buffer = new ReceiveBuffer();
  for (const chunk of chunks) buffer.append(chunk);
  return buffer;
}

describe('ReceiveBuffer', () => {
  it('indexOf finds a needle however the bytes are chunked, including across chunk boundaries', () => {
    const input = bytesOf('ab\r\ncd\r\n\r\nef\r\n\r\n');
    for (const { label, chunks } of splits(input)) {
      const buffer = bufferOf(chunks);
      assert.equal(buffer.length, input.length, label);
      assert.equal(buffer.indexOf(CRLFCRLF), 6, label);
      assert.equal(buffer.indexOf(CRLFCRLF, 7), 12, label);
      assert.equal(buffer.indexOf(CRLFCRLF, 13), -1, label);
      assert.equal(buffer.indexOf(CRLFCRLF, 0, 9), -1, `${label}: the needle must end before \`end\``);
      assert.equal(buffer.indexOf(CRLFCRLF, 0, 10), 6, label);
      assert.equal(buffer.indexOf(0x0a), 3, label);
      assert.equal(buffer.indexOf(0x0a, 4), 7, label);
      assert.equal(buffer.indexOf(0x0a, 4, 7), -1, label);
      assert.equal(buffer.indexOf(0x66), 11, label);
      for (let i = 0; i < input.length; i++) assert.equal(buffer.byteAt(i), input[i], `${label} byteAt(${i})`);
    }
  });

  it('a resumed search (from where the last stopped) finds a needle split over later chunks', () => {
    const buffer = new ReceiveBuffer();
    let from = 0;
    let found = -1;
    for (const byte of bytesOf('GET / HTTP/1.1\r\nHost: h\r\n\r\nrest')) {
      buffer.append(Uint8Array.of(byte));
      found = buffer.indexOf(CRLFCRLF, from);
      if (found >= 0) break;
      from = Math.max(0, buffer.length - 3);
    }
    assert.equal(found, 23);
  });

  it('indexOf after consuming counts from the first unconsumed byte', () => {
    const buffer = bufferOf([bytesOf('xx\r\n'), bytesOf('\r\nyy\r'), bytesOf('\n\r\n')]);
    buffer.skip(1);
    assert.equal(buffer.indexOf(CRLFCRLF), 1);
    buffer.skip(3);
    assert.equal(buffer.indexOf(CRLFCRLF), 4);
    assert.equal(buffer.byteAt(0), 0x0d);
    assert.equal(buffer.byteAt(3), 0x79);
  });

  it('take returns a view when the bytes lie in one chunk and a copy when they span chunks', () => {
    const a = own('hello');
    const b = own('world');
    const buffer = bufferOf([a, b]);
    const view = buffer.take(3);
    assert.equal(text(view), 'hel');
    assert.equal(view.buffer, a.buffer);
    assert.equal(view.byteOffset, a.byteOffset);
    const spanning = buffer.take(4);
    assert.equal(text(spanning), 'lowo');
    assert.notEqual(spanning.buffer, a.buffer);
    assert.equal(buffer.length, 3);
    const rest = buffer.takeUpTo(100);
    assert.equal(text(rest), 'rld');
    assert.equal(rest.buffer, b.buffer);
    assert.equal(buffer.length, 0);
    assert.equal(buffer.take(0).length, 0);
    assert.equal(buffer.takeUpTo(5).length, 0);
  });

  it('takeUpTo never copies: it stops at the end of the first chunk', () => {
    const buffer = bufferOf([bytesOf('abc'), bytesOf('def')]);
    assert.equal(text(buffer.takeUpTo(2)), 'ab');
    assert.equal(text(buffer.takeUpTo(5)), 'c');
    assert.equal(text(buffer.takeUpTo(5)), 'def');
  });

  it('takeAll returns every unconsumed byte once and empties the buffer', () => {
    for (const { label, chunks } of splits(bytesOf('0123456789'))) {
      const buffer = bufferOf(chunks);
      buffer.skip(2);
      assert.equal(text(buffer.takeAll()), '23456789', label);
      assert.equal(buffer.length, 0, label);
      assert.equal(buffer.takeAll().length, 0, label);
    }
  });

  it('latin1 decodes without consuming, across chunks too', () => {
    const buffer = bufferOf([bytesOf('ab'), bytesOf('c\xe9'), bytesOf('f')]);
    assert.equal(buffer.latin1(4), 'abc\xe9');
    assert.equal(buffer.latin1(1), 'a');
    assert.equal(buffer.latin1(0), '');
    assert.equal(buffer.length, 5);
  });

  it('ignores empty chunks and keeps plain Uint8Arrays without copying', () => {
    const plain = Uint8Array.from([1, 2, 3]);
    const buffer = new ReceiveBuffer();
    buffer.append(new Uint8Array(0));
    buffer.append(plain);
    assert.equal(buffer.length, 3);
    assert.equal(buffer.take(3).buffer, plain.buffer);
  });

  it('a long run of tiny chunks stays linear (consumed slots are dropped)', () => {
    const buffer = new ReceiveBuffer();
    for (let i = 0; i < 10_000; i++) {
      buffer.append(Uint8Array.of(i & 0xff));
      if (i % 2 === 1) assert.equal(buffer.take(2)[1], i & 0xff);
    }
    assert.equal(buffer.length, 0);
  });
});

describe('ReceiveBuffer as the WebSocket frame decoder uses it', () => {
  it('peeks across chunks, skips and takes views without copying; a whole chunk comes back as itself', () => {
    const buffer = new ReceiveBuffer();
    const a = own('\x01\x02\x03');
    const b = own('\x04\x05');
    buffer.append(a);
    buffer.append(new Uint8Array(0));
    buffer.append(b);
    assert.equal(buffer.length, 5);
    assert.equal(buffer.byteAt(3), 4);
    const peeked = new Uint8Array(4);
    buffer.peek(peeked, 4);
    assert.deepEqual([...peeked], [1, 2, 3, 4]);
    assert.equal(buffer.length, 5, 'peek consumes nothing');
    buffer.skip(1);
    const taken = buffer.takeUpTo(10);
    assert.deepEqual([...taken], [2, 3]);
    assert.equal(taken.buffer, a.buffer);
    const whole = buffer.takeUpTo(10);
    assert.deepEqual([...whole], [4, 5]);
    assert.equal(whole.buffer, b.buffer);
    assert.equal(buffer.length, 0);
  });

  it('clear() forgets everything unread, and the buffer is usable afterwards', () => {
    const buffer = bufferOf([own('abc'), own('def')]);
    buffer.skip(2);
    buffer.clear();
    assert.equal(buffer.length, 0);
    buffer.append(own('xy'));
    assert.equal(text(buffer.takeAll()), 'xy');
  });

  it('stays correct across compaction with thousands of one-byte chunks, taken as the decoder does', () => {
    const buffer = new ReceiveBuffer();
    const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + 3) & 0xff);
    for (let i = 0; i < bytes.length; i++) buffer.append(bytes.subarray(i, i + 1));
    const out: number[] = [];
    while (buffer.length > 0) {
      if (out.length % 3 === 0) {
        out.push(buffer.byteAt(0));
        buffer.skip(1);
      } else out.push(...buffer.takeUpTo(2));
    }
    assert.deepEqual(Uint8Array.from(out), bytes);
  });
});
