/**
 * Autobahn section 13, "WebSocket Compression (different parameters)": the JSON payload of 12.1 in
 * Autobahn's 18 message sizes (16 B to 128 KiB, the large ones also in compressed fragments of 256 B to
 * 32 KiB), under each of Autobahn's client offers. Autobahn's offers are PerMessageDeflateOffer(
 * requestNoContextTakeover, requestMaxWindowBits): every one carries `client_no_context_takeover;
 * client_max_window_bits` (the client accepts both limits) and adds `server_no_context_takeover` and
 * `server_max_window_bits=N` as asked:
 *
 *   13.1 default; 13.2 server_no_context_takeover; 13.3 server_max_window_bits=8; 13.4 =15;
 *   13.5 server_no_context_takeover + =8; 13.6 server_no_context_takeover + =15;
 *   13.7 three offers in one header, 13.5's, 13.2's, 13.1's, in that order of preference.
 *
 * Where our server deliberately differs from what Autobahn expects: Autobahn expects a server to accept
 * server_max_window_bits=8. Ours declines any offer that demands it (RFC 7692 §7.1.2.1: "A server
 * declines an extension negotiation offer with this parameter if the server doesn't support it"; §7:
 * it MUST decline a configuration it does not support): zlib's raw deflate cannot compress within an
 * 8-bit window (asked for 8 it silently uses 9, whose matches may reach 512 bytes back, past what the
 * client's 8-bit inflater holds). So 13.3 and 13.5 assert OUR behaviour, no extension: every message
 * then goes both ways uncompressed; and 13.7 gets its second offer (13.2's), the first acceptable one
 * in the client's order of preference (§5.1).
 *
 * Then, beyond Autobahn: window sizes 8, 9 and 15 each way, offers in separate header lines, unknown
 * extensions beside ours, quoted values (RFC 6455 §9.1), offers the server must decline (unknown,
 * duplicate or malformed parameters: §7), and frames the server must refuse: RSV1 on a continuation or
 * control frame or without the extension (1002), RSV2/RSV3 (1002), data that is not a DEFLATE stream or
 * reaches into a context that was reset (1007), a compressed text message that inflates to invalid UTF-8
 * (1007), and a message that inflates past the message limit (1009).
 */
import { describe, it } from 'node:test';
import { CLEAN_NORMAL, OP, binary, buildFrame, failedWith, labFixture, pong, runCase, text, type Peer } from './peer.js';
import { CORPORA, MESSAGE_SIZES, assertCompressedFromThreshold, messageCount, sendOneByOne, walk } from './compression-corpus.js';

const JSON_DATA = CORPORA[0]!.data;
const THRESHOLD = 64;

/** Autobahn's PerMessageDeflateOffer(requestNoContextTakeover, requestMaxWindowBits).get_extension_string(). */
function autobahnOffer(serverNoContextTakeover: boolean, serverMaxWindowBits: number): string {
  return 'permessage-deflate; client_no_context_takeover; client_max_window_bits' +
    (serverNoContextTakeover ? '; server_no_context_takeover' : '') +
    (serverMaxWindowBits !== 0 ? `; server_max_window_bits=${serverMaxWindowBits}` : '');
}

/** The answers of our default policy: a 12-bit server window unasked, 12 bits asked of the client. */
const KEEP_CONTEXT = 'permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12';
const RESET_BOTH = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12';

const AUTOBAHN_13: ReadonlyArray<{ id: string; what: string; offer: string; agreed: string | null }> = [
  { id: '13.1', what: 'the default offer', offer: autobahnOffer(false, 0), agreed: KEEP_CONTEXT },
  { id: '13.2', what: 'server_no_context_takeover', offer: autobahnOffer(true, 0), agreed: RESET_BOTH },
  // Declined (see the file comment): Autobahn expects server_max_window_bits=8 accepted.
  { id: '13.3', what: 'server_max_window_bits=8, declined: no extension', offer: autobahnOffer(false, 8), agreed: null },
  { id: '13.4', what: 'server_max_window_bits=15, answered with 12', offer: autobahnOffer(false, 15), agreed: KEEP_CONTEXT },
  // Declined (see the file comment): Autobahn expects it accepted with server_max_window_bits=8.
  { id: '13.5', what: 'server_no_context_takeover and server_max_window_bits=8, declined: no extension', offer: autobahnOffer(true, 8), agreed: null },
  { id: '13.6', what: 'server_no_context_takeover and server_max_window_bits=15', offer: autobahnOffer(true, 15), agreed: RESET_BOTH },
  // Autobahn expects the first offer accepted; ours declines it (window 8) and takes the second, 13.2's.
  { id: '13.7', what: '3 offers, the first (window 8) declined, the second taken', offer: [autobahnOffer(true, 8), autobahnOffer(true, 0), autobahnOffer(false, 0)].join(', '), agreed: RESET_BOTH },
];

