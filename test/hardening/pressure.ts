/**
 * Helpers for the backpressure tests: push bytes at a peer that does not read until the transport stops
 * taking them, and wait for a counter to stop moving. Both are bounded (a byte budget, a deadline), so a
 * server that reads without limit makes a test fail, never hang.
 */
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';

export interface PushResult {
  /** Bytes handed to `write` (accepted by the client's stream, not necessarily by the server). */
  readonly written: number;
  /** True when the client's stream stopped draining before the budget was spent. */
  readonly stalled: boolean;
}

/**
 * Calls `write()` (which sends `size` bytes and returns the stream's "keep going" flag) until `budget`
 * bytes are written, waiting for `drain` on `emitter` whenever it returns false. A drain that does not come
 * within `stallMs` means the far end stopped reading. `stallMs` is generous: on a loaded machine a reading
 * server may pause for a while, and a false "stall" only weakens the test, it cannot fail it.
 */
export async function pushUntilStalled(
  write: () => boolean, size: number, emitter: EventEmitter, budget: number, stallMs = 1_000,
): Promise<PushResult> {
  let written = 0;
  while (written < budget) {
    const more = write();
    written += size;
    if (more) {
      // Let the event loop run now and then, so the loopback peer (in this process) gets to read.
      if (written % (size * 16) === 0) await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    const drained = await new Promise<boolean>((resolve) => {
      const onDrain = (): void => { clearTimeout(timer); resolve(true); };
      const timer = setTimeout(() => { emitter.off('drain', onDrain); resolve(false); }, stallMs);
      emitter.once('drain', onDrain);
    });
    if (!drained) return { written, stalled: true };
  }
  return { written, stalled: false };
}

/**
 * Resolves with `sample()` once it has not changed for `quietMs`; rejects if it keeps changing for
 * `maxMs`. Polls every 100 ms.
 */
export async function settled(sample: () => number, what: string, quietMs = 500, maxMs = 30_000): Promise<number> {
  const start = Date.now();
  let value = sample();
  let since = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = sample();
    if (now !== value) {
      value = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return value;
    }
    if (Date.now() - start > maxMs) throw new Error(`${what} kept changing for ${maxMs} ms (last ${value})`);
  }
}

/** Bytes a server-side stream holds for its connection: queued for writing plus read but not consumed. */
export function heldBytes(socket: Duplex): number {
  return socket.writableLength + socket.readableLength;
}

export const MiB = 1024 * 1024;
export const KiB = 1024;

/**
 * The most a pair of loopback TCP sockets may hold in the kernel in one direction: the sender's largest
 * send buffer plus the receiver's largest receive buffer. Linux grows a receive buffer up to tcp_rmem's
 * maximum even for a peer that does not read (easily tens of MiB of small segments), so a server that
 * stopped reading may still have written that much: kernel memory, not the process's. 64 MiB when the
 * sysctls cannot be read.
 */
export function kernelBufferBytes(): number {
  try {
    const max = (name: string): number => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'latin1').trim().split(/\s+/).at(-1));
    const total = max('tcp_rmem') + max('tcp_wmem');
    return Number.isSafeInteger(total) && total > 0 ? total : 64 * MiB;
  } catch {
    return 64 * MiB;
  }
}
