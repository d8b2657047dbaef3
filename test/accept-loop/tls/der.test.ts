/**
 * The DER encoder against known encodings (X.690's own examples where it has them, else bytes openssl and
 * node:crypto agree on), and the reader fed what the encoder writes: whole, grown chunk by chunk at every
 * split, and with trailing bytes that must be left alone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  bitString,
  boolean,
  concat,
  DerClass,
  type DerElement,
  type DerRead,
  DerReadErrorCode,
  DerTag,
  encodeIdentifier,
  encodeLength,
  explicit,
  generalizedTime,
  ia5String,
  implicit,
  integer,
  namedBits,
  nullValue,
  objectIdentifier,
  octetString,
  printableString,
  readChildren,
  readElement,
  sequence,
  set,
  tlv,
  utcTime,
  utf8String,
  x509Time,
} from '../../../src/accept-loop/tls/der.js';
import { UsageError } from '../../../src/errors.js';
import { splits } from '../../helpers/split.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();
const bytesOf = (spaced: string): Uint8Array => Uint8Array.from(Buffer.from(spaced.replace(/\s+/g, ''), 'hex'));
const usageError = (code: string) => (error: unknown): boolean => error instanceof UsageError && error.code === code;

describe('length octets (X.690 §10.1)', () => {
  for (const [length, expected] of [
    [0, '00'], [1, '01'], [127, '7F'], [128, '8180'], [255, '81FF'], [256, '820100'],
    [65535, '82FFFF'], [65536, '83010000'], [2 ** 24, '8401000000'],
  ] as const) {
    it(`${length} → ${expected}`, () => assert.equal(hex(encodeLength(length)), expected));
  }

  for (const size of [127, 128, 255, 256, 65535, 65536]) {
    it(`an OCTET STRING of ${size} bytes has the right header and total size`, () => {
      const contents = randomBytes(size);
      const encoded = octetString(contents);
      const header = concat([Uint8Array.of(DerTag.OctetString), encodeLength(size)]);
      assert.equal(encoded.length, header.length + size);
      assert.deepEqual(encoded.subarray(0, header.length), header);
      assert.deepEqual(encoded.subarray(header.length), new Uint8Array(contents));
    });
  }

  it('rejects a negative or fractional length', () => {
    assert.throws(() => encodeLength(-1), usageError('ERR_DER_BAD_LENGTH'));
    assert.throws(() => encodeLength(1.5), usageError('ERR_DER_BAD_LENGTH'));
  });
});

describe('INTEGER (X.690 §8.3)', () => {
  for (const [value, expected] of [
    [0n, '020100'], [1n, '020101'], [127n, '02017F'], [128n, '02020080'], [255n, '020200FF'], [256n, '02020100'],
    [32767n, '02027FFF'], [32768n, '0203008000'], [-1n, '0201FF'], [-128n, '020180'], [-129n, '0202FF7F'],
    [-256n, '0202FF00'], [-32768n, '02028000'], [-32769n, '0203FF7FFF'],
  ] as const) {
    it(`${value} → ${expected}`, () => assert.equal(hex(integer(value)), expected));
  }

  it('a 20-byte serial with the high bit set gets a leading 0x00 (21 content octets)', () => {
    const serial = new Uint8Array(20).fill(0xab);
    serial[0] = 0x80;
    assert.equal(hex(integer(serial)), `0215 00 80${'AB'.repeat(19)}`.replace(/ /g, ''));
  });

  it('bytes are an unsigned magnitude: leading zeros dropped, empty and all-zero are 0', () => {
    assert.equal(hex(integer(bytesOf('00 00 7F'))), '02017F');
    assert.equal(hex(integer(bytesOf('00 00 80'))), '02020080');
    assert.equal(hex(integer(new Uint8Array(0))), '020100');
    assert.equal(hex(integer(new Uint8Array(5))), '020100');
  });

  it('bytes and the same value as a bigint encode alike', () => {
    for (let i = 0; i < 200; i++) {
      const bytes = new Uint8Array(randomBytes(1 + (i % 24)));
      const value = BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
      assert.deepEqual(integer(bytes), integer(value));
    }
  });

  it('random bigints round-trip in the fewest octets', () => {
    for (let i = 0; i < 500; i++) {
      const magnitude = BigInt(`0x${randomBytes(1 + (i % 20)).toString('hex')}`) >> BigInt(i % 8);
      const value = i % 2 ? -magnitude : magnitude;
      const contents = integer(value).subarray(2);
      // X.690 §8.3.2: the first nine bits are never all ones or all zeros.
      if (contents.length > 1) {
        const nine = (contents[0]! << 1) | (contents[1]! >> 7);
        assert.ok(nine !== 0 && nine !== 0x1ff, `non-minimal encoding of ${value}`);
      }
      let decoded = BigInt(`0x${Buffer.from(contents).toString('hex')}`);
      if (contents[0]! & 0x80) decoded -= 1n << BigInt(8 * contents.length);
      assert.equal(decoded, value);
    }
  });
});

describe('OBJECT IDENTIFIER (X.690 §8.19)', () => {
  for (const [oid, expected] of [
    ['1.2.840.10045.4.3.2', '06082A8648CE3D040302'], // ecdsa-with-SHA256
    ['1.2.840.10045.2.1', '06072A8648CE3D0201'], // id-ecPublicKey
    ['1.2.840.113549.1.1.11', '06092A864886F70D01010B'], // sha256WithRSAEncryption
    ['2.5.4.3', '0603550403'], // commonName
    ['2.5.29.17', '0603551D11'], // subjectAltName
    ['1.3.6.1.5.5.7.3.1', '06082B06010505070301'], // serverAuth
    ['2.999.3', '0603883703'], // X.690 §8.19.5's example: the first subidentifier 1079 spans two octets
    ['0.0', '060100'],
    ['2.100', '06028134'], // under 2 the second arc may pass 39: 2 × 40 + 100 = 180
  ] as const) {
    it(`${oid} → ${expected}`, () => assert.equal(hex(objectIdentifier(oid)), expected));
  }

  it('an arc beyond 2^64 (a UUID OID, 2.25.…) is written in base 128 without loss', () => {
    const arc = (1n << 127n) + 12345n;
    const encoded = objectIdentifier(`2.25.${arc}`);
    // 2.25 → 2 × 40 + 25 = 105 = 0x69; then the arc in 7-bit groups.
    assert.equal(encoded[2], 0x69);
    let decoded = 0n;
    for (const byte of encoded.subarray(3)) decoded = (decoded << 7n) | BigInt(byte & 0x7f);
    assert.equal(decoded, arc);
    assert.equal(encoded[encoded.length - 1]! & 0x80, 0);
    assert.equal(encoded[3], 0x82); // 2^127 needs 19 groups; the first holds the top 1 bit: 0x80 | 0x02
  });

  for (const bad of ['', '1', '1.', '1..2', '3.1', '0.40', '1.40', '1.2.-3', 'a.b', '1.2 ']) {
    it(`rejects "${bad}"`, () => assert.throws(() => objectIdentifier(bad), usageError('ERR_DER_BAD_OID')));
  }
});

describe('BOOLEAN, NULL, strings', () => {
  it('BOOLEAN TRUE is 0xFF in DER (X.690 §11.1)', () => {
    assert.equal(hex(boolean(true)), '0101FF');
    assert.equal(hex(boolean(false)), '010100');
  });
  it('NULL', () => assert.equal(hex(nullValue()), '0500'));
  it('OCTET STRING, empty and not', () => {
    assert.equal(hex(octetString(new Uint8Array(0))), '0400');
    assert.equal(hex(octetString(bytesOf('7F000001'))), '04047F000001');
  });
  it('UTF8String is UTF-8', () => {
    assert.equal(hex(utf8String('localhost')), `0C09${Buffer.from('localhost').toString('hex').toUpperCase()}`);
    assert.equal(hex(utf8String('é')), '0C02C3A9');
    assert.equal(hex(utf8String('😀')), '0C04F09F9880');
    assert.throws(() => utf8String('\ud800'), usageError('ERR_DER_BAD_STRING'));
  });
  it('PrintableString takes its character set only', () => {
    assert.equal(hex(printableString("A z0 '()+,-./:=?")), `1310${Buffer.from("A z0 '()+,-./:=?").toString('hex').toUpperCase()}`);
    for (const bad of ['a@b', 'a*b', 'é', 'a_b']) assert.throws(() => printableString(bad), usageError('ERR_DER_BAD_STRING'));
  });
  it('IA5String takes 7-bit ASCII only', () => {
    assert.equal(hex(ia5String('a.b')), '1603612E62');
    assert.throws(() => ia5String('bücher.example'), usageError('ERR_DER_BAD_STRING'));
  });
});

describe('BIT STRING (X.690 §8.6, §11.2)', () => {
  it('whole octets have 0 unused bits', () => assert.equal(hex(bitString(bytesOf('0A3B'))), '0303000A3B'));
  it('empty', () => assert.equal(hex(bitString(new Uint8Array(0))), '030100'));
  it('unused bits must be zero in DER, 0–7, and 0 when empty', () => {
    assert.equal(hex(bitString(bytesOf('80'), 7)), '03020780');
    assert.throws(() => bitString(bytesOf('81'), 7), usageError('ERR_DER_BAD_BIT_STRING'));
    assert.throws(() => bitString(bytesOf('80'), 8), usageError('ERR_DER_BAD_BIT_STRING'));
    assert.throws(() => bitString(new Uint8Array(0), 1), usageError('ERR_DER_BAD_BIT_STRING'));
  });
  for (const [bits, expected] of [
    [[0], '03020780'], // KeyUsage digitalSignature, what openssl writes
    [[0, 2], '030205A0'], // digitalSignature + keyEncipherment
    [[5, 6], '03020106'], // keyCertSign + cRLSign
    [[7], '03020001'],
    [[8], '0303070080'], // decipherOnly: a second octet, 7 unused bits
    [[], '030100'],
  ] as const) {
    it(`named bits ${JSON.stringify(bits)} → ${expected} (trailing zero bits dropped)`, () => assert.equal(hex(namedBits(bits)), expected));
  }
});

describe('time (RFC 5280 §4.1.2.5)', () => {
  it('UTCTime through 2049, GeneralizedTime from 2050', () => {
    const last = new Date('2049-12-31T23:59:59Z');
    const first = new Date('2050-01-01T00:00:00Z');
    assert.equal(hex(x509Time(last)), `170D${Buffer.from('491231235959Z').toString('hex').toUpperCase()}`);
    assert.equal(hex(x509Time(first)), `180F${Buffer.from('20500101000000Z').toString('hex').toUpperCase()}`);
    assert.deepEqual(x509Time(last), utcTime(last));
    assert.deepEqual(x509Time(first), generalizedTime(first));
  });
  it('UTCTime from 1950; before that GeneralizedTime', () => {
    assert.equal(Buffer.from(x509Time(new Date('1950-01-01T00:00:00Z')).subarray(2)).toString(), '500101000000Z');
    assert.equal(Buffer.from(x509Time(new Date('1949-12-31T23:59:59Z')).subarray(2)).toString(), '19491231235959Z');
  });
  it('milliseconds are dropped (no fractional seconds), never rounded up', () => {
    assert.equal(Buffer.from(x509Time(new Date('2049-12-31T23:59:59.999Z')).subarray(2)).toString(), '491231235959Z');
    assert.equal(Buffer.from(generalizedTime(new Date('2026-02-03T04:05:06.789Z')).subarray(2)).toString(), '20260203040506Z');
  });
  it('rejects what cannot be written', () => {
    assert.throws(() => utcTime(new Date('2050-01-01T00:00:00Z')), usageError('ERR_DER_BAD_TIME'));
    assert.throws(() => utcTime(new Date('1949-12-31T23:59:59Z')), usageError('ERR_DER_BAD_TIME'));
    assert.throws(() => x509Time(new Date(Number.NaN)), usageError('ERR_DER_BAD_TIME'));
    assert.throws(() => generalizedTime(new Date('+010000-01-01T00:00:00Z')), usageError('ERR_DER_BAD_TIME'));
  });
});

describe('constructed and tagged', () => {
  it('SEQUENCE keeps order; empty is 30 00', () => {
    assert.equal(hex(sequence()), '3000');
    assert.equal(hex(sequence(integer(2n), boolean(true))), '3006020102' + '0101FF');
  });
  it('SET sorts by encoding (X.690 §11.6), whatever the order given', () => {
    const expected = '3109' + '0101FF' + '020102' + '020103';
    assert.equal(hex(set(integer(3n), boolean(true), integer(2n))), expected);
    assert.equal(hex(set(integer(2n), integer(3n), boolean(true))), expected);
  });
  it('EXPLICIT wraps the whole inner TLV in a constructed context tag', () => {
    assert.equal(hex(explicit(0, integer(2n))), 'A003020102'); // X.509 version v3
    assert.equal(hex(explicit(3, sequence())), 'A3023000');
    assert.equal(hex(explicit(1, nullValue(), DerClass.Application)), '61020500');
  });
  it('IMPLICIT swaps the identifier and keeps the constructed bit', () => {
    assert.equal(hex(implicit(2, ia5String('a'))), '820161'); // dNSName
    assert.equal(hex(implicit(7, octetString(bytesOf('7F000001')))), '87047F000001'); // iPAddress
    assert.equal(hex(implicit(0, sequence(nullValue()))), 'A0020500');
    assert.throws(() => implicit(0, concat([nullValue(), nullValue()])), usageError('ERR_DER_BAD_INNER'));
    assert.throws(() => implicit(0, Uint8Array.of(0x04, 0x05)), usageError('ERR_DER_BAD_INNER'));
  });
  it('tag numbers from 31 use the high-tag-number form (X.690 §8.1.2.4)', () => {
    assert.equal(hex(encodeIdentifier(DerClass.ContextSpecific, false, 30)), '9E');
    assert.equal(hex(encodeIdentifier(DerClass.ContextSpecific, false, 31)), '9F1F');
    assert.equal(hex(encodeIdentifier(DerClass.ContextSpecific, true, 127)), 'BF7F');
    assert.equal(hex(encodeIdentifier(DerClass.ContextSpecific, true, 128)), 'BF8100');
    assert.equal(hex(explicit(200, nullValue())), 'BF8148020500');
    assert.equal(hex(implicit(31, nullValue())), '9F1F00');
  });
});

// ── reader ──────────────────────────────────────────────────────────────────────────────────────────

/** Encodings the reader must take apart, from the encoder, each with what it should find. */
const samples: ReadonlyArray<{ name: string; bytes: Uint8Array; tag: number; tagNumber: number; constructed: boolean; tagClass: DerClass; contentsLength: number }> = [
  { name: 'NULL', bytes: nullValue(), tag: 0x05, tagNumber: 5, constructed: false, tagClass: DerClass.Universal, contentsLength: 0 },
  { name: 'INTEGER 128', bytes: integer(128n), tag: 0x02, tagNumber: 2, constructed: false, tagClass: DerClass.Universal, contentsLength: 2 },
  { name: 'OID', bytes: objectIdentifier('1.2.840.10045.4.3.2'), tag: 0x06, tagNumber: 6, constructed: false, tagClass: DerClass.Universal, contentsLength: 8 },
  { name: 'OCTET STRING of 127', bytes: octetString(new Uint8Array(127).fill(1)), tag: 0x04, tagNumber: 4, constructed: false, tagClass: DerClass.Universal, contentsLength: 127 },
  { name: 'OCTET STRING of 128', bytes: octetString(new Uint8Array(128).fill(2)), tag: 0x04, tagNumber: 4, constructed: false, tagClass: DerClass.Universal, contentsLength: 128 },
  { name: 'OCTET STRING of 256', bytes: octetString(new Uint8Array(256).fill(3)), tag: 0x04, tagNumber: 4, constructed: false, tagClass: DerClass.Universal, contentsLength: 256 },
  { name: 'SEQUENCE', bytes: sequence(integer(2n), sequence(objectIdentifier('2.5.4.3'), utf8String('localhost'))), tag: 0x30, tagNumber: 16, constructed: true, tagClass: DerClass.Universal, contentsLength: 21 },
  { name: '[3] EXPLICIT', bytes: explicit(3, sequence()), tag: 0xa3, tagNumber: 3, constructed: true, tagClass: DerClass.ContextSpecific, contentsLength: 2 },
  { name: '[7] IMPLICIT', bytes: implicit(7, octetString(bytesOf('7F000001'))), tag: 0x87, tagNumber: 7, constructed: false, tagClass: DerClass.ContextSpecific, contentsLength: 4 },
  { name: '[200] EXPLICIT', bytes: explicit(200, nullValue()), tag: 0xbf, tagNumber: 200, constructed: true, tagClass: DerClass.ContextSpecific, contentsLength: 2 },
];

