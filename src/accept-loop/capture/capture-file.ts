/**
 * The pcapng file `serve --pcap FILE` writes: its header blocks at start, then the blocks of every
 * connection, appended without ever blocking the event loop. Blocks are queued in memory and written in
 * batches by one asynchronous writev at a time, so a connection's read or write never waits for the disk.
 *
 * Bounds: the file stops growing at `maxBytes` (the header, the packets that fit, and a last block that
 * says why the capture ends: pcapng.ts `captureCutBlock`); and a disk slower than the traffic cannot make
 * the queue grow without limit: past `maxQueuedBytes` packets are dropped, counted, and a comment block
 * says how many were lost once the queue drains.
 */
import { closeSync, openSync, writeSync, writev } from 'node:fs';
import { captureCutBlock, enhancedPacketBlock, interfaceDescriptionBlock, sectionHeaderBlock } from './pcapng.js';

export interface CaptureFileOptions {
  /** The file stops growing here (bytes, headers included); 0 means no cap. */
  readonly maxBytes?: number;
  /** Blocks waiting for the disk before new ones are dropped (default 32 MiB). */
  readonly maxQueuedBytes?: number;
  /** Shown by Wireshark in the capture file properties. */
  readonly comment?: string;
}

/** Room kept under the cap for the block that says the capture was cut. */
const CUT_BLOCK_RESERVE = 256;

export class CaptureFile {
  readonly path: string;
  readonly #fd: number;
  readonly #maxBytes: number;
  readonly #maxQueuedBytes: number;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing = false;
  #flushScheduled = false;
  /** Bytes in the file or on their way to it. */
  #size = 0;
  #cut = false;
  #closed = false;
  #dropped = 0;
  #droppedReported = 0;
  #onIdle: Array<() => void> = [];
  /** The first write error: the capture stops, the server goes on. */
  error: Error | undefined;

  /** Opens (truncates) the file and writes its header now, so a bad path fails at start, not later. */
  constructor(path: string, options: CaptureFileOptions = {}) {
    this.path = path;
    this.#maxBytes = options.maxBytes ?? 0;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 32 * 1024 * 1024;
    this.#fd = openSync(path, 'w');
    const header = [
      sectionHeaderBlock({ application: 'switchyard', ...(options.comment === undefined ? {} : { comment: options.comment }) }),
      interfaceDescriptionBlock({ name: 'switchyard' }),
    ];
    for (const block of header) {
      writeSync(this.#fd, block);
      this.#size += block.length;
    }
  }

  /** Bytes written or queued so far (the file's size once the queue drains). */
  get size(): number { return this.#size; }
  /** True once the cap was reached: nothing more is added. */
  get cut(): boolean { return this.#cut; }
  /** Packets lost to a disk slower than the traffic. */
  get dropped(): number { return this.#dropped; }

  /**
   * Whether about `bytes` more would still be queued; when not, `packets` are counted as dropped, and the
   * caller need not build them at all (building a 64 KiB packet only to drop it is the cost to avoid).
   */
  admits(bytes: number, packets: () => number): boolean {
    if (this.#queuedBytes + bytes <= this.#maxQueuedBytes || this.#cut || this.#closed) return true;
    this.#dropped += packets();
    return false;
  }

  /** Append whole blocks (one connection's packets, in order); all or none of them, never a part. */
  append(blocks: readonly Uint8Array[], at = Date.now()): void {
    if (this.#cut || this.#closed || this.error !== undefined || blocks.length === 0) return;
    let bytes = 0;
    for (const block of blocks) bytes += block.length;
    if (this.#maxBytes > 0 && this.#size + bytes > this.#maxBytes - CUT_BLOCK_RESERVE) {
      this.#cut = true;
      this.#enqueue(captureCutBlock(this.#maxBytes, at));
      return;
    }
    if (this.#queuedBytes + bytes > this.#maxQueuedBytes) {
      this.#dropped += blocks.length;
      return;
    }
    if (this.#dropped > this.#droppedReported) {
      const lost = this.#dropped - this.#droppedReported;
      this.#droppedReported = this.#dropped;
      this.#enqueue(enhancedPacketBlock(new Uint8Array(0), at, { comment: `switchyard: ${lost} packets dropped here: the disk was slower than the traffic` }));
    }
    for (const block of blocks) this.#enqueue(block);
  }

  #enqueue(block: Uint8Array): void {
    this.#queue.push(block);
    this.#queuedBytes += block.length;
    this.#size += block.length;
    if (!this.#flushScheduled && !this.#writing) {
      this.#flushScheduled = true;
      // One writev per turn of the loop gathers every block the turn produced.
      setImmediate(() => { this.#flushScheduled = false; this.#flush(); });
    }
  }

  #flush(): void {
    if (this.#writing || this.#queue.length === 0 || this.error !== undefined) {
      if (!this.#writing) this.#idle();
      return;
    }
    const batch = this.#queue;
    const batchBytes = this.#queuedBytes;
    this.#queue = [];
    this.#writing = true;
    writev(this.#fd, batch, (error) => {
      this.#writing = false;
      this.#queuedBytes -= batchBytes;
      if (error) this.error = error;
      this.#flush();
    });
  }

  #idle(): void {
    const waiting = this.#onIdle;
    this.#onIdle = [];
    for (const resolve of waiting) resolve();
  }

  /** Resolves when every queued block is on disk. */
  flushed(): Promise<void> {
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => { this.#onIdle.push(resolve); });
  }

  /** Write what is queued, then close the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flushed();
    this.#closed = true;
    closeSync(this.#fd);
  }
}