describe('Autobahn 13: permessage-deflate with different parameters', () => {
  const lab = labFixture();
  AUTOBAHN_13.forEach(({ id: group, what, offer, agreed }) => {
    MESSAGE_SIZES.forEach(([length, fragmentSize], s) => {
      const id = `${group}.${s + 1}`;
      const count = messageCount(length);
      const framing = fragmentSize === 0 ? '' : `, in ${fragmentSize}-byte frames`;
      it(`${id} ${what}: ${count} messages of ${length} B${framing} echoed byte for byte`, () => {
        const messages = walk(JSON_DATA, length, count, s * 7919);
        return runCase(lab.port, {
          id,
          extensions: [offer],
          agreed,
          run: async (peer) => {
            await sendOneByOne(peer, OP.TEXT, messages, { fragmentSize });
            assertCompressedFromThreshold(peer, THRESHOLD, id);
          },
          expect: messages.map((message) => text(message)),
          close: CLEAN_NORMAL,
        });
      });
    });
  });
});

/** Three messages of each Autobahn size, 16 B to 128 KiB, cut from the JSON payload. */
const ALL_SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072].flatMap((length, n) => walk(JSON_DATA, length, 3, n * 10_007));

describe('beyond Autobahn 13: window sizes 8, 9 and 15 each way, and how offers are written', () => {
  const lab = labFixture();
  const variants: ReadonlyArray<{ name: string; offers: string[]; agreed: string; compress?: (message: Buffer) => boolean }> = [
    { name: 'a bare offer: 12 bits unasked, the client keeps 15 bits and its context', offers: ['permessage-deflate'], agreed: 'permessage-deflate; server_max_window_bits=12' },
    { name: 'server_max_window_bits=9', offers: ['permessage-deflate; server_max_window_bits=9'], agreed: 'permessage-deflate; server_max_window_bits=9' },
    { name: 'server_max_window_bits=15 with no client parameter', offers: ['permessage-deflate; server_max_window_bits=15'], agreed: 'permessage-deflate; server_max_window_bits=12' },
    { name: 'server_no_context_takeover and server_max_window_bits=10', offers: ['permessage-deflate; server_no_context_takeover; server_max_window_bits=10'], agreed: 'permessage-deflate; server_no_context_takeover; server_max_window_bits=10' },
    { name: 'client_max_window_bits=9 (a value: the server may only go lower, §7.1.2.2)', offers: ['permessage-deflate; client_max_window_bits=9'], agreed: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=9' },
    { name: 'client_max_window_bits=15, answered with 12', offers: ['permessage-deflate; client_max_window_bits=15'], agreed: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12' },
    {
      // zlib cannot compress within 8 bits, so the peer compresses only messages of at most 256 bytes
      // (matches within them stay under 256 bytes back) and sends the rest uncompressed (§6: per message).
      name: 'client_max_window_bits=8: the server inflates a client\'s 8-bit window',
      offers: ['permessage-deflate; client_max_window_bits=8'],
      agreed: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=8',
      compress: (message) => message.length <= 256,
    },
    { name: 'client_no_context_takeover alone', offers: ['permessage-deflate; client_no_context_takeover'], agreed: 'permessage-deflate; client_no_context_takeover; server_max_window_bits=12' },
    { name: 'two offers in one line, the first (window 8) declined', offers: ['permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9'], agreed: 'permessage-deflate; server_max_window_bits=9' },
    { name: 'two offers in two header lines, the first (window 8) declined', offers: ['permessage-deflate; server_max_window_bits=8', 'permessage-deflate; client_max_window_bits'], agreed: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12' },
    { name: 'an unknown extension offered first is passed over', offers: ['x-webkit-deflate-frame, permessage-deflate; client_max_window_bits'], agreed: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12' },
    { name: 'a quoted value (RFC 6455 §9.1: a token once unquoted)', offers: ['permessage-deflate; server_max_window_bits="10"'], agreed: 'permessage-deflate; server_max_window_bits=10' },
    { name: 'empty list elements around the offer (RFC 9110 §5.6.1: ignored)', offers: [', permessage-deflate; server_max_window_bits=9 ,'], agreed: 'permessage-deflate; server_max_window_bits=9' },
  ];
  variants.forEach(({ name, offers, agreed, compress }, v) => {
    const id = `13.x.${v + 1}`;
    it(`${id} ${name}: 30 messages of 16 B to 128 KiB echoed byte for byte`, () => runCase(lab.port, {
      id,
      extensions: offers,
      agreed,
      run: async (peer) => {
        await sendOneByOne(peer, OP.TEXT, ALL_SIZES, compress === undefined ? {} : { compress });
        assertCompressedFromThreshold(peer, THRESHOLD, id);
      },
      expect: ALL_SIZES.map((message) => text(message)),
      close: CLEAN_NORMAL,
    }));
  });

  describe('a server allowed 15 bits', () => {
    const wideLab = labFixture({ limits: { webSocketDeflateWindowBits: 15, webSocketDeflateClientWindowBits: 15 } });
    it('13.x.w a bare offer is answered bare (§7.1.2: 15 bits each way need no parameter), both contexts kept', () => runCase(wideLab.port, {
      id: '13.x.w',
      extensions: ['permessage-deflate'],
      agreed: 'permessage-deflate',
      run: async (peer) => {
        await sendOneByOne(peer, OP.TEXT, ALL_SIZES, { fragmentSize: 4096 });
        assertCompressedFromThreshold(peer, THRESHOLD, '13.x.w');
      },
      expect: ALL_SIZES.map((message) => text(message)),
      close: CLEAN_NORMAL,
    }));
    it('13.x.w1 server_max_window_bits=15 is answered with it (§7.1.2.1: an accepted offer\'s window is confirmed)', () => runCase(wideLab.port, {
      id: '13.x.w1',
      extensions: ['permessage-deflate; server_max_window_bits=15'],
      agreed: 'permessage-deflate; server_max_window_bits=15',
      run: (peer) => sendOneByOne(peer, OP.BINARY, ALL_SIZES.slice(0, 12)),
      expect: ALL_SIZES.slice(0, 12).map((message) => binary(message)),
      close: CLEAN_NORMAL,
    }));
    it('13.x.w2 client_max_window_bits without a value is answered with no client parameter at 15 bits', () => runCase(wideLab.port, {
      id: '13.x.w2',
      extensions: ['permessage-deflate; client_max_window_bits'],
      agreed: 'permessage-deflate',
      run: (peer) => sendOneByOne(peer, OP.TEXT, ALL_SIZES.slice(0, 12)),
      expect: ALL_SIZES.slice(0, 12).map((message) => text(message)),
      close: CLEAN_NORMAL,
    }));
  });
});

/** After an offer is declined: messages go both ways uncompressed, and RSV1 is a reserved bit again (1002). */
function runsUncompressedThenRefusesRsv1(id: string) {
  return async (peer: Peer): Promise<void> => {
    await sendOneByOne(peer, OP.TEXT, [Buffer.from('x'.repeat(1000))]);
    assertCompressedFromThreshold(peer, THRESHOLD, id);
    peer.sendFrame({ opcode: OP.TEXT, payload: Buffer.from('f248cdc9c90700', 'hex'), rsv: 4 });
    peer.sendFrame({ opcode: OP.PING, payload: 'after' });
  };
}

describe('offers the server must decline (RFC 7692 §7: "MUST decline" what it does not understand)', () => {
  const lab = labFixture();
  const declined: ReadonlyArray<[string, string]> = [
    ['an unknown parameter', 'permessage-deflate; foo'],
    ['an unknown parameter with a value', 'permessage-deflate; max_message_size=100'],
    ['a duplicate parameter', 'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10'],
    ['a duplicate flag', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover'],
    ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16'],
    ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7'],
    ['server_max_window_bits=08 (a leading zero)', 'permessage-deflate; server_max_window_bits=08'],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
    ['client_max_window_bits=16', 'permessage-deflate; client_max_window_bits=16'],
    ['server_no_context_takeover with a value', 'permessage-deflate; server_no_context_takeover=1'],
    ['client_no_context_takeover with a value', 'permessage-deflate; client_no_context_takeover=true'],
    ['server_max_window_bits=8 (zlib cannot compress within it)', 'permessage-deflate; server_max_window_bits=8'],
    ['only an extension we do not speak', 'x-webkit-deflate-frame'],
  ];
  declined.forEach(([what, offer], d) => {
    const id = `13.x.d${d + 1}`;
    it(`${id} ${what}: no Sec-WebSocket-Extensions, messages uncompressed, RSV1 then fails with 1002`, () => runCase(lab.port, {
      id, extensions: [offer], agreed: null,
      run: runsUncompressedThenRefusesRsv1(id),
      expect: [text('x'.repeat(1000))], close: failedWith(1002),
    }));
  });
  it('13.x.d a declined offer followed by a good one: the good one is taken (§5.1)', () => runCase(lab.port, {
    id: '13.x.d-next',
    extensions: ['permessage-deflate; foo, permessage-deflate; client_max_window_bits'],
    agreed: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
    run: async (peer) => {
      await sendOneByOne(peer, OP.TEXT, ALL_SIZES.slice(0, 9));
      assertCompressedFromThreshold(peer, THRESHOLD, '13.x.d-next');
    },
    expect: ALL_SIZES.slice(0, 9).map((message) => text(message)), close: CLEAN_NORMAL,
  }));
  it('13.x.n no offer at all: no Sec-WebSocket-Extensions, and RSV1 fails with 1002 (RFC 6455 §5.2)', () => runCase(lab.port, {
    id: '13.x.n', agreed: null, run: runsUncompressedThenRefusesRsv1('13.x.n'), expect: [text('x'.repeat(1000))], close: failedWith(1002),
  }));
  describe('an endpoint with the extension off (webSocketDeflateWindowBits 0)', () => {
    const offLab = labFixture({ limits: { webSocketDeflateWindowBits: 0 } });
    it('13.x.off Autobahn\'s default offer is declined, and RSV1 fails with 1002', () => runCase(offLab.port, {
      id: '13.x.off', extensions: [autobahnOffer(false, 0)], agreed: null,
      run: runsUncompressedThenRefusesRsv1('13.x.off'), expect: [text('x'.repeat(1000))], close: failedWith(1002),
    }));
  });
});

describe('frames the server must refuse once permessage-deflate is agreed', () => {
  const lab = labFixture();
  const HELLO = Buffer.from('f248cdc9c90700', 'hex'); // "Hello", RFC 7692 §7.2.3.1
  const deflateCase = (id: string, run: (peer: Peer) => void | Promise<void>, code: number, expect = [text('Hello')]) => runCase(lab.port, {
    id, extensions: ['permessage-deflate'], agreed: 'permessage-deflate; server_max_window_bits=12',
    run: async (peer) => {
      peer.sendFrame({ opcode: OP.TEXT, payload: HELLO, rsv: 4 }); // a good compressed message first
      await run(peer);
      peer.sendFrame({ opcode: OP.PING, payload: 'after' }); // never answered: the connection has failed
    },
    expect, close: failedWith(code),
  });

  // RFC 7692 §6.1: the Per-Message Compressed bit is set on the first frame of a message only, and "An
  // endpoint MUST NOT set the "Per-Message Compressed" bit of control frames and non-first fragments".
  it('RSV1 on the continuation of a compressed message: 1002', () => deflateCase('13.x.r1', (peer) => {
    peer.sendFrame({ opcode: OP.TEXT, payload: HELLO.subarray(0, 3), rsv: 4, fin: false });
    peer.sendFrame({ opcode: OP.CONT, payload: HELLO.subarray(3), rsv: 4 });
  }, 1002));
  it('RSV1 on the continuation of an uncompressed message: 1002', () => deflateCase('13.x.r2', (peer) => {
    peer.sendFrame({ opcode: OP.TEXT, payload: 'Hel', fin: false });
    peer.sendFrame({ opcode: OP.CONT, payload: HELLO, rsv: 4 });
  }, 1002));
  for (const [name, opcode, payload] of [['ping', OP.PING, 'ping'], ['pong', OP.PONG, 'pong'], ['close', OP.CLOSE, Buffer.from([0x03, 0xe8])]] as const) {
    it(`RSV1 on a ${name}: 1002${name === 'ping' ? ', and no pong' : ''}`, () => deflateCase(`13.x.r-${name}`, (peer) => {
      peer.sendFrame({ opcode, payload, rsv: 4 });
    }, 1002));
  }
  it('RSV1 on a ping between the fragments of a compressed message: 1002', () => deflateCase('13.x.r-ping-mid', (peer) => {
    peer.sendFrame({ opcode: OP.TEXT, payload: HELLO.subarray(0, 3), rsv: 4, fin: false });
    peer.sendFrame({ opcode: OP.PING, payload: 'mid', rsv: 4 });
    peer.sendFrame({ opcode: OP.CONT, payload: HELLO.subarray(3) });
  }, 1002));
  // RFC 6455 §5.2: permessage-deflate defines RSV1 only; RSV2 and RSV3 still fail the connection.
  for (const rsv of [2, 1, 6, 7]) {
    it(`RSV = ${rsv} on a text message with the extension agreed: 1002`, () => deflateCase(`13.x.rsv${rsv}`, (peer) => {
      peer.sendFrame({ opcode: OP.TEXT, payload: (rsv & 4) !== 0 ? HELLO : Buffer.from('Hello'), rsv });
    }, 1002));
  }

  // RFC 7692 names no close code for data that does not inflate; RFC 6455 §7.4.1's 1007 is for "data
  // within a message that was not consistent with the type of the message", as ws and websockets use.
  it('a compressed payload that is not a DEFLATE stream (a reserved block type): 1007', () => deflateCase('13.x.bad1', (peer) => {
    peer.sendFrame({ opcode: OP.BINARY, payload: Buffer.from('ffffffff', 'hex'), rsv: 4 });
  }, 1007));
  it('a stored block whose length and its complement disagree: 1007', () => deflateCase('13.x.bad2', (peer) => {
    peer.sendFrame({ opcode: OP.TEXT, payload: Buffer.from('000500000048656c6c6f', 'hex'), rsv: 4 });
  }, 1007));
  it('a match reaching back before the start of the stream (nothing to copy from): 1007', () => runCase(lab.port, {
    // The second "Hello" of §7.2.3.2 refers back into the first; as the first message it refers to nothing.
    id: '13.x.bad3', extensions: ['permessage-deflate'],
    run: (peer) => peer.sendFrame({ opcode: OP.TEXT, payload: Buffer.from('f200110000', 'hex'), rsv: 4 }),
    expect: [], close: failedWith(1007),
  }));
  it('with client_no_context_takeover agreed, a message referring back into the previous one: 1007', () => runCase(lab.port, {
    // §7.1.1.2: the server's inflater starts every message empty, so the second "Hello" of §7.2.3.2 has
    // nothing to refer to. (Without client_no_context_takeover the same bytes are "Hello": section 12.)
    id: '13.x.bad4', extensions: ['permessage-deflate; client_no_context_takeover'],
    agreed: 'permessage-deflate; client_no_context_takeover; server_max_window_bits=12',
    run: (peer) => peer.send(Buffer.concat([buildFrame({ opcode: OP.TEXT, payload: HELLO, rsv: 4 }), buildFrame({ opcode: OP.TEXT, payload: Buffer.from('f200110000', 'hex'), rsv: 4 })])),
    expect: [text('Hello')], close: failedWith(1007),
  }));
  // Autobahn 6.3.1's invalid UTF-8 ("κόσμε" with a UTF-16 surrogate, ed a0 80, in the middle).
  const badUtf8 = Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex');
  it('a compressed text message that inflates to invalid UTF-8: 1007 (RFC 6455 §8.1)', () => deflateCase('13.x.utf8', async (peer) => {
    await peer.sendMessage(OP.TEXT, badUtf8);
  }, 1007));
  it('the same bytes compressed as a binary message are echoed (the check is on text only)', () => runCase(lab.port, {
    id: '13.x.utf8-binary', extensions: ['permessage-deflate'],
    run: async (peer) => { await peer.sendMessage(OP.BINARY, badUtf8); await peer.sendMessage(OP.TEXT, 'κόσμε'); },
    expect: [binary(badUtf8), text('κόσμε')], close: CLEAN_NORMAL,
  }));
  it('a compressed text message fragmented inside a character is valid once whole', () => runCase(lab.port, {
    id: '13.x.utf8-split', extensions: ['permessage-deflate'],
    run: async (peer) => {
      const compressed = await peer.compress('κόσμε'.repeat(30));
      peer.sendFrame({ opcode: OP.TEXT, payload: compressed.subarray(0, 1), rsv: 4, fin: false });
      peer.sendFrame({ opcode: OP.CONT, payload: compressed.subarray(1, 2), fin: false });
      peer.sendFrame({ opcode: OP.CONT, payload: compressed.subarray(2) });
    },
    expect: [text('κόσμε'.repeat(30))], close: CLEAN_NORMAL,
  }));
  it('a ping between the fragments of a compressed message is answered first, uncompressed (§6.1)', () => runCase(lab.port, {
    id: '13.x.ping-mid', extensions: ['permessage-deflate'],
    run: async (peer) => {
      const message = walk(JSON_DATA, 20_000, 1)[0]!;
      const compressed = await peer.compress(message);
      peer.sendFrame({ opcode: OP.TEXT, payload: compressed.subarray(0, 100), rsv: 4, fin: false });
      peer.sendFrame({ opcode: OP.PING, payload: 'a'.repeat(125) });
      peer.sendFrame({ opcode: OP.CONT, payload: compressed.subarray(100) });
    },
    expect: [pong('a'.repeat(125)), text(walk(JSON_DATA, 20_000, 1)[0]!)], close: CLEAN_NORMAL,
  }));
});

describe('the message limit applies to the inflated size (webSocketMaxMessageBytes 1 MiB)', () => {
  const MiB = 1 << 20;
  const lab = labFixture({ limits: { webSocketMaxMessageBytes: MiB } });
  it('a compressed message that inflates to exactly 1 MiB is echoed (the limit is inclusive)', () => runCase(lab.port, {
    id: '13.x.limit', extensions: ['permessage-deflate'],
    run: (peer) => peer.sendMessage(OP.BINARY, Buffer.alloc(MiB, 0x61)),
    expect: [binary(Buffer.alloc(MiB, 0x61))], close: CLEAN_NORMAL,
  }));
  it('one that inflates to 1 MiB + 1 byte: 1009', () => runCase(lab.port, {
    id: '13.x.limit+1', extensions: ['permessage-deflate'],
    run: (peer) => peer.sendMessage(OP.BINARY, Buffer.alloc(MiB + 1, 0x61)),
    expect: [], close: failedWith(1009),
  }));
  it('a 64 KiB frame that inflates to 64 MiB (a deflate bomb): 1009, not 64 MiB held', () => runCase(lab.port, {
    id: '13.x.bomb', extensions: ['permessage-deflate'],
    run: async (peer) => {
      const compressed = await peer.compress(Buffer.alloc(64 * MiB));
      peer.sendFrame({ opcode: OP.BINARY, payload: compressed, rsv: 4 });
    },
    expect: [], close: failedWith(1009),
  }));
  it('a compressed message in 64-byte fragments that inflates to 8 MiB: 1009', () => runCase(lab.port, {
    id: '13.x.bomb-fragments', extensions: ['permessage-deflate'],
    run: async (peer) => { await peer.sendMessage(OP.TEXT, Buffer.alloc(8 * MiB, 0x20), { fragmentSize: 64 }); },
    expect: [], close: failedWith(1009),
  }));
});
