/**
 * Autobahn section 12, "WebSocket Compression (different payloads)": permessage-deflate (RFC 7692) with
 * Autobahn's default offer, five kinds of payload (compression-corpus.ts) and 18 message sizes each, from
 * 16 B to 128 KiB, the larger ones also sent as compressed payloads cut into frames of 256 B to 32 KiB
 * (RSV1 on the first frame only, §6.1). Every message goes out compressed by the peer's own deflate
 * stream and must come back byte for byte, and the echo must be compressed exactly when the server's
 * threshold (64 B by default) says so, within its agreed 12-bit window (the peer inflates with exactly
 * that window and fails anything reaching further back).
 *
 * Autobahn's default offer is `permessage-deflate; client_no_context_takeover; client_max_window_bits`
 * (its PerMessageDeflateOffer(): it accepts both client-side limits). Our server accepts it as
 * `client_no_context_takeover` (echoed: §7.1.1.2 lets it), shrinks its own window unasked to 12 bits
 * (§7.1.2.1) and, the offer allowing it, asks the client for 12 bits too (§7.1.2.2).
 *
 * Beyond Autobahn: the same payloads over a plain `permessage-deflate` offer, which leaves the client's
 * compressor its context and a 15-bit window, so the server must inflate against 32 KiB of history;
 * compressed and uncompressed messages mixed on one connection (an uncompressed message never enters
 * either LZ77 window, §6); the threshold's edge; and the worked examples of RFC 7692 §7.2.3, byte for byte.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLEAN_NORMAL, MessageDeflater, OP, binary, buildFrame, labFixture, runCase, text } from './peer.js';
import { CORPORA, MESSAGE_SIZES, asEvent, assertCompressedFromThreshold, messageCount, sendOneByOne, walk } from './compression-corpus.js';

/** Autobahn's PerMessageDeflateOffer() with its defaults, as its client sends it. */
const AUTOBAHN_DEFAULT_OFFER = 'permessage-deflate; client_no_context_takeover; client_max_window_bits';
const DEFAULT_ANSWER = 'permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12';
const DEFAULT_THRESHOLD = 64;

describe('Autobahn 12: permessage-deflate with different payloads', () => {
  const lab = labFixture();
  CORPORA.forEach((corpus, c) => {
    MESSAGE_SIZES.forEach(([length, fragmentSize], s) => {
      const id = `12.${c + 1}.${s + 1}`;
      const count = messageCount(length);
      const framing = fragmentSize === 0 ? 'one frame each' : `compressed payload in ${fragmentSize}-byte frames`;
      it(`${id} ${corpus.description}: ${count} messages of ${length} B, ${framing}, echoed byte for byte`, () => {
        const messages = walk(corpus.data, length, count, s * 7919);
        return runCase(lab.port, {
          id,
          extensions: [AUTOBAHN_DEFAULT_OFFER],
          agreed: DEFAULT_ANSWER,
          run: async (peer) => {
            await sendOneByOne(peer, corpus.opcode, messages, { fragmentSize });
            assertCompressedFromThreshold(peer, DEFAULT_THRESHOLD, id);
          },
          expect: messages.map((message) => asEvent(corpus.opcode, message)),
          close: CLEAN_NORMAL,
        });
      });
    });
  });
});

