/**
 * Unmasking 16 bytes at a time with WebAssembly SIMD, for large payloads (issue #17).
 *
 * How this works: JavaScript has no 128-bit integers, and the best scalar loop (mask.ts) XORs one
 * 32-bit word per bounds-checked typed-array access. WebAssembly's `v128.xor` does 16 bytes per
 * instruction, but only on its own linear memory, so each block of the payload is copied in with
 * `TypedArray#set` (a native memcpy), XORed there and copied back out. Two memcpys and a SIMD pass still
 * beat the scalar loop several times over from a few KiB up; below `SIMD_MIN_BYTES` the call and copy
 * overheads win, and mask.ts keeps those.
 *
 * The block always starts at address 0 of the module's memory, so the key word handed in is the mask
 * rotated to the payload's phase at the block's first byte and read little-endian (WebAssembly memory is
 * little-endian on every platform). The kernel XORs whole 64-byte groups, past the payload's end into
 * scratch bytes that are never copied out: no tail handling in the module, and the region holds
 * `BLOCK_BYTES + 64` so the overrun stays inside it.
 *
 * The module is a dozen lines of the text format, assembled by hand below; it has no imports, so it
 * cannot reach anything but its own page. Where WebAssembly or its SIMD proposal is missing (a runtime
 * built without it, `--jitless`), `createSimdUnmasker` returns undefined and mask.ts stays scalar.
 */

/*
 * (module
 *   (memory (export "memory") 2)
 *   (func (export "xor") (param $p i32) (param $end i32) (param $key i32)
 *     (local $k v128)
 *     (local.set $k (i32x4.splat (local.get $key)))
 *     (local.set $end (i32.add (local.get $p) (local.get $end)))   ;; $end arrives as a length
 *     (block $done
 *       (loop $group
 *         (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
 *         (v128.store offset=0  (local.get $p) (v128.xor (v128.load offset=0  (local.get $p)) (local.get $k)))
 *         (v128.store offset=16 (local.get $p) (v128.xor (v128.load offset=16 (local.get $p)) (local.get $k)))
 *         (v128.store offset=32 (local.get $p) (v128.xor (v128.load offset=32 (local.get $p)) (local.get $k)))
 *         (v128.store offset=48 (local.get $p) (v128.xor (v128.load offset=48 (local.get $p)) (local.get $k)))
 *         (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *         (br $group)))))
 */
const GROUP = (offset: number): number[] => [
  0x20, 0x00, //                   local.get $p        (store address)
  0x20, 0x00, //                   local.get $p        (load address)
  0xfd, 0x00, 0x04, offset, //     v128.load align=16 offset
  0x20, 0x03, //                   local.get $k
  0xfd, 0x51, //                   v128.xor
  0xfd, 0x0b, 0x04, offset, //     v128.store align=16 offset
];
const BODY = [
  0x01, 0x01, 0x7b, //             one local of type v128
  0x20, 0x02, 0xfd, 0x11, 0x21, 0x03, //       local.set $k (i32x4.splat $key)
  0x20, 0x00, 0x20, 0x01, 0x6a, 0x21, 0x01, // local.set $end (i32.add $p $end)
  0x02, 0x40, //                   block
  0x03, 0x40, //                   loop
  0x20, 0x00, 0x20, 0x01, 0x4f, 0x0d, 0x01, // br_if 1 (i32.ge_u $p $end)
  ...GROUP(0), ...GROUP(16), ...GROUP(32), ...GROUP(48),
  0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00, // local.set $p (i32.add $p (i32.const 64))
  0x0c, 0x00, //                   br 0
  0x0b, 0x0b, 0x0b, //             end loop, end block, end func
];
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00, // type 0: (i32 i32 i32) -> ()
  0x03, 0x02, 0x01, 0x00, //       function 0 has type 0
  0x05, 0x03, 0x01, 0x00, 0x02, // one memory, 2 pages (128 KiB), no maximum
  0x07, 0x10, 0x02, //             two exports:
  0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, // "memory" = memory 0
  0x03, 0x78, 0x6f, 0x72, 0x00, 0x00, //                   "xor" = function 0
  0x0a, BODY.length + 2, 0x01, BODY.length, ...BODY, // code: one body (both sizes fit one LEB byte)
]);

/** Bytes per round trip through the module's memory: large enough that the call costs nothing, small enough for L2. */
const BLOCK_BYTES = 64 * 1024;

/** XORs `data[start, end)` in place; `key` is the mask word (little-endian) at `data[start]`'s phase. */
export type SimdUnmasker = (data: Uint8Array, start: number, end: number, key: number) => void;

/** The little of the WebAssembly JS API used here: the project's lib settings do not declare it. */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

export function createSimdUnmasker(): SimdUnmasker | undefined {
  let xor: (p: number, length: number, key: number) => void;
  let scratch: Uint8Array;
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (wasm === undefined || !wasm.validate(MODULE)) return undefined;
    const instance = new wasm.Instance(new wasm.Module(MODULE));
    const memory = instance.exports['memory'] as { buffer: ArrayBuffer };
    xor = instance.exports['xor'] as typeof xor;
    scratch = new Uint8Array(memory.buffer, 0, BLOCK_BYTES + 64);
  } catch {
    return undefined;
  }
  return (data, start, end, key) => {
    // BLOCK_BYTES is a multiple of 4, so every block after the first starts at the same phase.
    for (let at = start; at < end; at += BLOCK_BYTES) {
      const length = Math.min(BLOCK_BYTES, end - at);
      const block = data.subarray(at, at + length);
      scratch.set(block, 0);
      xor(0, length, key);
      block.set(scratch.subarray(0, length), 0);
    }
  };
}
