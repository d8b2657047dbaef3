import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProxyHeaderErrorCode, type ProxyHeaderEvent, ProxyHeaderReader } from '../../src/accept-loop/proxy-protocol.js';
import { ascii, splits } from '../helpers/split.js';

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** CRC32c computed bit by bit (RFC 4960 Appendix B), independently of the module's table. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) { crc ^= b; for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1; }
  return (crc ^ 0xffffffff) >>> 0;
}

function v2(verCmd: number, fam: number, body: number[]): Uint8Array {
  return Uint8Array.from([...SIG, verCmd, fam, body.length >> 8, body.length & 0xff, ...body]);
}
const tlv = (type: number, value: number[]): number[] => [type, value.length >> 8, value.length & 0xff, ...value];

/** Feeds every split; asserts all give the same verdict, returns it. */
function run(bytes: Uint8Array): ProxyHeaderEvent {
  let first: ProxyHeaderEvent | undefined;
  for (const { label, chunks } of splits(bytes)) {
    const reader = new ProxyHeaderReader();
    let event: ProxyHeaderEvent = { type: 'need-data' };
    const tail: Uint8Array[] = [];
    for (const chunk of chunks) {
      if (event.type === 'need-data') event = reader.receive(chunk);
      else tail.push(chunk);
    }
    if (event.type === 'header') event = { ...event, rest: Buffer.concat([event.rest, ...tail]) };
    if (first === undefined) first = event;
    else assert.deepEqual(event.type === 'header' ? { ...event, rest: Buffer.from(event.rest) } : event, first.type === 'header' ? { ...first, rest: Buffer.from(first.rest) } : first, label);
  }
  return first!;
}

const TRAIL = ascii('GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n');
const cat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

describe('PROXY v1 (§2.1)', () => {
  it('the spec example line, trailing request preserved', () => {
    const e = run(cat(ascii('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'), TRAIL));
    assert.equal(e.type, 'header');
    if (e.type !== 'header') return;
    assert.deepEqual(e.header.addresses, { family: 'inet', transport: 'stream', source: { address: '192.168.0.1', port: 56324 }, destination: { address: '192.168.0.11', port: 443 } });
    assert.equal(e.header.headerLength, 47); // 5+1+4+1+11+1+12+1+5+1+3+2
    assert.deepEqual(Buffer.from(e.rest), Buffer.from(TRAIL));
  });
  it('TCP6 with the longest addresses (104 bytes) and UNKNOWN forms', () => {
    const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const e = run(ascii(`PROXY TCP6 ${f} ${f} 65535 65535\r\n`));
    assert.equal(e.type === 'header' && e.header.headerLength, 104);
    const u = run(ascii('PROXY UNKNOWN\r\n'));
    assert.equal(u.type === 'header' && u.header.addresses.family, 'unspec');
    const w = run(ascii(`PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`));
    assert.equal(w.type === 'header' && w.header.headerLength, 107);
    const c = run(ascii('PROXY TCP6 2001:DB8::1 ::ffff:10.0.0.1 1 2\r\n'));
    assert.ok(c.type === 'header' && c.header.addresses.family === 'inet6');
    if (c.type === 'header' && c.header.addresses.family === 'inet6') {
      assert.equal(c.header.addresses.source.address, '2001:db8::1');
      assert.equal(c.header.addresses.destination.address, '::ffff:10.0.0.1');
    }
  });
  const errors: Array<[string, string, string]> = [
    ['not a header', 'GET / HTTP/1.1\r\n', ProxyHeaderErrorCode.BadSignature],
    ['PROXY without space', 'PROXYTCP4 1.2.3.4\r\n', ProxyHeaderErrorCode.BadSignature],
    ['bare LF', 'PROXY TCP4 1.2.3.4 1.2.3.5 1 2\n', ProxyHeaderErrorCode.BadLineEnd],
    ['CR not LF', 'PROXY TCP4 1.2.3.4 1.2.3.5 1 2\rX', ProxyHeaderErrorCode.BadLineEnd],
    ['too long', `PROXY UNKNOWN ${'x'.repeat(120)}\r\n`, ProxyHeaderErrorCode.LineTooLong],
    ['TCP5', 'PROXY TCP5 1.2.3.4 1.2.3.5 1 2\r\n', ProxyHeaderErrorCode.BadFamily],
    ['double space', 'PROXY TCP4  1.2.3.4 1.2.3.5 1 2\r\n', ProxyHeaderErrorCode.BadLine],
    ['missing port', 'PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n', ProxyHeaderErrorCode.BadLine],
    ['leading zero octet', 'PROXY TCP4 01.2.3.4 1.2.3.5 1 2\r\n', ProxyHeaderErrorCode.BadAddress],
    ['v6 address under TCP4', 'PROXY TCP4 ::1 1.2.3.5 1 2\r\n', ProxyHeaderErrorCode.BadAddress],
    ['octet 256', 'PROXY TCP4 1.2.3.256 1.2.3.5 1 2\r\n', ProxyHeaderErrorCode.BadAddress],
    ['port 65536', 'PROXY TCP4 1.2.3.4 1.2.3.5 65536 2\r\n', ProxyHeaderErrorCode.BadPort],
    ['port leading zero', 'PROXY TCP4 1.2.3.4 1.2.3.5 01 2\r\n', ProxyHeaderErrorCode.BadPort],
  ];
  for (const [name, text, code] of errors) {
    it(`error: ${name} → ${code}`, () => {
      const e = run(ascii(text));
      assert.equal(e.type, 'error');
      assert.equal(e.type === 'error' && e.code, code);
    });
  }
  it('an incomplete line then end → Incomplete', () => {
    const r = new ProxyHeaderReader();
    assert.equal(r.receive(ascii('PROXY TCP4 1.2')).type, 'need-data');
    const e = r.receiveEnd();
    assert.equal(e.type === 'error' && e.code, ProxyHeaderErrorCode.Incomplete);
  });
});

