import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/errors.js';
import { Opcode, encodeFrame } from '../../../src/protocols/websocket/frame-codec.js';
import { WebSocketProtocol, type WebSocketEvent } from '../../../src/protocols/websocket/protocol.js';
import { splits } from '../../helpers/split.js';
import { MASK, concat, frame, hex, pattern, run, splitPlan, summarize, toHex, utf8, type RawFrame } from './wire.js';

/** A frame as a client sends it (masked), for the server-side protocol under test. */
const c = (spec: RawFrame): Uint8Array => frame({ mask: MASK, ...spec });
const server = { role: 'server' } as const;
const TEXT = 1;
const BINARY = 2;
const CONT = 0;
const CLOSE = 8;
const PING = 9;
const PONG = 10;

const closePayload = (code: number, reason = ''): Uint8Array => concat(Uint8Array.of(code >> 8, code & 0xff), utf8(reason));

/** Runs the input all three ways (plus, for small inputs, byte by byte) and asserts one outcome. */
function assertAllWays(wire: Uint8Array, expected: unknown[], options: { role: 'server' | 'client'; maxMessageBytes?: number } = server): void {
  for (const { label, chunks } of splitPlan(wire)) {
    assert.deepEqual(summarize(run(chunks, options)), expected, label);
  }
}

describe('messages', () => {
  it('decodes the RFC §5.7 masked "Hello" every way, and the frame after it', () => {
    const wire = hex('81 85 37 fa 21 3d 7f 9f 4d 51 58');
    assertAllWays(wire, [{ type: 'text', text: 'Hello' }]);
    assertAllWays(concat(wire, c({ opcode: BINARY, payload: hex('01 02') })), [
      { type: 'text', text: 'Hello' },
      { type: 'binary', hex: '0102' },
    ]);
  });

  it('decodes the RFC §5.7 fragmented unmasked "Hello" as a client', () => {
    assertAllWays(hex('01 03 48 65 6c 80 02 6c 6f'), [{ type: 'text', text: 'Hello' }], { role: 'client' });
  });

  it('lets control frames interleave with fragments, delivering them at once', () => {
    const wire = concat(
      c({ fin: false, opcode: TEXT, payload: utf8('Hel') }),
      c({ opcode: PING, payload: utf8('p1') }),
      c({ fin: false, opcode: CONT, payload: utf8('l') }),
      c({ opcode: PONG }),
      c({ fin: false, opcode: CONT }),
      c({ opcode: CONT, payload: utf8('o') }),
    );
    assertAllWays(wire, [
      { type: 'ping', hex: toHex(utf8('p1')) },
      { type: 'pong', hex: '' },
      { type: 'text', text: 'Hello' },
    ]);
  });

  it('delivers pings before the fragmented message they interrupt is complete', () => {
    const protocol = new WebSocketProtocol(server);
    protocol.receive(concat(c({ fin: false, opcode: BINARY, payload: pattern(10) }), c({ opcode: PING, payload: utf8('?') })));
    assert.equal(protocol.next().type, 'ping');
    assert.equal(protocol.next().type, 'need-data');
  });

  it('accepts any number of fragments, including empty ones', () => {
    const parts: Uint8Array[] = [c({ fin: false, opcode: BINARY })];
    for (let i = 0; i < 2000; i++) parts.push(c({ fin: false, opcode: CONT, payload: Uint8Array.of(i & 0xff) }));
    parts.push(c({ opcode: CONT }));
    const events = run([concat(...parts)], server);
    assert.equal(events.length, 1);
    assert.ok(events[0]!.type === 'binary' && events[0]!.data.length === 2000 && events[0]!.data[1999] === (1999 & 0xff));
  });

  it('hands a single-frame message over without copying when it arrived in one chunk', () => {
    for (const size of [10, 70_000]) {
      const chunk = c({ opcode: BINARY, payload: pattern(size) });
      const protocol = new WebSocketProtocol(server);
      protocol.receive(chunk);
      const event = protocol.next();
      assert.ok(event.type === 'binary');
      assert.equal(event.data.buffer, chunk.buffer);
      assert.deepEqual(event.data, pattern(size));
    }
  });

  it('keeps a leading BOM in text (it is content, not a marker)', () => {
    assertAllWays(c({ opcode: TEXT, payload: hex('ef bb bf 41') }), [{ type: 'text', text: '\uFEFFA' }]);
  });

  it('delivers empty text and binary messages', () => {
    assertAllWays(concat(c({ opcode: TEXT }), c({ opcode: BINARY })), [
      { type: 'text', text: '' },
      { type: 'binary', hex: '' },
    ]);
  });
});

