/**
 * The WebSocket echo client's inner loop, shared by every transport the bench drives it over (a TCP
 * socket after a 101, a node:tls socket after a 101 (wss-echo), an HTTP/2 stream after an extended
 * CONNECT's 200, a raw TCP or TLS echo): so a ratio between two of them compares the servers and the
 * transports, never two different clients.
 *
 * How it works: each message is one client frame (FIN, binary, masked) encoded once and written again
 * and again; the server's echo is known in advance (the same payload, unmasked), so incoming bytes are
 * compared with memcmp at their offset in the expected echo, however they are chunked, and never parsed.
 * A connection keeps `window` messages in flight and stops at a deadline or after `messages` messages.
 */
import type { Duplex } from 'node:stream';

/** A client frame (masked, FIN, binary) and the server's unmasked echo of it. */
export function echoFrames(size: number): { masked: Buffer; unmasked: Buffer } {
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 7 + 3) & 0xff;
  const header = (masked: boolean): Buffer => {
    const bit = masked ? 0x80 : 0;
    if (size < 126) return Buffer.from([0x82, bit | size]);
    if (size < 65536) return Buffer.from([0x82, bit | 126, size >> 8, size & 0xff]);
    const h = Buffer.alloc(10);
    h[0] = 0x82; h[1] = bit | 127; h.writeBigUInt64BE(BigInt(size), 2);
    return h;
  };
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const maskedPayload = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
  return { masked: Buffer.concat([header(true), mask, maskedPayload]), unmasked: Buffer.concat([header(false), payload]) };
}

/** One opened conversation: the duplex and any bytes that arrived with the handshake's answer. */
export interface EchoConnection { stream: Duplex; rest: Buffer }

export interface EchoPlan {
  /** Bytes each message sends (the frame `send`) and the bytes its echo must be (`expected`). */
  send: Buffer;
  expected: Buffer;
  window: number;
  /** Stop sending at this `performance.now()` time … */
  deadline?: number;
  /** … or after this many messages per connection. */
  messages?: number;
}

export interface EchoResult { operations: number; errors: number; seconds: number }

/** Run the plan on every connection at once; resolves when each has received all it sent. */
export async function runEcho(conns: readonly EchoConnection[], plan: EchoPlan): Promise<EchoResult> {
  const { send: frame, expected, window } = plan;
  const deadline = plan.deadline ?? Infinity;
  const limit = plan.messages ?? Infinity;
  let done = 0;
  let corrupted = 0;
  const started = performance.now();
  await Promise.all(conns.map(({ stream, rest }) => new Promise<void>((resolve) => {
    let position = 0; // offset inside the expected echo of the current message
    let inFlight = 0;
    let sent = 0;
    let stopping = false;
    const finish = (): void => { stream.destroy(); resolve(); };
    const send = (): void => {
      if (sent >= limit || performance.now() >= deadline) { stopping = true; if (inFlight === 0) finish(); return; }
      inFlight++;
      sent++;
      stream.write(frame);
    };
    const consume = (chunk: Buffer): void => {
      let at = 0;
      while (at < chunk.length) {
        const take = Math.min(chunk.length - at, expected.length - position);
        if (expected.compare(chunk, at, at + take, position, position + take) !== 0) corrupted++;
        at += take;
        position += take;
        if (position === expected.length) {
          position = 0;
          done++;
          inFlight--;
          if (!stopping) send(); else if (inFlight === 0) finish();
        }
      }
    };
    stream.on('data', consume);
    stream.on('error', () => resolve());
    stream.on('close', () => resolve());
    if (rest.length > 0) consume(rest);
    for (let i = 0; i < window && !stopping; i++) send();
  })));
  return { operations: done, errors: corrupted, seconds: (performance.now() - started) / 1000 };
}