/** Grows a buffer chunk by chunk, reading from its start after each; the verdict before the last chunk must be need-data. */
function readGrowing(chunks: readonly Uint8Array[]): DerRead {
  let seen: Uint8Array = new Uint8Array(0);
  let read: DerRead = { type: 'need-data' };
  for (let i = 0; i < chunks.length; i++) {
    seen = concat([seen, chunks[i]!]);
    read = readElement(seen);
    if (i < chunks.length - 1) assert.equal(read.type, 'need-data', `verdict before the last chunk: ${read.type}`);
  }
  return read;
}

function element(read: DerRead): DerElement {
  assert.equal(read.type, 'element', `expected an element, got ${JSON.stringify(read)}`);
  return (read as { element: DerElement }).element;
}

describe('readElement', () => {
  for (const sample of samples) {
    it(`${sample.name}: whole, grown at every split, and with trailing bytes left alone`, () => {
      for (const { label, chunks } of splits(sample.bytes)) {
        const found = element(readGrowing(chunks));
        assert.equal(found.tag, sample.tag, label);
        assert.equal(found.tagNumber, sample.tagNumber, label);
        assert.equal(found.constructed, sample.constructed, label);
        assert.equal(found.tagClass, sample.tagClass, label);
        assert.equal(found.end, sample.bytes.length, label);
        assert.equal(found.contents.length, sample.contentsLength, label);
        assert.deepEqual(found.contents, sample.bytes.subarray(sample.bytes.length - sample.contentsLength), label);
      }
      const junk = bytesOf('DEADBEEF');
      const withJunk = concat([sample.bytes, junk]);
      const found = element(readElement(withJunk));
      assert.equal(found.end, sample.bytes.length);
      assert.deepEqual(withJunk.subarray(found.end), junk);
    });
  }

  it('reads at an offset, and the contents are a view, not a copy', () => {
    const bytes = concat([nullValue(), octetString(bytesOf('0102'))]);
    const found = element(readElement(bytes, 2));
    assert.equal(found.start, 2);
    assert.equal(found.contentsStart, 4);
    assert.equal(found.contents.buffer, bytes.buffer);
    assert.equal(readElement(bytes, bytes.length).type, 'need-data');
  });

  it('a huge declared length is need-data, with nothing allocated for it', () => {
    assert.deepEqual(readElement(bytesOf('04 84 FF FF FF FF 00')), { type: 'need-data' });
  });

  for (const [name, input, code, at] of [
    ['the indefinite length', '30 80 00 00', DerReadErrorCode.IndefiniteLength, 1],
    ['a long form under 128', '04 81 05 0102030405', DerReadErrorCode.NonMinimalLength, 1],
    ['a long form with a leading zero octet', `04 82 0080 ${'00'.repeat(128)}`, DerReadErrorCode.NonMinimalLength, 1],
    ['a five-octet length', '04 85 0000000001 00', DerReadErrorCode.LengthTooLarge, 1],
    ['0xFF, the reserved length octet', '04 FF', DerReadErrorCode.LengthTooLarge, 1],
    ['a high tag number with a leading 0x80 group', '9F 80 1F 00', DerReadErrorCode.NonMinimalTag, 1],
    ['a high-tag form for a number under 31', '9F 1E 00', DerReadErrorCode.NonMinimalTag, 0],
    ['a tag number beyond 2^32', '9F 90 80 80 80 00 00', DerReadErrorCode.TagTooLarge, 5],
  ] as const) {
    it(`refuses ${name} (${code}), at every split the same`, () => {
      const bytes = bytesOf(input);
      for (const { label, chunks } of splits(bytes)) {
        let seen: Uint8Array = new Uint8Array(0);
        let read: DerRead = { type: 'need-data' };
        for (const chunk of chunks) {
          seen = concat([seen, chunk]);
          read = readElement(seen);
          if (read.type !== 'need-data') break;
        }
        assert.deepEqual(read, { type: 'error', code, at }, label);
      }
    });
  }
});