describe('fragmentation rules (§5.4)', () => {
  it('a continuation with no message in progress → 1002', () => {
    assertAllWays(c({ opcode: CONT, payload: utf8('x') }), [{ type: 'error', code: 'ERR_UNEXPECTED_CONTINUATION', closeCode: 1002 }]);
  });

  it('a new data frame in the middle of a fragmented message → 1002', () => {
    const wire = concat(c({ fin: false, opcode: TEXT, payload: utf8('a') }), c({ opcode: BINARY, payload: utf8('b') }));
    assertAllWays(wire, [{ type: 'error', code: 'ERR_EXPECTED_CONTINUATION', closeCode: 1002 }]);
  });

  it('a continuation after a finished message → 1002', () => {
    const wire = concat(c({ opcode: TEXT, payload: utf8('a') }), c({ opcode: CONT, payload: utf8('b') }));
    assertAllWays(wire, [
      { type: 'text', text: 'a' },
      { type: 'error', code: 'ERR_UNEXPECTED_CONTINUATION', closeCode: 1002 },
    ]);
  });
});

describe('text validation (§8.1)', () => {
  it('fails with 1007 on the bad byte, before the rest of the fragment arrives', () => {
    const payload = concat(utf8('abc'), hex('ff'), utf8('d'.repeat(1000)));
    const wire = c({ fin: false, opcode: TEXT, payload });
    const headerLength = 2 + 2 + 4;
    const protocol = new WebSocketProtocol(server);
    protocol.receive(wire.slice(0, headerLength + 3));
    assert.equal(protocol.next().type, 'need-data');
    protocol.receive(wire.slice(headerLength + 3, headerLength + 4)); // just the bad byte
    const event = protocol.next();
    assert.ok(event.type === 'error');
    assert.equal(event.error.code, 'ERR_INVALID_UTF8');
    assert.equal(event.error.closeCode, 1007);
    assert.match(event.error.message, /byte 3/);
  });

  it('fails in a later fragment on its first byte, before FIN', () => {
    const first = c({ fin: false, opcode: TEXT, payload: hex('41 ed') });
    const second = c({ fin: false, opcode: CONT, payload: hex('a0 80 42') });
    const events = run([first, second.subarray(0, 7)], server); // header + 1 payload byte
    assert.deepEqual(summarize(events), [{ type: 'error', code: 'ERR_INVALID_UTF8', closeCode: 1007 }]);
  });

  it('joins characters split across fragments, split every way', () => {
    const euro = hex('e2 82 ac');
    const wire = concat(
      c({ fin: false, opcode: TEXT, payload: concat(utf8('Hel'), euro.subarray(0, 2)) }),
      c({ opcode: PING }),
      c({ fin: false, opcode: CONT, payload: euro.subarray(2, 3) }),
      c({ opcode: CONT, payload: concat(hex('f0 9f'), hex('98 80')) }),
    );
    assertAllWays(wire, [{ type: 'ping', hex: '' }, { type: 'text', text: 'Hel€😀' }]);
  });

  const invalid: Array<[string, string]> = [
    ['overlong c0 af', 'c0 af'],
    ['surrogate ed a0 80', 'ed a0 80'],
    ['past U+10FFFF f4 90 80 80', 'f4 90 80 80'],
    ['κόσμε + surrogate', 'ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64'],
    ['truncated at the end of the message', '48 65 6c 6c 6f e2 82'],
    ['truncated in the last fragment', 'f0 9f 98'],
  ];
  for (const [name, bytes] of invalid) {
    it(`${name} → 1007, however it arrives`, () => {
      assertAllWays(c({ opcode: TEXT, payload: hex(bytes) }), [{ type: 'error', code: 'ERR_INVALID_UTF8', closeCode: 1007 }]);
      // The same bytes as one-byte fragments.
      const payload = hex(bytes);
      const parts = [...payload].map((byte, i) =>
        c({ fin: i === payload.length - 1, opcode: i === 0 ? TEXT : CONT, payload: Uint8Array.of(byte) }),
      );
      assert.deepEqual(summarize(run([concat(...parts)], server)), [{ type: 'error', code: 'ERR_INVALID_UTF8', closeCode: 1007 }]);
    });
  }

  it('binary messages are not validated', () => {
    assertAllWays(c({ opcode: BINARY, payload: hex('c0 af ff') }), [{ type: 'binary', hex: 'c0afff' }]);
  });
});

