/**
 * The soak's checksummed records (bench/soak-records.ts): the soak's "zero lost, reordered or corrupted"
 * is only as good as these checks, so they are tested like any other parser.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, encodeRecord, encodeText, RecordReader, verifyRecord, verifyText } from '../../bench/soak-records.js';

describe('soak records', () => {
  it('crc32 is the IEEE CRC-32 (check value of "123456789")', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });

  it('a record cut into any pieces comes back whole and verified, in order', () => {
    const stream = Buffer.concat([encodeRecord(0, 0), encodeRecord(1, 300), encodeRecord(2, 5)]);
    for (const size of [1, 7, 64, stream.length]) {
      const reader = new RecordReader(1024);
      const seqs: number[] = [];
      for (let at = 0; at < stream.length; at += size) {
        for (const verdict of reader.push(stream.subarray(at, at + size))) {
          assert.equal(verdict.kind, 'ok');
          if (verdict.kind === 'ok') seqs.push(verdict.seq);
        }
      }
      assert.deepEqual(seqs, [0, 1, 2], `pieces of ${size}`);
      assert.equal(reader.buffered, 0);
    }
  });

  it('a flipped bit, a wrong length and an oversized length field are caught', () => {
    const record = encodeRecord(7, 40);
    for (let bit = 0; bit < record.length * 8; bit += 13) {
      const broken = Buffer.from(record);
      broken[bit >> 3]! ^= 1 << (bit & 7);
      const verdicts = new RecordReader(1024).push(broken);
      assert.ok(verdicts.length === 0 || verdicts.some((v) => v.kind === 'corrupt'), `bit ${bit} flipped went unnoticed`);
    }
    assert.equal(verifyRecord(record.subarray(0, 30)).kind, 'corrupt');
    assert.equal(new RecordReader(16).push(record)[0]!.kind, 'corrupt');
  });

  it('text records carry their number and catch a changed character', () => {
    const text = encodeText(12, 50);
    assert.deepEqual(verifyText(text), { kind: 'ok', seq: 12 });
    assert.equal(verifyText(text.slice(0, -1) + (text.endsWith('A') ? 'B' : 'A')).kind, 'corrupt');
    assert.equal(verifyText('no fields').kind, 'corrupt');
  });
});
