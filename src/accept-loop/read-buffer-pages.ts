/**
 * Keep the pages of freed read buffers mapped, so a socket's next read does not fault them in again.
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
 * threshold to twice it ("dynamic mmap threshold", malloc(3), M_MMAP_THRESHOLD). One scrypt does exactly
 * that: OpenSSL allocates its 128·N·r-byte working array with one malloc and frees it before returning.
 * With N = 16384, r = 8 (16 MiB) the heap keeps up to 32 MiB free before trimming: the price is that
 * much address space a quiet process may keep resident, paid once, about 30 ms at start.
 * Elsewhere (musl, macOS) the call is harmless and changes nothing.
 */
import { scryptSync } from 'node:crypto';

/** 128 · N · r bytes: 16 MiB, under glibc's 32 MiB ceiling for the dynamic threshold. */
const SCRYPT_N = 16_384;
const SCRYPT_R = 8;

let raised = false;

/** Once per process: raise glibc's trim threshold (see above). Returns whether this call did it. */
export function keepReadBufferPages(): boolean {
  if (raised || process.platform !== 'linux') return false;
  raised = true;
  scryptSync('switchyard', 'read-buffer-pages', 16, { N: SCRYPT_N, r: SCRYPT_R, p: 1, maxmem: 64 << 20 });
  return true;
}