describe('beyond Autobahn 12: context takeover both ways (a plain permessage-deflate offer)', () => {
  const lab = labFixture();
  // §7.1.2.2: without client_max_window_bits in the offer the server may not limit the client's window, and
  // without client_no_context_takeover the client keeps its context: the server inflates each message
  // against the last 32 KiB of all the compressed messages before it.
  CORPORA.forEach((corpus, c) => {
    ([[256, 0], [4096, 0], [16384, 0], [131072, 0], [131072, 1024]] as const).forEach(([length, fragmentSize], s) => {
      const id = `12.x.${c + 1}.${s + 1} takeover`;
      const count = messageCount(length);
      it(`${corpus.description}: ${count} messages of ${length} B${fragmentSize ? ` in ${fragmentSize}-byte frames` : ''}, both contexts kept`, () => {
        const messages = walk(corpus.data, length, count, 12345 * (s + 1));
        return runCase(lab.port, {
          id,
          extensions: ['permessage-deflate'],
          agreed: 'permessage-deflate; server_max_window_bits=12',
          run: async (peer) => {
            await sendOneByOne(peer, corpus.opcode, messages, { fragmentSize });
            assertCompressedFromThreshold(peer, DEFAULT_THRESHOLD, id);
          },
          expect: messages.map((message) => asEvent(corpus.opcode, message)),
          close: CLEAN_NORMAL,
        });
      });
    });
  });

  it('compressed and uncompressed messages alternating: an uncompressed one never enters the window (§6)', () => {
    // The peer's deflate stream only ever sees the compressed messages, so each refers back to the one
    // two before it. A server that counted the uncompressed message between them into its inflate
    // window would resolve those references against the wrong bytes and echo something else.
    const json = CORPORA[0]!.data;
    const messages = walk(json, 2000, 60, 0).map((message, n) => (n % 2 === 1 ? walk(json, 2000, 1, 100_000 + n * 3001)[0]! : message));
    const sentCompressed = new Set(messages.filter((_, n) => n % 2 === 0));
    return runCase(lab.port, {
      id: '12.x mixed',
      extensions: ['permessage-deflate'],
      agreed: 'permessage-deflate; server_max_window_bits=12',
      run: async (peer) => {
        await sendOneByOne(peer, OP.TEXT, messages, { compress: (message) => sentCompressed.has(message) });
        assertCompressedFromThreshold(peer, DEFAULT_THRESHOLD, '12.x mixed');
      },
      expect: messages.map((message) => text(message)),
      close: CLEAN_NORMAL,
    });
  });

  it('200 messages written in one go, not waiting for echoes: every echo in order, byte for byte', () => {
    const verse = CORPORA[2]!.data;
    const messages = Array.from({ length: 200 }, (_, n) => walk(verse, 16 + ((n * 977) % 9000), 1, n * 4099)[0]!);
    return runCase(lab.port, {
      id: '12.x pipelined',
      extensions: ['permessage-deflate'],
      agreed: 'permessage-deflate; server_max_window_bits=12',
      run: async (peer) => {
        for (const message of messages) await peer.sendMessage(OP.BINARY, message);
        await peer.until(() => peer.events.length === messages.length || peer.serverClose !== undefined, 'all 200 echoes');
        assertCompressedFromThreshold(peer, DEFAULT_THRESHOLD, '12.x pipelined');
      },
      expect: messages.map((message) => binary(message)),
      close: CLEAN_NORMAL,
    });
  });
});

describe('the compression threshold (webSocketDeflateThresholdBytes)', () => {
  const lab = labFixture();
  it('by default 63 B go back uncompressed and 64 B compressed, counted in bytes, not characters (RFC 7692 §6: RSV1 is per message)', () => {
    const messages = [63, 64, 0, 1, 65, 63].map((length) => Buffer.alloc(length, 'a'));
    // 32 two-byte characters are 64 bytes (compressed); 31 of them and an "a" are 63 (not).
    messages.push(Buffer.from('κ'.repeat(32)), Buffer.from('κ'.repeat(31) + 'a'), Buffer.from('€'.repeat(21) + 'a'));
    return runCase(lab.port, {
      id: '12.x threshold',
      extensions: [AUTOBAHN_DEFAULT_OFFER],
      agreed: DEFAULT_ANSWER,
      run: async (peer) => {
        await sendOneByOne(peer, OP.TEXT, messages);
        assertCompressedFromThreshold(peer, DEFAULT_THRESHOLD, '12.x threshold');
      },
      expect: messages.map((message) => text(message)),
      close: CLEAN_NORMAL,
    });
  });

  describe('threshold 0 and a 15-bit window', () => {
    const zeroLab = labFixture({ limits: { webSocketDeflateThresholdBytes: 0, webSocketDeflateWindowBits: 15 } });
    it('every message comes back compressed, the empty one too, and a 15-bit window needs no parameter', () => {
      const messages = [0, 1, 16, 63, 64, 1000, 40_000].map((length, n) => walk(CORPORA[3]!.data, length, 1, n * 50_000)[0]!);
      return runCase(zeroLab.port, {
        id: '12.x threshold 0',
        extensions: ['permessage-deflate'],
        // §7.1.2.1: a server compressing with the full 15 bits says nothing about its window.
        agreed: 'permessage-deflate',
        run: async (peer) => {
          await sendOneByOne(peer, OP.TEXT, messages);
          assertCompressedFromThreshold(peer, 0, '12.x threshold 0');
        },
        expect: messages.map((message) => text(message)),
        close: CLEAN_NORMAL,
      });
    });
  });
});