describe('PROXY v2 (§2.2)', () => {
  const tcp4 = [192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb];
  it('TCP4 PROXY, trailing bytes preserved', () => {
    const e = run(cat(v2(0x21, 0x11, tcp4), TRAIL));
    assert.ok(e.type === 'header');
    if (e.type !== 'header') return;
    assert.equal(e.header.command, 'proxy');
    assert.deepEqual(e.header.addresses, { family: 'inet', transport: 'stream', source: { address: '192.0.2.1', port: 56324 }, destination: { address: '198.51.100.7', port: 443 } });
    assert.equal(e.header.headerLength, 28);
    assert.deepEqual(Buffer.from(e.rest), Buffer.from(TRAIL));
  });
  it('TCP6 PROXY', () => {
    const a = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
    const b = [...new Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 1];
    const e = run(v2(0x21, 0x21, [...a, ...b, 0, 80, 1, 0]));
    assert.ok(e.type === 'header' && e.header.addresses.family === 'inet6');
    if (e.type === 'header' && e.header.addresses.family === 'inet6') {
      assert.equal(e.header.addresses.source.address, '2001:db8::1');
      assert.equal(e.header.addresses.destination.address, '::ffff:10.0.0.1');
      assert.equal(e.header.addresses.destination.port, 256);
    }
  });
  it('UNIX stream', () => {
    const path = (s: string): number[] => { const out = new Array(108).fill(0); for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out; };
    const e = run(v2(0x21, 0x31, [...path('/run/a.sock'), ...path('/run/b.sock')]));
    assert.ok(e.type === 'header' && e.header.addresses.family === 'unix');
    if (e.type === 'header' && e.header.addresses.family === 'unix') assert.equal(e.header.addresses.source, '/run/a.sock');
  });
  it('LOCAL (health check): addresses unspec; with a TCP4 block too', () => {
    const e = run(v2(0x20, 0x00, []));
    assert.ok(e.type === 'header' && e.header.command === 'local' && e.header.addresses.family === 'unspec');
    const f = run(v2(0x20, 0x11, tcp4));
    assert.ok(f.type === 'header' && f.header.command === 'local' && f.header.addresses.family === 'unspec');
  });
  it('TLVs: ALPN, AUTHORITY, UNIQUE_ID, NOOP, NETNS, SSL with sub-TLVs, CRC32C verified', () => {
    const str = (s: string): number[] => [...Buffer.from(s)];
    const ssl = [0x01, 0, 0, 0, 0, ...tlv(0x21, str('TLSv1.3')), ...tlv(0x22, str('client.example')), ...tlv(0x23, str('TLS_AES_128_GCM_SHA256'))];
    const body = [...tcp4, ...tlv(0x01, str('h2')), ...tlv(0x02, str('example.com')), ...tlv(0x04, [0, 0]), ...tlv(0x05, [1, 2, 3]), ...tlv(0x30, str('blue')), ...tlv(0x20, ssl), ...tlv(0x03, [0, 0, 0, 0])];
    const bytes = v2(0x21, 0x11, body);
    const crc = crc32cBitwise(bytes);
    bytes.set([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff], bytes.length - 4);
    const e = run(bytes);
    assert.ok(e.type === 'header', JSON.stringify(e));
    if (e.type !== 'header') return;
    assert.equal(e.header.tlvs.length, 7);
    assert.equal(e.header.tlv.alpn, 'h2');
    assert.equal(e.header.tlv.authority, 'example.com');
    assert.equal(e.header.tlv.netns, 'blue');
    assert.equal(e.header.tlv.crc32c, crc);
    assert.deepEqual([...e.header.tlv.uniqueId!], [1, 2, 3]);
    assert.equal(e.header.tlv.ssl?.version, 'TLSv1.3');
    assert.equal(e.header.tlv.ssl?.cn, 'client.example');
    assert.equal(e.header.tlv.ssl?.cipher, 'TLS_AES_128_GCM_SHA256');
    assert.equal(e.header.tlv.ssl?.verify, 0);
    // One bit flipped in the address: the checksum no longer matches.
    bytes[16] ^= 1;
    const bad = run(bytes);
    assert.equal(bad.type === 'error' && bad.code, ProxyHeaderErrorCode.CrcMismatch);
  });
  it('the CRC32c check value (RFC 3720 B.4: "123456789" → 0xe3069283) for the test\'s own CRC', () => {
    assert.equal(crc32cBitwise(ascii('123456789')), 0xe3069283);
  });
  const errors: Array<[string, Uint8Array, string]> = [
    ['bad signature byte', Uint8Array.from([...SIG.slice(0, 7), 0x52, 0, 0]), ProxyHeaderErrorCode.BadSignature],
    ['version 1', v2(0x11, 0x11, tcp4), ProxyHeaderErrorCode.BadVersion],
    ['command 2', v2(0x22, 0x11, tcp4), ProxyHeaderErrorCode.BadCommand],
    ['family 4', v2(0x21, 0x41, tcp4), ProxyHeaderErrorCode.BadFamily],
    ['transport 3', v2(0x21, 0x13, tcp4), ProxyHeaderErrorCode.BadFamily],
    ['TCP6 with 12 bytes', v2(0x21, 0x21, tcp4), ProxyHeaderErrorCode.AddressLength],
    ['too large', Uint8Array.from([...SIG, 0x21, 0x11, 0xff, 0xff]), ProxyHeaderErrorCode.TooLarge],
    ['TLV overrun', v2(0x21, 0x11, [...tcp4, 0x01, 0x00, 0x09, 0x68]), ProxyHeaderErrorCode.TlvOverrun],
    ['header ends in a TLV head', v2(0x21, 0x11, [...tcp4, 0x01, 0x00]), ProxyHeaderErrorCode.TlvOverrun],
    ['CRC32C of 3 bytes', v2(0x21, 0x11, [...tcp4, ...tlv(0x03, [0, 0, 0])]), ProxyHeaderErrorCode.BadTlv],
    ['UNIQUE_ID of 129 bytes', v2(0x21, 0x11, [...tcp4, ...tlv(0x05, new Array(129).fill(1))]), ProxyHeaderErrorCode.BadTlv],
    ['SSL sub-TLV overrun', v2(0x21, 0x11, [...tcp4, ...tlv(0x20, [1, 0, 0, 0, 0, 0x21, 0, 9, 0x41])]), ProxyHeaderErrorCode.TlvOverrun],
  ];
  for (const [name, bytes, code] of errors) {
    it(`error: ${name} → ${code}`, () => {
      const e = run(bytes);
      assert.equal(e.type === 'error' && e.code, code, JSON.stringify(e));
    });
  }
  it('never throws on random bytes after the signature', () => {
    let seed = 1;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const body = Array.from({ length: rand() % 64 }, rand);
      const r = new ProxyHeaderReader();
      r.receive(Uint8Array.from([...SIG, 0x21, rand(), 0, body.length, ...body]));
      r.receiveEnd();
    }
  });
});
