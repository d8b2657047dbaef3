/**
 * Broadcast backpressure: the chat room never waits for a slow member. One that stops reading is closed
 * with 1013 "Try Again Later" once more than `outboundQueueBytes` are queued for it, and the members that
 * do read get every message, in order, all along.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, withLab } from '../helpers/lab.js';
import { connect } from '../../src/protocols/websocket/client.js';
import type { WebSocket } from '../../src/protocols/websocket/session.js';
import { kernelBufferBytes, KiB, MiB } from './pressure.js';

const QUEUE_LIMIT = 256 * KiB;
const MESSAGE_BYTES = 8 * KiB;

/** Message `seq`: its number, a colon, then padding up to MESSAGE_BYTES, so sizes are all alike. */
const message = (seq: number): string => `${seq}:`.padEnd(MESSAGE_BYTES, 'x');
const seqOf = (text: string): number => Number(text.slice(0, text.indexOf(':')));

function watchClose(ws: WebSocket): { code: number | undefined } {
  const seen: { code: number | undefined } = { code: undefined };
  ws.once('close', (code) => { seen.code = code; });
  return seen;
}

describe('chat: a member that falls behind', () => {
  it('is closed with 1013 while a reading member receives every message in order', { timeout: 120_000 }, () =>
    withLab({ limits: { outboundQueueBytes: QUEUE_LIMIT, webSocketCloseTimeoutMs: 60_000 } }, async (server, events) => {
      const url = `ws://127.0.0.1:${server.port}/chat`;
      // Uncompressed: the point is bytes piling up for a reader that does not read.
      const slow = await connect(url, { protocols: ['chat'], deflate: false });
      const fast = await connect(url, { protocols: ['chat'] });
      const sender = await connect(url, { protocols: ['chat'] });
      slow.socket.pause();

      const fastSeqs: number[] = [];
      fast.on('message', (data) => fastSeqs.push(seqOf(data as string)));
      const slowSeqs: number[] = [];
      slow.on('message', (data) => slowSeqs.push(seqOf(data as string)));
      const slowClose = watchClose(slow);

      // Send until the server has evicted the slow member, within a budget larger than what the kernel can
      // buffer for it (it only counts as queued once the kernel's buffers are full).
      const evicted = (): boolean => events.some((e) => e.type === 'protocol' && e.direction === 'out' && e.detail.includes('1013'));
      const budget = Math.ceil((kernelBufferBytes() + 16 * MiB) / MESSAGE_BYTES);
      let sent = 0;
      while (sent < budget && !evicted()) {
        if (!sender.send(message(sent++))) await new Promise<void>((resolve) => sender.once('drain', resolve));
        // The fast member keeps up: wait for it now and then, so "fast" means "reads", not "in the same tick".
        if (sent % 64 === 0) await eventually(() => fastSeqs.length >= sent - 64, 60_000, 'the fast member to keep up');
      }
      const extra = sent + 20;
      while (sent < extra) sender.send(message(sent++));

      await eventually(() => fastSeqs.length === sent, 60_000, `the fast member to get all ${sent} messages`);
      assert.deepEqual(fastSeqs, Array.from({ length: sent }, (_, i) => i), 'the reading member got every message, in order');

      slow.socket.resume();
      await eventually(() => slowClose.code !== undefined, 60_000, 'the slow member to be closed');
      assert.equal(slowClose.code, 1013, 'the slow member is told to try again later');
      assert.ok(slowSeqs.length < sent, 'the slow member was cut off before the end');
      assert.deepEqual(slowSeqs, Array.from({ length: slowSeqs.length }, (_, i) => i), 'what it got is a gap-free prefix');

      fast.close();
      sender.close();
    }));
});