describe('RFC 7692 §7.2.3: the worked examples, as a client would send them', () => {
  const lab = labFixture();
  const hello = 'Hello';
  const compressed = (payload: string, fin = true, opcode: number = OP.TEXT) => buildFrame({ opcode, payload: Buffer.from(payload.replace(/ /g, ''), 'hex'), rsv: opcode === OP.CONT ? 0 : 4, fin });
  const examples: Array<[string, string, () => Buffer[]]> = [
    ['§7.2.3.1 "Hello" in one compressed frame', '7.2.3.1', () => [compressed('f2 48 cd c9 c9 07 00')]],
    ['§7.2.3.1 the same in 2 fragments, RSV1 on the first only', '7.2.3.1 fragmented', () => [compressed('f2 48 cd', false), compressed('c9 c9 07 00', true, OP.CONT)]],
    ['§7.2.3.3 "Hello" in a stored (uncompressed) DEFLATE block', '7.2.3.3', () => [compressed('00 05 00 fa ff 48 65 6c 6c 6f 00')]],
    ['§7.2.3.4 "Hello" in a DEFLATE block with BFINAL set', '7.2.3.4', () => [compressed('f3 48 cd c9 c9 07 00 00')]],
    ['§7.2.3.5 "Hello" in two DEFLATE blocks', '7.2.3.5', () => [compressed('f2 48 05 00 00 00 ff ff ca c9 c9 07 00')]],
  ];
  for (const [name, id, frames] of examples) {
    it(`${name} is inflated and echoed`, () => runCase(lab.port, {
      id, extensions: ['permessage-deflate'], run: (peer) => peer.send(Buffer.concat(frames())), expect: [text(hello)], close: CLEAN_NORMAL,
    }));
  }
  it('§7.2.3.2 a second "Hello" sharing the first one\'s context (f2 00 11 00 00) is inflated against it', () => runCase(lab.port, {
    id: '7.2.3.2',
    extensions: ['permessage-deflate'],
    agreed: 'permessage-deflate; server_max_window_bits=12',
    run: (peer) => peer.send(Buffer.concat([compressed('f2 48 cd c9 c9 07 00'), compressed('f2 00 11 00 00')])),
    expect: [text(hello), text(hello)], close: CLEAN_NORMAL,
  }));
  it('an empty message compressed (00: an empty stored block\'s header once the tail is gone, §7.2.1), and one with no payload at all, are empty', () => runCase(lab.port, {
    id: '7.2.x empty',
    extensions: ['permessage-deflate'],
    run: (peer) => peer.send(Buffer.concat([compressed('00'), buildFrame({ opcode: OP.BINARY, rsv: 4 }), compressed('f2 48 cd c9 c9 07 00')])),
    expect: [text(''), binary(new Uint8Array(0)), text(hello)], close: CLEAN_NORMAL,
  }));
  it('§7.2.3.6 "Hello" flushed whole in the first fragment, then an empty stored block (00) as the last one, is "Hello"', () => runCase(lab.port, {
    // A sender that learns the message has ended only after flushing: the first fragment keeps its
    // 00 00 ff ff, and the last one carries the header of one more empty block, its tail removed.
    id: '7.2.3.6',
    extensions: ['permessage-deflate'],
    run: (peer) => peer.send(Buffer.concat([compressed('f2 48 cd c9 c9 07 00 00 00 ff ff', false), compressed('00', true, OP.CONT)])),
    expect: [text(hello)], close: CLEAN_NORMAL,
  }));
  it('the peer\'s own compressor yields the RFC\'s bytes for "Hello" (the examples above test the server, not the peer)', async () => {
    // The same deflate data §7.2.3.1 shows, from node:zlib at the default level: checks the peer's side.
    const deflater = new MessageDeflater(15, false);
    assert.equal((await deflater.compress(Buffer.from(hello))).toString('hex'), 'f248cdc9c90700');
    assert.equal((await deflater.compress(Buffer.from(hello))).toString('hex'), 'f200110000', '§7.2.3.2: the second "Hello" refers back to the first');
    deflater.close();
  });
});