describe('the message size cap (inclusive)', () => {
  it('accepts a 16 MiB message exactly at the default limit, and 16 MiB + 1 is refused at the header', () => {
    const limit = 16 * 1024 * 1024;
    const payload = pattern(limit);
    const wire = encodeFrame({ opcode: Opcode.Binary, payload, mask: MASK })[0]!;
    for (const chunkSize of [limit + 14, 65536, 1_000_003]) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < wire.length; at += chunkSize) chunks.push(wire.subarray(at, at + chunkSize));
      const events = run(chunks, server);
      assert.equal(events.length, 1, `chunks of ${chunkSize}`);
      assert.ok(events[0]!.type === 'binary' && events[0]!.data.length === limit);
      assert.ok(Buffer.from(events[0]!.data).equals(payload));
    }
    // limit + 1: the 10 header bytes are enough; no mask, no payload needed.
    const over = hex('82 ff 00 00 00 00 01 00 00 01');
    for (const { label, chunks } of splits(over)) {
      assert.deepEqual(summarize(run(chunks, server)), [{ type: 'error', code: 'ERR_FRAME_TOO_BIG', closeCode: 1009 }], label);
    }
  });

  it('counts all fragments: exactly the limit passes, one more fails at the header of the fragment', () => {
    const options = { role: 'server', maxMessageBytes: 1000 } as const;
    const ok = concat(
      c({ fin: false, opcode: BINARY, payload: pattern(600) }),
      c({ opcode: PING, payload: pattern(100) }), // control frames do not count
      c({ opcode: CONT, payload: pattern(400) }),
    );
    assertAllWays(ok, [{ type: 'ping', hex: toHex(pattern(100)) }, { type: 'binary', hex: toHex(concat(pattern(600), pattern(400))) }], options);

    const first = c({ fin: false, opcode: BINARY, payload: pattern(600) });
    const tooMuch = c({ opcode: CONT, payload: pattern(401) });
    // Only the second header (2 + 2 + 4 bytes), none of its payload.
    const events = run([first, tooMuch.subarray(0, 8)], options);
    assert.deepEqual(summarize(events), [{ type: 'error', code: 'ERR_MESSAGE_TOO_BIG', closeCode: 1009 }]);
    // Without the mask key yet, the frame cap alone cannot decide; it waits.
    assert.deepEqual(run([first, tooMuch.subarray(0, 4)], options), []);
  });

  it('a single frame over the limit is refused before its masking key', () => {
    const options = { role: 'server', maxMessageBytes: 100 } as const;
    const events = run([c({ opcode: TEXT, payload: pattern(101) }).subarray(0, 2)], options);
    assert.deepEqual(summarize(events), [{ type: 'error', code: 'ERR_FRAME_TOO_BIG', closeCode: 1009 }]);
  });
});

