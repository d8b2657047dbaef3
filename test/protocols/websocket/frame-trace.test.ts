import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FrameHeader } from '../../../src/protocols/websocket/frame-codec.js';
import { describeFrame, frameEvent, lazyEvent } from '../../../src/protocols/websocket/frame-trace.js';
import { WebSocketProtocol, type FrameDirection } from '../../../src/protocols/websocket/protocol.js';
import { splits } from '../../helpers/split.js';
import { MASK, concat, frame, run, utf8 } from './wire.js';

const c = (spec: Parameters<typeof frame>[0]): Uint8Array => frame({ mask: MASK, ...spec });

describe('the frame observer (onFrame)', () => {
  it('sees every received header once, as soon as it is parsed, whatever the chunking', () => {
    const wire = concat(
      c({ opcode: 1, fin: false, payload: utf8('Hel') }),
      c({ opcode: 9, payload: utf8('p') }),
      c({ opcode: 0, payload: utf8('lo') }),
      c({ opcode: 2, payload: new Uint8Array(200) }),
    );
    for (const { label, chunks } of splits(wire)) {
      const seen: string[] = [];
      const protocol = new WebSocketProtocol({ role: 'server', onFrame: (header, direction) => seen.push(`${direction} ${describeFrame(header)}`) });
      run(chunks, { role: 'server' }, { protocol });
      assert.deepEqual(seen, ['in text fin=0 len=3', 'in ping fin=1 len=1', 'in continuation fin=1 len=2', 'in binary fin=1 len=200'], label);
    }
  });

  it('sees a header before the payload arrives, and before the message rules reject it', () => {
    const seen: FrameHeader[] = [];
    const protocol = new WebSocketProtocol({ role: 'server', onFrame: (header) => seen.push(header) });
    protocol.receive(c({ opcode: 0, payload: utf8('orphan') }).subarray(0, 6)); // header + key, no payload
    const event = protocol.next();
    assert.equal(event.type, 'error', 'a continuation with nothing to continue');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.payloadLength, 6);
  });

  it('sees every sent frame with its real header length, masked or not', () => {
    const seen: Array<[FrameHeader, FrameDirection]> = [];
    const server = new WebSocketProtocol({ role: 'server', onFrame: (h, d) => seen.push([h, d]) });
    const sizes = [0, 125, 126, 65535, 65536];
    const wires = sizes.map((size) => server.sendBinary(new Uint8Array(size)));
    sizes.forEach((size, i) => {
      const [header, direction] = seen[i]!;
      assert.equal(direction, 'out');
      assert.equal(header.payloadLength, size);
      const total = wires[i]!.reduce((n, b) => n + b.length, 0);
      assert.equal(header.headerLength, total - size, `header length for ${size}`);
      assert.equal(header.mask, undefined);
    });
    const client = new WebSocketProtocol({ role: 'client', randomMask: () => Uint8Array.of(1, 2, 3, 4), onFrame: (h, d) => seen.push([h, d]) });
    client.sendFragment('text', utf8('ab'), false);
    client.ping(utf8('?'));
    client.sendFragment('text', utf8('c'), true);
    client.close(1000);
    assert.deepEqual(seen.slice(sizes.length).map(([h]) => `${describeFrame(h)} header=${h.headerLength}`), [
      'text fin=0 len=2 header=6', 'ping fin=1 len=1 header=6', 'continuation fin=1 len=1 header=6', 'close fin=1 len=2 header=6',
    ]);
  });

  it('without an observer the events are the same', () => {
    const wire = concat(c({ opcode: 1, payload: utf8('same') }), c({ opcode: 8, payload: Uint8Array.of(3, 0xe8) }));
    const observed = run([wire], { role: 'server', onFrame: () => {} });
    assert.deepEqual(run([wire], { role: 'server' }), observed);
  });
});

describe('trace events', () => {
  it('name every opcode, reserved ones included', () => {
    const header = (opcode: number, fin = true, rsv1 = false): FrameHeader => ({ opcode: opcode as FrameHeader['opcode'], fin, rsv1, mask: undefined, payloadLength: 5, headerLength: 2 });
    assert.equal(describeFrame(header(1)), 'text fin=1 len=5');
    assert.equal(describeFrame(header(1, true, true)), 'text fin=1 rsv1=1 len=5');
    assert.equal(describeFrame(header(0, false)), 'continuation fin=0 len=5');
    assert.equal(describeFrame(header(10)), 'pong fin=1 len=5');
    assert.equal(describeFrame(header(3)), 'opcode-3 fin=1 len=5');
  });

  it('build their detail only when it is read (the loop reads it only when someone subscribed)', () => {
    let calls = 0;
    const event = lazyEvent('frame', 'in', () => { calls++; return 'text fin=1 len=5'; });
    assert.equal(calls, 0);
    const copy = { ...event, extra: true }; // what the accept loop does when the trace is on
    assert.equal(calls, 1);
    assert.deepEqual(copy, { kind: 'frame', direction: 'in', detail: 'text fin=1 len=5', extra: true });
    assert.deepEqual({ ...lazyEvent('drop', undefined, () => 'why') }, { kind: 'drop', detail: 'why' });
    const header: FrameHeader = { opcode: 2, fin: true, rsv1: false, mask: undefined, payloadLength: 9, headerLength: 2 };
    assert.deepEqual({ ...frameEvent(header, 'out') }, { kind: 'frame', direction: 'out', detail: 'binary fin=1 len=9' });
  });
});
