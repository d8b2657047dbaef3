/**
 * Keep the pages of freed read buffers mapped once large messages flow, so a socket's next read does not
 * fault them in again.
 *
 * Every read Node makes from a socket lands in a fresh 64 KiB buffer from malloc, freed when V8 collects
 * it. With glibc's defaults, once more than 128 KiB is free at the top of the heap (M_TRIM_THRESHOLD),
 * free() hands it back to the kernel (brk), and the next reads get zero-filled pages that fault one 4 KiB
 * page at a time while the kernel copies into them. Under a 64 KiB WebSocket echo with 50 connections
 * (bench `ws-echo`) that was 8 page faults per message, half the server's time, and the echo ran at
 * 56k–96k messages per 3 s where the same process with the heap kept ran 107k–130k.
 *
 * glibc has no API from JavaScript, but it raises its thresholds itself: freeing a chunk it had to mmap
 * (one over the mmap threshold, up to 32 MiB) sets the mmap threshold to that chunk's size and the trim
 * threshold to twice it ("dynamic mmap threshold", malloc(3), M_MMAP_THRESHOLD; the thresholds are
 * process-wide, whichever thread frees). One scrypt does exactly that: OpenSSL allocates its 128·N·r-byte
 * working array with one malloc and frees it before returning. With N = 16384, r = 8 (16 MiB) the heap
 * keeps up to 32 MiB free before trimming. It runs on libuv's thread pool (~30 ms there, nothing on the
 * event loop), and only once a read of LARGE_READ_BYTES shows that large messages are flowing: a server
 * that only ever sees small reads keeps glibc's defaults and gives its freed memory back (the idle bench:
 * 10,000 idle WebSockets settle at 2.8 KB per connection with the defaults, 3.4 KB with the heap kept).
 * Elsewhere (musl, macOS) nothing is done.
 */
import { scrypt } from 'node:crypto';

/** 128 · N · r bytes: 16 MiB, under glibc's 32 MiB ceiling for the dynamic threshold. */
const SCRYPT_N = 16_384;
const SCRYPT_R = 8;
/** A read at least this large means messages of that size are flowing (Node reads at most 64 KiB at once). */
export const LARGE_READ_BYTES = 16 * 1024;

let started = false;

/**
 * Once per process: raise glibc's trim threshold (see above); it takes effect when the thread pool's
 * scrypt returns. Returns whether this call started it (false on later calls, and off Linux).
 */
export function keepReadBufferPages(onDone?: () => void): boolean {
  if (started || process.platform !== 'linux') return false;
  started = true;
  scrypt('switchyard', 'read-buffer-pages', 16, { N: SCRYPT_N, r: SCRYPT_R, p: 1, maxmem: 64 << 20 }, () => onDone?.());
  return true;
}

/** Called with the size of every socket read (two comparisons): the first large one starts keepReadBufferPages. */
export function noteReadSize(length: number): void {
  if (!started && length >= LARGE_READ_BYTES) keepReadBufferPages();
}
