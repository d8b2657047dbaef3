/**
 * Binary messages delivered piece by piece (issue #17): `streamBinary` in the sans-IO protocol, the
 * session's `binaryStream` / `sendFrameStart` / `sendFramePiece`, and /echo, which relays large binary
 * messages through them without joining their pieces. The pieces, put back together, must always be
 * the message; the frames echoed must be the frames sent; the limits must hold as before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/errors.js';
import { WebSocketProtocol, type WebSocketEvent } from '../../../src/protocols/websocket/protocol.js';
import { OP, Peer, buildFrame } from '../../conformance/peer.js';
import type { BinaryStream } from '../../../src/protocols/websocket/session.js';
import { withLab } from '../../helpers/lab.js';
import { MASK, concat, frame, pattern, run } from './wire.js';

const server = (maxMessageBytes?: number): WebSocketProtocol => {
  const protocol = new WebSocketProtocol(maxMessageBytes === undefined ? { role: 'server' } : { role: 'server', maxMessageBytes });
  protocol.streamBinary = true;
  return protocol;
};

/** Cuts `bytes` into pieces at the given offsets. */
function cut(bytes: Uint8Array, ...at: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    out.push(bytes.subarray(from, to));
    from = to;
  }
  return out;
}

/** Rebuilds the messages from streamed events; checks each frame's pieces add up to its declared length. */
function reassemble(events: readonly WebSocketEvent[]): { messages: Uint8Array[]; frames: Array<{ length: number; first: boolean; fin: boolean }>; other: WebSocketEvent[] } {
  const messages: Uint8Array[] = [];
  const frames: Array<{ length: number; first: boolean; fin: boolean }> = [];
  const other: WebSocketEvent[] = [];
  let parts: Uint8Array[] = [];
  let frameLeft = 0;
  for (const event of events) {
    if (event.type === 'binary-frame') {
      assert.equal(frameLeft, 0, 'a frame begins only once the previous one is complete');
      frames.push({ length: event.length, first: event.first, fin: event.fin });
      if (event.first) parts = [];
      assert.ok(event.length === 0 || event.data.length > 0, 'a non-empty frame is announced with its first piece');
      parts.push(Uint8Array.from(event.data));
      frameLeft = event.length - event.data.length;
      if (event.fin && frameLeft === 0) messages.push(concat(...parts));
    } else if (event.type === 'binary-piece') {
      assert.ok(event.data.length > 0 && event.data.length <= frameLeft, 'a piece stays within its frame');
      parts.push(Uint8Array.from(event.data));
      frameLeft -= event.data.length;
      if (frameLeft === 0 && frames.at(-1)!.fin) messages.push(concat(...parts));
    } else if (event.type === 'binary') {
      messages.push(Uint8Array.from(event.data));
    } else {
      other.push(event);
    }
  }
  assert.equal(frameLeft, 0);
  return { messages, frames, other };
}