describe('closing (§5.5.1, §7)', () => {
  it('reports an empty Close as 1005, and echoes with an empty Close', () => {
    assertAllWays(c({ opcode: CLOSE }), [{ type: 'close', code: 1005, reason: '' }]);
  });

  it('reports code and reason', () => {
    assertAllWays(c({ opcode: CLOSE, payload: closePayload(1000, 'bye ✓') }), [{ type: 'close', code: 1000, reason: 'bye ✓' }]);
  });

  it('a 1-byte Close payload → 1002', () => {
    assertAllWays(c({ opcode: CLOSE, payload: hex('03') }), [{ type: 'error', code: 'ERR_CLOSE_PAYLOAD_LENGTH', closeCode: 1002 }]);
  });

  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    it(`accepts close code ${code}`, () => {
      assert.deepEqual(summarize(run([c({ opcode: CLOSE, payload: closePayload(code) })], server)), [{ type: 'close', code, reason: '' }]);
    });
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    it(`refuses close code ${code} with 1002`, () => {
      assert.deepEqual(summarize(run([c({ opcode: CLOSE, payload: closePayload(code) })], server)), [
        { type: 'error', code: 'ERR_INVALID_CLOSE_CODE', closeCode: 1002 },
      ]);
    });
  }

  it('a close reason that is not UTF-8 → 1007', () => {
    const payload = concat(closePayload(1000), hex('ce ba ed a0 80'));
    assertAllWays(c({ opcode: CLOSE, payload }), [{ type: 'error', code: 'ERR_INVALID_CLOSE_REASON', closeCode: 1007 }]);
  });

  it('ignores everything after a received Close; the peer closing first makes us "closing" until we answer', () => {
    const protocol = new WebSocketProtocol(server);
    const wire = concat(c({ opcode: TEXT, payload: utf8('a') }), c({ opcode: CLOSE, payload: closePayload(1001) }), c({ opcode: TEXT, payload: utf8('late') }), hex('ff ff'));
    const events = run([wire], server, { protocol });
    assert.deepEqual(summarize(events), [
      { type: 'text', text: 'a' },
      { type: 'close', code: 1001, reason: '' },
    ]);
    protocol.receive(c({ opcode: TEXT, payload: utf8('later still') }));
    assert.equal(protocol.next().type, 'need-data');
    assert.equal(protocol.state, 'closing');
    assert.equal(protocol.closeInitiator, 'remote');
    assert.deepEqual(protocol.close(1001).map(toHex), ['880203e9']);
    assert.equal(protocol.state, 'closed');
    protocol.receiveEnd();
    assert.equal(protocol.next().type, 'need-data');
  });

  it('closing first: still delivers what the peer sends until its Close, then "closed"', () => {
    const protocol = new WebSocketProtocol(server);
    assert.equal(protocol.state, 'open');
    assert.deepEqual(protocol.close(1000, 'bye').map(toHex), ['880503e8627965']);
    assert.equal(protocol.state, 'closing');
    assert.equal(protocol.closeInitiator, 'local');
    const events = run([concat(c({ opcode: TEXT, payload: utf8('in flight') }), c({ opcode: CLOSE, payload: closePayload(1000) }))], server, { protocol });
    assert.deepEqual(summarize(events), [
      { type: 'text', text: 'in flight' },
      { type: 'close', code: 1000, reason: '' },
    ]);
    assert.equal(protocol.state, 'closed');
    assert.equal(protocol.closeInitiator, 'local');
  });

  it('close() without a code sends an empty payload', () => {
    assert.deepEqual(new WebSocketProtocol(server).close().map(toHex), ['8800']);
  });

  it('the stream ending without a Close → 1006, whether between frames or inside one', () => {
    for (const wire of [c({ opcode: TEXT, payload: utf8('a') }), c({ opcode: TEXT, payload: utf8('abc') }).subarray(0, 7), new Uint8Array(0)]) {
      const protocol = new WebSocketProtocol(server);
      const events = run([wire], server, { protocol, end: true });
      assert.deepEqual(summarize(events.filter((e) => e.type === 'error')), [{ type: 'error', code: 'ERR_CONNECTION_LOST', closeCode: 1006 }]);
      assert.equal(protocol.state, 'closed');
    }
  });

  it('refuses local misuse with UsageError', () => {
    const protocol = new WebSocketProtocol(server);
    for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000]) assert.throws(() => protocol.close(code), UsageError, `code ${code}`);
    assert.throws(() => protocol.close(undefined, 'reason without code'), UsageError);
    assert.throws(() => protocol.close(1000, 'x'.repeat(124)), UsageError);
    assert.throws(() => protocol.close(1000, 'é'.repeat(62)), UsageError); // 124 bytes
    assert.throws(() => protocol.ping(new Uint8Array(126)), UsageError);
    assert.throws(() => protocol.pong(new Uint8Array(126)), UsageError);
    assert.doesNotThrow(() => protocol.close(1000, 'x'.repeat(123)));
    assert.equal(protocol.state, 'closing');
    assert.throws(() => protocol.sendText('after close'), UsageError);
    assert.throws(() => protocol.ping(), UsageError);
    assert.throws(() => protocol.close(), UsageError);
  });
});