describe('readChildren', () => {
  it('walks a SEQUENCE in order', () => {
    const outer = element(readElement(sequence(integer(2n), nullValue(), explicit(0, boolean(true)))));
    const walked = readChildren(outer.contents);
    assert.equal(walked.type, 'children');
    if (walked.type !== 'children') return;
    assert.deepEqual(walked.children.map((child) => child.tag), [DerTag.Integer, DerTag.Null, 0xa0]);
    assert.deepEqual(walked.children[2]!.contents, boolean(true));
  });
  it('empty contents have no children', () => assert.deepEqual(readChildren(new Uint8Array(0)), { type: 'children', children: [] }));
  it('a child cut short is a truncated value, not need-data', () => {
    const cut = concat([nullValue(), integer(128n).subarray(0, 3)]);
    assert.deepEqual(readChildren(cut), { type: 'error', code: DerReadErrorCode.Truncated, at: 2 });
  });
  it('errors inside are passed on', () => {
    assert.deepEqual(readChildren(bytesOf('0500 3080')), { type: 'error', code: DerReadErrorCode.IndefiniteLength, at: 3 });
  });
  it('tlv() and encodeIdentifier() rebuild what readElement took apart', () => {
    for (const sample of samples) {
      const found = element(readElement(sample.bytes));
      assert.deepEqual(tlv(encodeIdentifier(found.tagClass, found.constructed, found.tagNumber), found.contents), sample.bytes);
    }
  });
});
