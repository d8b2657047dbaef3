/**
 * Byte-level mutations of valid streams: the inputs that find parser bugs are almost valid. Each mutation
 * is a pure function of the input and the PRNG. A dictionary lets a target add tokens of its protocol
 * (`Content-Length: `, `\r\n0\r\n\r\n`, a 64-bit WebSocket length...) to insert or overwrite with.
 */
import type { Random } from './engine.js';

export interface MutationOptions {
  /** Byte strings of the protocol worth inserting or writing over existing bytes. */
  readonly dictionary: readonly Uint8Array[];
  /** Another valid input, for splicing two streams together. */
  readonly donor: () => Uint8Array;
  /** Mutated inputs never grow past this many bytes. */
  readonly maxLength: number;
}

/** Bytes that mean something to a line- or length-based parser. */
const INTERESTING = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x3b, 0x7f, 0x80, 0xff, 0x7e, 0x7d, 0x88, 0x89];

type Mutation = (bytes: Uint8Array, random: Random, options: MutationOptions) => Uint8Array;

const join = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

const flipBit: Mutation = (bytes, random) => {
  if (bytes.length === 0) return bytes;
  const out = Uint8Array.from(bytes);
  out[random.int(out.length)]! ^= 1 << random.int(8);
  return out;
};

const setInteresting: Mutation = (bytes, random) => {
  if (bytes.length === 0) return bytes;
  const out = Uint8Array.from(bytes);
  out[random.int(out.length)] = random.chance(0.7) ? random.pick(INTERESTING) : random.int(256);
  return out;
};

const insertBytes: Mutation = (bytes, random) => {
  const at = random.int(bytes.length + 1);
  const inserted = random.chance(0.5) ? Uint8Array.of(random.pick(INTERESTING)) : random.bytes(random.range(1, 4));
  return join(bytes.subarray(0, at), inserted, bytes.subarray(at));
};

/** CR, LF or NUL where a line parser least expects one. */
const injectControl: Mutation = (bytes, random) => {
  const at = random.int(bytes.length + 1);
  const inserted = random.pick([Uint8Array.of(0x0d), Uint8Array.of(0x0a), Uint8Array.of(0x00), Uint8Array.of(0x0d, 0x0a), Uint8Array.of(0x0a, 0x0a)]);
  return join(bytes.subarray(0, at), inserted, bytes.subarray(at));
};

const deleteRange: Mutation = (bytes, random) => {
  if (bytes.length === 0) return bytes;
  const at = random.int(bytes.length);
  const n = random.range(1, Math.min(16, bytes.length - at));
  return join(bytes.subarray(0, at), bytes.subarray(at + n));
};

const duplicateRange: Mutation = (bytes, random) => {
  if (bytes.length === 0) return bytes;
  const at = random.int(bytes.length);
  const piece = bytes.subarray(at, at + random.range(1, 64));
  return join(bytes.subarray(0, at), piece, piece, bytes.subarray(at + piece.length));
};

/** One range many times: too many fields, too long a line, a flood of small frames. */
const repeatRange: Mutation = (bytes, random, options) => {
  if (bytes.length === 0) return bytes;
  const at = random.int(bytes.length);
  const piece = bytes.subarray(at, at + random.range(1, 40));
  const times = Math.min(random.range(2, 400), Math.floor((options.maxLength - bytes.length) / piece.length));
  if (times < 1) return bytes;
  return join(bytes.subarray(0, at), ...Array.from({ length: times }, () => piece), bytes.subarray(at));
};

const truncate: Mutation = (bytes, random) => bytes.subarray(0, random.int(bytes.length + 1));

/** The start of this input with the end of another: a message cut off and another one begun. */
const splice: Mutation = (bytes, random, options) => {
  const other = options.donor();
  return join(bytes.subarray(0, random.int(bytes.length + 1)), other.subarray(random.int(other.length + 1)));
};

const insertToken: Mutation = (bytes, random, options) => {
  const at = random.int(bytes.length + 1);
  return join(bytes.subarray(0, at), random.pick(options.dictionary), bytes.subarray(at));
};

const overwriteToken: Mutation = (bytes, random, options) => {
  const token = random.pick(options.dictionary);
  if (bytes.length === 0) return token;
  const at = random.int(bytes.length);
  return join(bytes.subarray(0, at), token, bytes.subarray(Math.min(bytes.length, at + token.length)));
};

/** A run of decimal or hex digits replaced by a huge number (Content-Length, chunk sizes). */
const hugeNumber: Mutation = (bytes, random) => {
  const isDigit = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
  const starts: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (isDigit(bytes[i]!) && (i === 0 || !isDigit(bytes[i - 1]!))) starts.push(i);
  if (starts.length === 0) return bytes;
  const at = random.pick(starts);
  let end = at;
  while (end < bytes.length && isDigit(bytes[end]!)) end++;
  const huge = random.pick(['99999999999999999999', '18446744073709551616', '9007199254740993', 'ffffffffffffffffff', '7fffffffffffffff', '00000000000000000001', '4294967296']);
  return join(bytes.subarray(0, at), Buffer.from(huge, 'latin1'), bytes.subarray(end));
};

const MUTATIONS: readonly Mutation[] = [
  flipBit, setInteresting, insertBytes, injectControl, deleteRange, duplicateRange, repeatRange,
  truncate, splice, insertToken, overwriteToken, hugeNumber,
];

/** `count` random mutations in a row; the result never exceeds `options.maxLength`. */
export function mutate(bytes: Uint8Array, random: Random, count: number, options: MutationOptions): Uint8Array {
  let out = bytes;
  for (let i = 0; i < count; i++) out = random.pick(MUTATIONS)(out, random, options);
  return out.length > options.maxLength ? out.subarray(0, options.maxLength) : out;
}
