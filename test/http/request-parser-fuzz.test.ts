/**
 * Verdicts must not depend on chunking: random mutations of valid requests (seeded, so failures replay),
 * each fed whole, byte by byte, and in random pieces, must give the same requests, bodies and error — and
 * never throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesOf, run } from './drive.js';

/** mulberry32: a tiny deterministic PRNG. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const limits = { requestLineBytes: 48, headerBytes: 96, bodyBytes: 40, chunkLineBytes: 16 };

const bases = [
  'GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789',
  'PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\n',
  '\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET http://h:80/x HTTP/1.1\r\nHost: h\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n',
  'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nExpect: 100-continue\r\n\r\n',
];

const interesting = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x2c, 0x30, 0x66, 0x3b, 0x22, 0x00, 0xff, 0x61, 0x2f, 0x3f];

function mutate(input: Uint8Array, random: () => number): Uint8Array {
  let bytes = Array.from(input);
  const edits = 1 + Math.floor(random() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * (bytes.length + 1));
    const byte = interesting[Math.floor(random() * interesting.length)]!;
    const kind = random();
    if (kind < 0.4) bytes.splice(at, 0, byte);
    else if (kind < 0.7) bytes[Math.min(at, bytes.length - 1)] = byte;
    else if (kind < 0.9) bytes.splice(at, 1);
    else bytes.splice(at, 0, ...new Array<number>(Math.floor(random() * 60)).fill(0x61));
  }
  bytes = bytes.filter((b) => b !== undefined);
  return Uint8Array.from(bytes);
}

function randomPieces(bytes: Uint8Array, random: () => number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = 1 + Math.floor(random() * 12);
    pieces.push(bytes.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

describe('RequestParser: same verdict however the bytes are chunked (seeded fuzz)', () => {
  for (const end of [false, true]) {
    it(`1500 mutated requests${end ? ', then end of input' : ''}`, () => {
      const random = prng(end ? 2 : 1);
      let errors = 0;
      for (let i = 0; i < 1500; i++) {
        const base = bytesOf(bases[i % bases.length]!);
        const input = mutate(base, random);
        const whole = run([input], { limits, end });
        if (whole.error) errors++;
        const ways: Array<[string, Uint8Array[]]> = [
          ['byte by byte', Array.from(input, (_, k) => input.subarray(k, k + 1))],
          ['random pieces', randomPieces(input, random)],
          ['random pieces again', randomPieces(input, random)],
        ];
        for (const [label, chunks] of ways) {
          assert.deepEqual(run(chunks, { limits, end }), whole, `${label}: ${JSON.stringify(Buffer.from(input).toString('latin1'))}`);
        }
      }
      // The mutations should reach many error paths, not just produce valid requests.
      assert.ok(errors > 300, `only ${errors} errors`);
    });
  }

  it('random bytes never throw and get the same verdict byte by byte', () => {
    const random = prng(3);
    for (let i = 0; i < 500; i++) {
      const prefix = bytesOf(bases[i % bases.length]!.slice(0, Math.floor(random() * 40)));
      const noise = Array.from({ length: Math.floor(random() * 80) }, () =>
        random() < 0.5 ? interesting[Math.floor(random() * interesting.length)]! : Math.floor(random() * 256));
      const input = Uint8Array.from([...prefix, ...noise]);
      for (const end of [false, true]) {
        const whole = run([input], { limits, end });
        assert.deepEqual(run(Array.from(input, (_, k) => input.subarray(k, k + 1)), { limits, end }), whole);
      }
    }
  });
});
