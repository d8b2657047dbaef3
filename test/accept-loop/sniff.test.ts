import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatByte, SNIFF_BYTES, type SniffKind, type SniffResult, sniffTransport } from '../../src/accept-loop/sniff.js';
import { ascii, splits } from '../helpers/split.js';

interface Shape {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly kind: Exclude<SniffKind, 'need-data'>;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
/** A record header and a few payload bytes, as a TLS client's first write begins. */
const tlsRecord = (type: number, major: number, minor: number): Uint8Array => bytes(type, major, minor, 0x01, 0xfc, 0x01, 0x00, 0x01, 0xf8, 0x03, 0x03);

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

const SHAPES: readonly Shape[] = [
  { name: 'SSL 3.0 record header (16 03 00)', bytes: tlsRecord(0x16, 0x03, 0x00), kind: 'tls' },
  { name: 'TLS 1.0 record header (16 03 01), what TLS 1.3 clients send first', bytes: tlsRecord(0x16, 0x03, 0x01), kind: 'tls' },
  { name: 'TLS 1.1 record header (16 03 02)', bytes: tlsRecord(0x16, 0x03, 0x02), kind: 'tls' },
  { name: 'TLS 1.2 record header (16 03 03)', bytes: tlsRecord(0x16, 0x03, 0x03), kind: 'tls' },
  { name: 'TLS 1.3 record version (16 03 04)', bytes: tlsRecord(0x16, 0x03, 0x04), kind: 'tls' },
  ...METHODS.map((method): Shape => ({ name: `${method} request`, bytes: ascii(`${method} / HTTP/1.1\r\nHost: h\r\n\r\n`), kind: 'http' })),
  { name: 'an extension method in lower case', bytes: ascii('propfind / HTTP/1.1\r\n'), kind: 'http' },
  { name: 'a method starting with a tchar mark', bytes: ascii('~X / HTTP/1.1\r\n'), kind: 'http' },
  { name: 'CRLF before the request-line (RFC 9112 §2.2)', bytes: ascii('\r\nGET / HTTP/1.1\r\n\r\n'), kind: 'http' },
  { name: 'bare LF first (the HTTP parser decides about it)', bytes: ascii('\nGET / HTTP/1.1\r\n\r\n'), kind: 'http' },
  { name: 'the HTTP/2 connection preface (RFC 9113 §3.4)', bytes: ascii('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), kind: 'h2' },
  { name: 'the preface then an empty SETTINGS frame, as curl --http2-prior-knowledge writes it', bytes: Buffer.concat([ascii('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), bytes(0, 0, 0, 4, 0, 0, 0, 0, 0)]), kind: 'h2' },
  { name: 'a PRI request in HTTP/1.1 (parts from the preface at its version)', bytes: ascii('PRI * HTTP/1.1\r\nHost: h\r\n\r\n'), kind: 'http' },
  { name: 'the preface without its SM body (parts at the last line)', bytes: ascii('PRI * HTTP/2.0\r\n\r\nXY\r\n\r\n'), kind: 'http' },
  { name: 'PATCH (parts from the preface at its second byte)', bytes: ascii('PATCH / HTTP/1.1\r\n'), kind: 'http' },
  { name: 'NUL', bytes: bytes(0x00, 0x00, 0x00, 0x00), kind: 'unknown' },
  { name: 'an SSLv2-style ClientHello (0x80 …)', bytes: bytes(0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15), kind: 'unknown' },
  { name: 'a TLS alert record (0x15)', bytes: bytes(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28), kind: 'unknown' },
  { name: 'a TLS application_data record (0x17)', bytes: bytes(0x17, 0x03, 0x03, 0x00, 0x10), kind: 'unknown' },
  { name: 'a TLS change_cipher_spec record (0x14)', bytes: bytes(0x14, 0x03, 0x03, 0x00, 0x01, 0x01), kind: 'unknown' },
  { name: 'a high byte (0xff)', bytes: bytes(0xff, 0xfe, 0x00), kind: 'unknown' },
  { name: 'a UTF-8 lead byte (0xc3)', bytes: bytes(0xc3, 0xa9), kind: 'unknown' },
  { name: 'a space before the method', bytes: ascii(' GET / HTTP/1.1\r\n'), kind: 'unknown' },
  { name: 'a tab before the method', bytes: ascii('\tGET / HTTP/1.1\r\n'), kind: 'unknown' },
  { name: 'another control character (0x01)', bytes: bytes(0x01, 0x02), kind: 'unknown' },
  { name: 'DEL (0x7f)', bytes: bytes(0x7f), kind: 'unknown' },
  { name: 'JSON (a printable non-tchar)', bytes: ascii('{"hello":1}'), kind: 'unknown' },
  { name: 'a path without a method', bytes: ascii('/index.html'), kind: 'unknown' },
  { name: '0x16 then a version not starting with 0x03', bytes: bytes(0x16, 0x00, 0x01, 0x02), kind: 'unknown' },
  { name: '0x16 then a letter', bytes: bytes(0x16, 0x47, 0x45, 0x54), kind: 'unknown' },
  { name: '0x16 0x03 then a minor version past TLS 1.3', bytes: bytes(0x16, 0x03, 0x05, 0x00, 0x10), kind: 'unknown' },
  { name: '0x16 0x04 (no such record version)', bytes: bytes(0x16, 0x04, 0x01), kind: 'unknown' },
];

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks);
}

describe('sniffTransport', () => {
  for (const shape of SHAPES) {
    it(`${shape.name} → ${shape.kind}, at every prefix and every split`, () => {
      const whole = sniffTransport(shape.bytes);
      assert.equal(whole.kind, shape.kind);
      assert.equal(whole.firstByte, shape.bytes[0]);
      if (whole.kind === 'unknown') assert.match(whole.reason, /\S/);

      // A pure function of a prefix: every prefix is undecided or already has the final answer.
      for (let n = 0; n <= shape.bytes.length; n++) {
        const result = sniffTransport(shape.bytes.subarray(0, n));
        if (result.kind === 'need-data') {
          assert.ok(n < SNIFF_BYTES, `prefix ${n}: need-data after ${SNIFF_BYTES} bytes`);
        } else {
          assert.deepEqual(result, whole, `prefix ${n}`);
        }
      }

      // As the accept loop will call it: with everything received so far, after each chunk.
      for (const { label, chunks } of splits(shape.bytes)) {
        let verdict: SniffResult | undefined;
        for (let i = 1; i <= chunks.length; i++) {
          const result = sniffTransport(concat(chunks.slice(0, i)));
          if (verdict !== undefined) assert.deepEqual(result, verdict, `${label}: a verdict changed after chunk ${i}`);
          else if (result.kind !== 'need-data') verdict = result;
        }
        assert.deepEqual(verdict, whole, label);
      }
    });
  }

  it('empty input needs data', () => {
    assert.deepEqual(sniffTransport(new Uint8Array(0)), { kind: 'need-data' });
  });

  it('0x16 alone, and 0x16 0x03, wait for the rest of the record version', () => {
    assert.deepEqual(sniffTransport(bytes(0x16)), { kind: 'need-data' });
    assert.deepEqual(sniffTransport(bytes(0x16, 0x03)), { kind: 'need-data' });
    assert.deepEqual(sniffTransport(bytes(0x16, 0x03, 0x01)), { kind: 'tls', firstByte: 0x16, recordVersion: 0x0301 });
  });

  it('HTTP and the other classes are decided on the first byte alone', () => {
    assert.deepEqual(sniffTransport(ascii('G')), { kind: 'http', firstByte: 0x47 });
    assert.deepEqual(sniffTransport(ascii('\r')), { kind: 'http', firstByte: 0x0d });
    assert.equal(sniffTransport(bytes(0x17)).kind, 'unknown');
  });

  it("a 'P' waits while the bytes still match the HTTP/2 preface, and no longer", () => {
    const preface = ascii('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    for (let n = 1; n < preface.length; n++) assert.deepEqual(sniffTransport(preface.subarray(0, n)), { kind: 'need-data' }, `prefix ${n}`);
    assert.deepEqual(sniffTransport(preface), { kind: 'h2', firstByte: 0x50 });
    assert.deepEqual(sniffTransport(ascii('PO')), { kind: 'http', firstByte: 0x50 });
    assert.deepEqual(sniffTransport(ascii('PRI * HTTP/2.1')), { kind: 'http', firstByte: 0x50 });
  });

  it('every byte value gets a final verdict within SNIFF_BYTES, and never both classes', () => {
    for (let byte = 0; byte < 256; byte++) {
      const result = sniffTransport(bytes(byte, 0x03, 0x03));
      assert.notEqual(result.kind, 'need-data', formatByte(byte));
      if (result.kind === 'tls') assert.equal(byte, 0x16);
      if (result.kind === 'unknown') assert.ok(result.reason.length > 20, `${formatByte(byte)}: ${result.reason}`);
    }
  });

  it('reasons name the byte and what was expected, for a learner', () => {
    const alert = sniffTransport(bytes(0x15, 0x03, 0x03));
    assert.ok(alert.kind === 'unknown');
    assert.match(alert.reason, /alert/);
    assert.match(alert.reason, /0x16/);
    const v2 = sniffTransport(bytes(0x80, 0x2e));
    assert.ok(v2.kind === 'unknown');
    assert.match(v2.reason, /SSL 2\.0/);
    const space = sniffTransport(ascii(' GET'));
    assert.ok(space.kind === 'unknown');
    assert.match(space.reason, /whitespace/);
    const garbage = sniffTransport(bytes(0x16, 0x03, 0x09));
    assert.ok(garbage.kind === 'unknown');
    assert.match(garbage.reason, /0x0309/);
    assert.equal(garbage.firstByte, 0x16);
  });
});

describe('formatByte', () => {
  it('formats a byte as two lower-case hex digits after 0x', () => {
    assert.equal(formatByte(0x16), '0x16');
    assert.equal(formatByte(0), '0x00');
    assert.equal(formatByte(0xff), '0xff');
    assert.equal(formatByte(0x0a), '0x0a');
  });

  it('makes the trace line', () => {
    const result = sniffTransport(bytes(0x16, 0x03, 0x01));
    assert.ok(result.kind !== 'need-data');
    assert.equal(`sniff #12 first byte ${formatByte(result.firstByte)} -> ${result.kind}`, 'sniff #12 first byte 0x16 -> tls');
  });
});