describe('WebSocketProtocol streamBinary', () => {
  it('a message that arrives in one piece is still one binary event (a view, no streaming)', () => {
    const payload = pattern(5000);
    const events = run([frame({ opcode: OP.BINARY, payload, mask: MASK })], { role: 'server' }, { protocol: server() });
    assert.deepEqual(events.map((e) => e.type), ['binary']);
    assert.deepEqual((events[0] as { data: Uint8Array }).data, payload);
  });

  it('a message split across reads comes as binary-frame + pieces that add up to it, at every split offset', () => {
    for (const size of [0, 1, 125, 126, 300, 65535, 65536]) {
      const payload = pattern(size, size);
      const wire = frame({ opcode: OP.BINARY, payload, mask: MASK });
      const offsets = size > 400 ? [1, 2, 8, 13, 14, 15, 200, wire.length - 1] : Array.from({ length: wire.length - 1 }, (_, i) => i + 1);
      for (const at of offsets) {
        const trailing = frame({ opcode: OP.PING, payload: pattern(3), mask: MASK });
        const events = run([...cut(wire, at), trailing], { role: 'server' }, { protocol: server() });
        const { messages, other } = reassemble(events);
        assert.equal(messages.length, 1, `size ${size} split at ${at}`);
        assert.deepEqual(messages[0], payload, `size ${size} split at ${at}`);
        assert.deepEqual(other.map((e) => e.type), ['ping'], 'the bytes after the message are the next frame');
      }
    }
  });

  it('a fragmented message keeps its frames (first/fin) and lets a ping through between them (§5.4)', () => {
    const a = pattern(70_000, 1);
    const b = pattern(0);
    const c = pattern(3000, 3);
    const wire = concat(
      frame({ opcode: OP.BINARY, fin: false, payload: a, mask: MASK }),
      frame({ opcode: OP.PING, payload: pattern(4), mask: MASK }),
      frame({ opcode: OP.CONT, fin: false, payload: b, mask: MASK }),
      frame({ opcode: OP.CONT, payload: c, mask: MASK }),
      frame({ opcode: OP.TEXT, payload: new TextEncoder().encode('after'), mask: MASK }),
    );
    for (const chunkSize of [1, 7, 4096, 65536, wire.length]) {
      const chunks = Array.from({ length: Math.ceil(wire.length / chunkSize) }, (_, i) => wire.subarray(i * chunkSize, (i + 1) * chunkSize));
      const { messages, frames, other } = reassemble(run(chunks, { role: 'server' }, { protocol: server() }));
      assert.deepEqual(frames, [{ length: 70_000, first: true, fin: false }, { length: 0, first: false, fin: false }, { length: 3000, first: false, fin: true }]);
      assert.deepEqual(messages, [concat(a, b, c)]);
      assert.deepEqual(other.map((e) => e.type), ['ping', 'text'], `chunks of ${chunkSize}`);
    }
  });

  it('text is never streamed: it must be valid UTF-8 as a whole before anyone sees it (§8.1)', () => {
    const text = 'é'.repeat(40_000);
    const wire = frame({ opcode: OP.TEXT, payload: new TextEncoder().encode(text), mask: MASK });
    const events = run(cut(wire, 1001, 30_001, 65_537), { role: 'server' }, { protocol: server() });
    assert.deepEqual(events, [{ type: 'text', text }]);
  });

  it('the message limit still holds before any piece is delivered (1009 at the header)', () => {
    const wire = concat(
      frame({ opcode: OP.BINARY, fin: false, payload: pattern(600), mask: MASK }),
      frame({ opcode: OP.CONT, payload: pattern(600), mask: MASK }),
    );
    const events = run(cut(wire, 100, 700), { role: 'server' }, { protocol: server(1000) });
    const error = events.at(-1);
    assert.equal(error?.type, 'error');
    assert.equal((error as { error: { closeCode: number } }).error.closeCode, 1009);
    const delivered = events.slice(0, -1).reduce((n, e) => n + ('data' in e ? e.data.length : 0), 0);
    assert.equal(delivered, 600, 'nothing of the frame that breaks the limit is delivered');
  });

  it('sendFrameHeader follows the fragment rules and refuses a client', () => {
    const protocol = new WebSocketProtocol({ role: 'server' });
    assert.deepEqual([...protocol.sendFrameHeader(3, false)], [0x02, 3]);
    assert.deepEqual([...protocol.sendFrameHeader(70_000, true)], [0x80, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    assert.deepEqual([...protocol.sendFrameHeader(200, true)], [0x82, 126, 0, 200]);
    assert.throws(() => new WebSocketProtocol({ role: 'client' }).sendFrameHeader(1, true), UsageError);
  });
});

describe('/echo relays large binary messages piece by piece', () => {
  it('echoes 1 MiB messages and fragmented ones byte for byte, frame for frame, however they are chopped', () => withLab({}, async (lab) => {
    const peer = await Peer.open(lab.port);
    const big = pattern(1 << 20, 5);
    peer.send(buildFrame({ opcode: OP.BINARY, payload: big }), 9973);
    await peer.until(() => peer.events.length === 1, 'the 1 MiB echo');
    assert.equal(peer.events[0]!.kind, 'message');
    assert.deepEqual(peer.events[0]!.data, Buffer.from(big));
    // Fragments with a ping between them: the pong may come between our fragments too (§5.4).
    const a = pattern(100_000, 1);
    const c = pattern(70_000, 2);
    peer.send(Buffer.concat([
      buildFrame({ opcode: OP.BINARY, fin: false, payload: a }),
      buildFrame({ opcode: OP.PING, payload: 'mid' }),
      buildFrame({ opcode: OP.CONT, payload: c }),
    ]), 4099);
    await peer.until(() => peer.events.filter((e) => e.kind === 'message').length === 2, 'the fragmented echo');
    const echoed = peer.events.filter((e) => e.kind === 'message')[1]!;
    assert.deepEqual(echoed.data, Buffer.concat([a, c]));
    assert.ok(peer.events.some((e) => e.kind === 'pong' && e.data.toString() === 'mid'));
    // Small and text messages still go the ordinary way.
    peer.sendFrame({ opcode: OP.BINARY, payload: pattern(32) });
    peer.sendFrame({ opcode: OP.TEXT, payload: 'still text' });
    await peer.until(() => peer.events.filter((e) => e.kind === 'message').length === 4, 'the small echoes');
    const last = peer.events.filter((e) => e.kind === 'message').slice(2);
    assert.deepEqual(last.map((e) => [e.kind === 'message' && e.binary, e.data.toString('latin1')]), [[true, Buffer.from(pattern(32)).toString('latin1')], [false, 'still text']]);
    assert.deepEqual(peer.violations, []);
    peer.sendClose(1000);
    await peer.finish();
    assert.deepEqual(peer.serverClose, { code: 1000, reason: '' });
  }));

  it('a peer that closes in the middle of a streamed message still gets a clean Close after the frame', () => withLab({}, async (lab) => {
    const peer = await Peer.open(lab.port);
    const payload = pattern(200_000, 9);
    peer.send(Buffer.concat([buildFrame({ opcode: OP.BINARY, payload }), buildFrame({ opcode: OP.CLOSE, payload: Buffer.from([0x03, 0xe8]) })]), 65_000);
    await peer.finish();
    assert.deepEqual(peer.violations, []);
    assert.equal(peer.events.filter((e) => e.kind === 'message').length, 1);
    assert.deepEqual(peer.serverClose, { code: 1000, reason: '' });
  }));
});

describe('WebSocket.sendFrameStart / sendFramePiece', () => {
  it('holds pongs and Close frames until a streamed frame is complete (frames never interleave, §5.4)', async () => {
    // Writes each piece a turn late, so the peer's ping and Close are answered while our frame is open.
    const late: BinaryStream = {
      frame(ws, length, _first, fin, data) {
        ws.sendFrameStart(length, fin);
        const copy = Uint8Array.from(data);
        setImmediate(() => ws.sendFramePiece(copy));
      },
      piece(ws, data) {
        const copy = Uint8Array.from(data);
        setImmediate(() => ws.sendFramePiece(copy));
      },
    };
    await withLab({ webSocketEndpoints: { '/late': { onConnection(ws) { ws.binaryStream = late; } } } }, async (lab) => {
      const peer = await Peer.open(lab.port, { path: '/late' });
      const payload = pattern(150_000, 4);
      peer.send(Buffer.concat([buildFrame({ opcode: OP.BINARY, payload }), buildFrame({ opcode: OP.PING, payload: 'p' })]), 50_000);
      await peer.until(() => peer.events.some((e) => e.kind === 'pong'), 'the pong');
      assert.deepEqual(peer.events.map((e) => e.kind), ['message', 'pong'], 'the pong waited for the frame');
      assert.deepEqual(peer.events[0]!.data, Buffer.from(payload));
      peer.sendClose(1000);
      await peer.finish();
      assert.deepEqual(peer.violations, []);
      assert.deepEqual(peer.serverClose, { code: 1000, reason: '' });
    });
  });
});
