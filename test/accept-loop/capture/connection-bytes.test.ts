/**
 * The byte view's store: what a connection sent and received is kept byte for byte up to the limit, in
 * whatever chunks it came, counted past it, and its bookkeeping stays bounded however small the chunks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionBytes } from '../../../src/accept-loop/capture/connection-bytes.js';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('ConnectionBytes', () => {
  it('keeps both directions byte for byte, whatever the chunking, up to the limit, and counts the rest', () => {
    const sent = bytes(5_000, 1);
    const answered = bytes(300, 7);
    for (const size of [1, 3, 64, 1_000, 5_000]) {
      const store = new ConnectionBytes(4_096);
      for (let i = 0; i < sent.length; i += size) store.add('in', sent.subarray(i, i + size), 1_000 + i);
      for (let i = 0; i < answered.length; i += size) store.add('out', answered.subarray(i, i + size), 2_000 + i);
      assert.deepEqual(new Uint8Array(store.kept('in')), sent.subarray(0, 4_096), `chunks of ${size}`);
      assert.deepEqual(new Uint8Array(store.kept('out')), answered);
      assert.equal(store.total('in'), 5_000);
      assert.equal(store.keptBytes('in'), 4_096);
      assert.equal(store.timeOf('out', 0), 2_000);
    }
  });

  it('keeps a bounded number of chunk times, and later bytes get the last one kept', () => {
    const store = new ConnectionBytes(65_536);
    for (let i = 0; i < 10_000; i++) store.add('in', Uint8Array.of(i & 0xff), i);
    assert.equal(store.keptBytes('in'), 10_000);
    const chunks = store.chunks('in');
    assert.equal(chunks.length, 2_048);
    assert.deepEqual(chunks[5], [5, 5]);
    assert.equal(store.timeOf('in', 9_999), 2_047);
    assert.equal(store.kept('in')[9_999], 9_999 & 0xff);
  });

  it('keeps latin1 strings (how heads are written) byte for byte, mixed with Buffers, and cuts one at the limit', () => {
    const head = 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n';
    const latin = 'caf\u00e9 \u00ff\u0080';
    for (const limit of [10, head.length, head.length + 2, 4_096]) {
      const store = new ConnectionBytes(limit);
      store.add('out', head, 1);
      store.add('out', Uint8Array.of(0x6f, 0x6b, 0x0a), 2);
      store.add('out', latin, 3);
      const whole = Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from('ok\n'), Buffer.from(latin, 'latin1')]);
      assert.deepEqual(store.kept('out'), whole.subarray(0, limit), `limit ${limit}`);
      assert.equal(store.total('out'), whole.length);
      assert.deepEqual(store.chunks('out').map(([offset]) => offset), [0, head.length, head.length + 3].filter((offset) => offset < limit));
    }
  });
});