describe('errors are sticky', () => {
  it('returns the same error forever and ignores later bytes', () => {
    const protocol = new WebSocketProtocol(server);
    protocol.receive(hex('81 01 41')); // unmasked, to a server
    const error = protocol.next();
    assert.equal(error.type, 'error');
    protocol.receive(c({ opcode: TEXT, payload: utf8('ok') }));
    assert.equal(protocol.next(), error);
    protocol.receiveEnd();
    assert.equal(protocol.next(), error);
    // The application can still send the Close the error asks for.
    assert.ok(error.type === 'error');
    assert.deepEqual(protocol.close(error.error.closeCode).map(toHex), ['880203ea']);
  });
});

describe('encoders', () => {
  it('a server sends unmasked frames; large binary payloads go out as [header, payload] without a copy', () => {
    const protocol = new WebSocketProtocol(server);
    assert.deepEqual(protocol.sendText('Hello').map(toHex), ['810548656c6c6f']);
    assert.deepEqual(protocol.ping(utf8('Hello')).map(toHex), ['890548656c6c6f']);
    assert.deepEqual(protocol.pong().map(toHex), ['8a00']);
    const data = pattern(65536);
    const frames = protocol.sendBinary(data);
    assert.equal(frames.length, 2);
    assert.equal(toHex(frames[0]!), '827f0000000000010000');
    assert.equal(frames[1], data);
  });

  it('a client masks every frame with the injected key source', () => {
    const protocol = new WebSocketProtocol({ role: 'client', randomMask: () => MASK });
    assert.deepEqual(protocol.sendText('Hello').map(toHex), ['818537fa213d7f9f4d5158']);
    assert.deepEqual(protocol.pong(utf8('Hello')).map(toHex), ['8a8537fa213d7f9f4d5158']);
    const data = pattern(70_000);
    const frames = protocol.sendBinary(data);
    assert.equal(frames.length, 1, 'a masked payload is copied once, into the frame');
    assert.deepEqual(data, pattern(70_000), 'the caller payload is not masked in place');
  });

  it('a client receiving a masked frame fails with 1002', () => {
    assert.deepEqual(summarize(run([hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')], { role: 'client' })), [
      { type: 'error', code: 'ERR_MASKED_FRAME', closeCode: 1002 },
    ]);
  });

  it('sendFragment produces the RFC fragmented example and enforces message boundaries', () => {
    const protocol = new WebSocketProtocol(server);
    assert.deepEqual(protocol.sendFragment('text', utf8('Hel'), false).map(toHex), ['010348656c']);
    assert.throws(() => protocol.sendText('interleaved'), UsageError);
    assert.throws(() => protocol.sendFragment('binary', utf8('x'), false), UsageError);
    assert.deepEqual(protocol.ping().map(toHex), ['8900']); // control frames may interleave
    assert.deepEqual(protocol.sendFragment('text', utf8('lo'), true).map(toHex), ['80026c6f']);
    assert.deepEqual(protocol.sendText('next').length, 1);
    // A character may be split between fragments, but the whole must be UTF-8.
    protocol.sendFragment('text', hex('e2 82'), false);
    assert.doesNotThrow(() => protocol.sendFragment('text', hex('ac'), true));
    protocol.sendFragment('text', hex('e2 82'), false);
    assert.throws(() => protocol.sendFragment('text', hex('41'), true), UsageError);
  });
});

describe('round trips between a client and a server protocol', () => {
  const sizes = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20];
  for (const size of sizes) {
    it(`${size}-byte text and binary messages, both directions`, () => {
      const client = new WebSocketProtocol({ role: 'client', randomMask: () => MASK });
      const serverSide = new WebSocketProtocol({ role: 'server' });
      const text = 'ab€😀'.repeat(Math.ceil(size / 9)).slice(0, size);
      const binary = pattern(size);
      const fromClient = [...client.sendText(text), ...client.sendBinary(binary)].map((b) => Uint8Array.from(b));
      const received: WebSocketEvent[] = [];
      for (const chunk of fromClient) {
        serverSide.receive(chunk);
        for (let e = serverSide.next(); e.type !== 'need-data'; e = serverSide.next()) received.push(e);
      }
      assert.equal(received.length, 2);
      assert.ok(received[0]!.type === 'text' && received[0]!.text === text);
      assert.ok(received[1]!.type === 'binary' && Buffer.from(received[1]!.data).equals(binary));

      const fromServer = [...serverSide.sendBinary(binary), ...serverSide.close(1000)].map((b) => Uint8Array.from(b));
      const back = run([concat(...fromServer)], { role: 'client' }, { protocol: client });
      assert.equal(back.length, 2);
      assert.ok(back[0]!.type === 'binary' && Buffer.from(back[0]!.data).equals(binary));
      assert.deepEqual(back[1], { type: 'close', code: 1000, reason: '' });
    });
  }
});

describe('chunking never changes the verdict (seeded fuzz)', () => {
  it('mutated valid streams give the same events whole, byte by byte and in random splits, and never throw', () => {
    let seed = 0x5eed;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const base = concat(
      c({ fin: false, opcode: TEXT, payload: utf8('héllo ') }),
      c({ opcode: PING, payload: utf8('p') }),
      c({ opcode: CONT, payload: utf8('wörld €') }),
      c({ opcode: BINARY, payload: pattern(300) }),
      c({ opcode: CLOSE, payload: closePayload(1000, 'done') }),
    );
    for (let round = 0; round < 300; round++) {
      const wire = Uint8Array.from(base);
      for (let flips = 1 + random(3); flips > 0; flips--) wire[random(wire.length)] = random(256);
      const options = { role: 'server', maxMessageBytes: 200 + random(400) } as const;
      const expected = summarize(run([wire], options, { end: true }));
      const bytewise = [...wire].map((b) => Uint8Array.of(b));
      assert.deepEqual(summarize(run(bytewise, options, { end: true })), expected, `round ${round} byte by byte`);
      const cuts = [0, random(wire.length), random(wire.length), random(wire.length), wire.length].sort((a, b) => a - b);
      const pieces = cuts.slice(1).map((end, i) => wire.subarray(cuts[i]!, end));
      assert.deepEqual(summarize(run(pieces, options, { end: true })), expected, `round ${round} cuts ${cuts.join(',')}`);
    }
  });
});
