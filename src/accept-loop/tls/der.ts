/**
 * A small, sans-IO DER (ITU-T X.690) encoder and reader: exactly what an X.509 certificate needs, bytes in
 * and bytes out, no socket and no state. It backs `self-signed-certificate.ts`; node:crypto makes the key
 * and the signature, and these functions write everything around them.
 *
 * How this works. Every DER value is a TLV: identifier octets (class, primitive/constructed bit, tag
 * number), length octets, then the contents. Each encoder returns one complete TLV; constructed values
 * (`sequence`, `set`, `explicit`) take already-encoded children and wrap them, so a certificate is
 * written bottom-up as nested calls that read like its ASN.1 module. DER is the one encoding of BER with
 * no choices left (X.690 §10, §11): definite lengths in the fewest octets, minimal INTEGERs, sorted SET
 * OF, zeroed unused bits, no fractional seconds. Each such rule is enforced at the function it concerns.
 * Misuse by the caller (an OID that cannot be, a year out of range) throws a `UsageError`: it is a bug
 * in our code, not input to answer.
 *
 * The reader, `readElement`, walks one TLV at an offset and returns a discriminated union: the element
 * (with views, not copies, of its contents), need-data when the bytes end early, or an error with a
 * stable code for anything DER forbids (indefinite or non-minimal lengths, for instance). It never throws
 * for what the bytes say. `readChildren` walks the contents of a constructed element.
 */
import { UsageError } from '../../errors.js';

/** The universal tags switchyard writes (X.680 §8.4), as the identifier octet DER puts on the wire. */
export const DerTag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  ObjectIdentifier: 0x06,
  Utf8String: 0x0c,
  PrintableString: 0x13,
  Ia5String: 0x16,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  /** SEQUENCE and SEQUENCE OF: universal 16 with the constructed bit (0x20). */
  Sequence: 0x30,
  /** SET and SET OF: universal 17 with the constructed bit. */
  Set: 0x31,
} as const;
export type DerTag = (typeof DerTag)[keyof typeof DerTag];

/** The two high bits of the first identifier octet (X.690 §8.1.2.2). */
export const DerClass = {
  Universal: 0,
  Application: 1,
  ContextSpecific: 2,
  Private: 3,
} as const;
export type DerClass = (typeof DerClass)[keyof typeof DerClass];

const CONSTRUCTED = 0x20;

// ── building blocks ─────────────────────────────────────────────────────────────────────────────────

/** Joins byte arrays into one new array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * The length octets. X.690 §10.1: DER always uses the definite form, and the short form (one octet) for
 * 0–127; from 128 on, the long form: 0x80 | n, then n big-endian octets with no leading zero octet.
 */
export function encodeLength(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new UsageError('ERR_DER_BAD_LENGTH', `a DER length must be a non-negative safe integer, got ${String(length)}`);
  }
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

/**
 * The identifier octets for a tag. X.690 §8.1.2: numbers up to 30 fit in the low five bits; from 31 on,
 * the low bits are all ones and the number follows in base 128, high groups first, with no leading 0x80
 * group (§8.1.2.4.2 c).
 */
export function encodeIdentifier(tagClass: DerClass, constructed: boolean, tagNumber: number): Uint8Array {
  if (!Number.isSafeInteger(tagNumber) || tagNumber < 0) {
    throw new UsageError('ERR_DER_BAD_TAG', `a tag number must be a non-negative safe integer, got ${String(tagNumber)}`);
  }
  const first = (tagClass << 6) | (constructed ? CONSTRUCTED : 0);
  if (tagNumber < 31) return Uint8Array.of(first | tagNumber);
  return concat([Uint8Array.of(first | 0x1f), base128(BigInt(tagNumber))]);
}

/** One TLV from identifier octets and contents. */
export function tlv(identifier: number | Uint8Array, contents: Uint8Array): Uint8Array {
  const head = typeof identifier === 'number' ? Uint8Array.of(identifier) : identifier;
  return concat([head, encodeLength(contents.length), contents]);
}

/** Base-128 groups, high first, the continuation bit on every group but the last (X.690 §8.19.2). */
function base128(value: bigint): Uint8Array {
  const groups = [Number(value & 0x7fn)];
  for (let rest = value >> 7n; rest > 0n; rest >>= 7n) groups.unshift(Number(rest & 0x7fn) | 0x80);
  return Uint8Array.from(groups);
}

// ── constructed ─────────────────────────────────────────────────────────────────────────────────────

/** SEQUENCE / SEQUENCE OF: the children in the order given (X.690 §8.9). */
export function sequence(...children: Uint8Array[]): Uint8Array {
  return tlv(DerTag.Sequence, concat(children));
}

/**
 * SET / SET OF. X.690 §11.6: DER sorts a SET OF by the encodings, as octet strings (a shorter one that is
 * a prefix of a longer one sorts first). For a SET with distinct single-octet tags (§10.3: ordered by
 * tag) the same byte order gives the same answer, so one function serves both.
 */
export function set(...children: Uint8Array[]): Uint8Array {
  return tlv(DerTag.Set, concat([...children].sort(compareBytes)));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * `[n] EXPLICIT`: a constructed context-specific wrapper around the complete inner encoding (X.690
 * §8.14.2), as X.509's `version [0] EXPLICIT` and `extensions [3] EXPLICIT` are.
 */
export function explicit(tagNumber: number, inner: Uint8Array, tagClass: DerClass = DerClass.ContextSpecific): Uint8Array {
  return tlv(encodeIdentifier(tagClass, true, tagNumber), inner);
}

/**
 * `[n] IMPLICIT`: the inner encoding with its identifier replaced (X.690 §8.14.3); the contents and the
 * primitive/constructed bit stay the inner type's. Takes a complete TLV so the call reads like the ASN.1,
 * e.g. `implicit(2, ia5String('localhost'))` for a GeneralName's `dNSName [2] IA5String`.
 */
export function implicit(tagNumber: number, inner: Uint8Array, tagClass: DerClass = DerClass.ContextSpecific): Uint8Array {
  const read = readElement(inner);
  if (read.type !== 'element' || read.element.end !== inner.length) {
    throw new UsageError('ERR_DER_BAD_INNER', 'implicit() takes exactly one complete DER element');
  }
  return tlv(encodeIdentifier(tagClass, read.element.constructed, tagNumber), read.element.contents);
}

// ── primitive ───────────────────────────────────────────────────────────────────────────────────────

/** BOOLEAN. X.690 §11.1: DER writes TRUE as 0xFF, never another non-zero octet. */
export function boolean(value: boolean): Uint8Array {
  return Uint8Array.of(DerTag.Boolean, 0x01, value ? 0xff : 0x00);
}

/** NULL: no contents (X.690 §8.8). */
export function nullValue(): Uint8Array {
  return Uint8Array.of(DerTag.Null, 0x00);
}

/**
 * INTEGER, two's complement in the fewest octets (X.690 §8.3.2: the first nine bits are never all zeros
 * or all ones). A `bigint` may be negative. A `Uint8Array` is read as an unsigned big-endian magnitude,
 * the way a serial number is generated: leading zero octets are dropped and one 0x00 is put back when
 * the high bit is set, since otherwise the value would read as negative.
 */
export function integer(value: bigint | Uint8Array): Uint8Array {
  return tlv(DerTag.Integer, typeof value === 'bigint' ? twosComplement(value) : unsignedMagnitude(value));
}

function unsignedMagnitude(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  const digits = bytes.subarray(start);
  if (digits.length === 0) return Uint8Array.of(0);
  return digits[0]! & 0x80 ? concat([Uint8Array.of(0), digits]) : Uint8Array.from(digits);
}

function twosComplement(value: bigint): Uint8Array {
  // The fewest n with -2^(8n-1) <= value < 2^(8n-1); a negative value is written as value + 2^(8n).
  let n = 1;
  while (value >= 1n << BigInt(8 * n - 1) || value < -(1n << BigInt(8 * n - 1))) n++;
  let rest = value < 0n ? value + (1n << BigInt(8 * n)) : value;
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

/**
 * OBJECT IDENTIFIER from dotted decimal. X.690 §8.19: the first two arcs share one subidentifier,
 * 40 × first + second (first is 0, 1 or 2; second is under 40 unless first is 2); every subidentifier is
 * base 128 with no leading 0x80 group. Arcs are bigints, so UUID-sized arcs (2.25.…) work too.
 */
export function objectIdentifier(dotted: string): Uint8Array {
  if (!/^\d+(\.\d+)+$/.test(dotted)) {
    throw new UsageError('ERR_DER_BAD_OID', `an OID is two or more dotted decimal arcs, got "${dotted}"`);
  }
  const arcs = dotted.split('.').map((arc) => BigInt(arc));
  const [first, second] = [arcs[0]!, arcs[1]!];
  if (first > 2n || (first < 2n && second >= 40n)) {
    throw new UsageError('ERR_DER_BAD_OID', `"${dotted}": the first arc is 0, 1 or 2, and the second under 40 unless the first is 2`);
  }
  return tlv(DerTag.ObjectIdentifier, concat([base128(first * 40n + second), ...arcs.slice(2).map(base128)]));
}

/**
 * BIT STRING: one octet counting the unused bits in the last octet, then the bits (X.690 §8.6.2).
 * §11.2.1: DER requires those unused bits to be zero, and an empty string has none.
 */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new UsageError('ERR_DER_BAD_BIT_STRING', `unused bits must be 0–7 (0 for an empty string), got ${String(unusedBits)}`);
  }
  if (bytes.length > 0 && (bytes[bytes.length - 1]! & ((1 << unusedBits) - 1)) !== 0) {
    throw new UsageError('ERR_DER_BAD_BIT_STRING', 'DER requires the unused bits of a BIT STRING to be zero');
  }
  return tlv(DerTag.BitString, concat([Uint8Array.of(unusedBits), bytes]));
}

/**
 * A BIT STRING of named bits, given by number (bit 0 is the high bit of the first octet), as X.509's
 * KeyUsage is. X.690 §11.2.2: DER drops trailing zero bits, so the string ends at the highest bit set.
 */
export function namedBits(bits: readonly number[]): Uint8Array {
  if (bits.length === 0) return bitString(new Uint8Array(0));
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0) throw new UsageError('ERR_DER_BAD_BIT_STRING', `a named bit is a non-negative integer, got ${String(bit)}`);
  }
  const highest = Math.max(...bits);
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const bit of bits) bytes[bit >> 3] |= 0x80 >> (bit & 7);
  return bitString(bytes, 7 - (highest & 7));
}

/** OCTET STRING (X.690 §8.7), the bytes as given. */
export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(DerTag.OctetString, bytes);
}

/** UTF8String: the UTF-8 encoding of the text. */
export function utf8String(text: string): Uint8Array {
  if (/\p{Cs}/u.test(text)) throw new UsageError('ERR_DER_BAD_STRING', 'a UTF8String cannot hold a lone surrogate');
  return tlv(DerTag.Utf8String, new TextEncoder().encode(text));
}

/** PrintableString: only A–Z a–z 0–9 space and ' ( ) + , - . / : = ? (X.680 §41.4). */
export function printableString(text: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)) {
    throw new UsageError('ERR_DER_BAD_STRING', `"${text}" has a character PrintableString does not allow`);
  }
  return tlv(DerTag.PrintableString, new TextEncoder().encode(text));
}

/** IA5String: 7-bit ASCII, what X.509 uses for a dNSName (RFC 5280 §4.2.1.6). */
export function ia5String(text: string): Uint8Array {
  if (!/^[\x00-\x7f]*$/.test(text)) throw new UsageError('ERR_DER_BAD_STRING', `"${text}" is not 7-bit ASCII (IA5String)`);
  return tlv(DerTag.Ia5String, new TextEncoder().encode(text));
}

// ── time ────────────────────────────────────────────────────────────────────────────────────────────

/**
 * UTCTime, `YYMMDDHHMMSSZ`. RFC 5280 §4.1.2.5.1: always in UTC with the Z, always with seconds, and the
 * two-digit year means 1950–2049; other years cannot be written as UTCTime. Milliseconds are dropped.
 */
export function utcTime(date: Date): Uint8Array {
  const year = checkedYear(date);
  if (year < 1950 || year > 2049) {
    throw new UsageError('ERR_DER_BAD_TIME', `UTCTime holds the years 1950–2049 (RFC 5280 §4.1.2.5.1), got ${year}`);
  }
  return tlv(DerTag.UtcTime, new TextEncoder().encode(`${timeDigits(date).slice(2)}Z`));
}

/**
 * GeneralizedTime, `YYYYMMDDHHMMSSZ`. RFC 5280 §4.1.2.5.2: in UTC with the Z, with seconds and without
 * fractional seconds, so milliseconds are dropped.
 */
export function generalizedTime(date: Date): Uint8Array {
  checkedYear(date);
  return tlv(DerTag.GeneralizedTime, new TextEncoder().encode(`${timeDigits(date)}Z`));
}

/**
 * X.509's `Time ::= CHOICE { utcTime, generalTime }`. RFC 5280 §4.1.2.5: dates through 2049 MUST be
 * UTCTime and dates from 2050 on MUST be GeneralizedTime; before 1950 only GeneralizedTime can say it.
 */
export function x509Time(date: Date): Uint8Array {
  const year = checkedYear(date);
  return year >= 1950 && year <= 2049 ? utcTime(date) : generalizedTime(date);
}

function checkedYear(date: Date): number {
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || year < 0 || year > 9999) {
    throw new UsageError('ERR_DER_BAD_TIME', `a DER time needs a valid date in the years 0000–9999, got ${String(date)}`);
  }
  return year;
}

/** `YYYYMMDDHHMMSS` in UTC. */
function timeDigits(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return String(date.getUTCFullYear()).padStart(4, '0') + two(date.getUTCMonth() + 1) + two(date.getUTCDate())
    + two(date.getUTCHours()) + two(date.getUTCMinutes()) + two(date.getUTCSeconds());
}

// ── reader ──────────────────────────────────────────────────────────────────────────────────────────

/** The stable `code` of every error the reader returns. */
export const DerReadErrorCode = {
  /** X.690 §10.1: DER forbids the indefinite length (0x80). */
  IndefiniteLength: 'ERR_DER_INDEFINITE_LENGTH',
  /** A long-form length that a shorter form could say (a leading zero octet, or under 128). */
  NonMinimalLength: 'ERR_DER_NON_MINIMAL_LENGTH',
  /** A length of more than four octets (4 GiB), more than this reader will ever be handed. */
  LengthTooLarge: 'ERR_DER_LENGTH_TOO_LARGE',
  /** A high tag number with a leading 0x80 group, or one that a single octet could hold. */
  NonMinimalTag: 'ERR_DER_NON_MINIMAL_TAG',
  /** A tag number beyond 2^32; no ASN.1 module switchyard reads has one. */
  TagTooLarge: 'ERR_DER_TAG_TOO_LARGE',
  /** `readChildren`: the contents of a constructed element end inside a child. */
  Truncated: 'ERR_DER_TRUNCATED',
} as const;
export type DerReadErrorCode = (typeof DerReadErrorCode)[keyof typeof DerReadErrorCode];

export interface DerElement {
  readonly tagClass: DerClass;
  readonly constructed: boolean;
  readonly tagNumber: number;
  /** The first identifier octet, e.g. 0x30 for a SEQUENCE: handy to compare with `DerTag`. */
  readonly tag: number;
  /** Where the element starts in the bytes given, and where its contents start and end. */
  readonly start: number;
  readonly contentsStart: number;
  readonly end: number;
  /** A view of the contents, not a copy. */
  readonly contents: Uint8Array;
}

export type DerRead =
  | { readonly type: 'element'; readonly element: DerElement }
  | { readonly type: 'need-data' }
  | { readonly type: 'error'; readonly code: DerReadErrorCode; readonly at: number };

export type DerChildren =
  | { readonly type: 'children'; readonly children: readonly DerElement[] }
  | { readonly type: 'error'; readonly code: DerReadErrorCode; readonly at: number };

/**
 * Reads the one TLV that starts at `offset`. Bytes after it are left alone (`element.end` says where the
 * next one starts). Need-data means the bytes end before the element does; calling again with more bytes
 * from the same start gives the same verdict however they were split, since nothing is remembered.
 */
export function readElement(bytes: Uint8Array, offset = 0): DerRead {
  let at = offset;
  if (at >= bytes.length) return { type: 'need-data' };
  const first = bytes[at++]!;
  let tagNumber = first & 0x1f;
  if (tagNumber === 0x1f) {
    // X.690 §8.1.2.4: the high-tag-number form; DER (like BER) forbids a leading 0x80 group.
    tagNumber = 0;
    for (;;) {
      if (at >= bytes.length) return { type: 'need-data' };
      const group = bytes[at++]!;
      if (tagNumber === 0 && group === 0x80) return { type: 'error', code: DerReadErrorCode.NonMinimalTag, at: at - 1 };
      tagNumber = tagNumber * 128 + (group & 0x7f);
      if (tagNumber > 0xffffffff) return { type: 'error', code: DerReadErrorCode.TagTooLarge, at: at - 1 };
      if ((group & 0x80) === 0) break;
    }
    if (tagNumber < 31) return { type: 'error', code: DerReadErrorCode.NonMinimalTag, at: offset };
  }
  if (at >= bytes.length) return { type: 'need-data' };
  const lengthAt = at;
  const lead = bytes[at++]!;
  let length = lead;
  if (lead === 0x80) return { type: 'error', code: DerReadErrorCode.IndefiniteLength, at: lengthAt };
  if (lead > 0x80) {
    const count = lead & 0x7f;
    if (count > 4) return { type: 'error', code: DerReadErrorCode.LengthTooLarge, at: lengthAt };
    if (at + count > bytes.length) return { type: 'need-data' };
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[at++]!;
    // X.690 §10.1: "the definite form of length encoding shall be used, encoded in the minimum number of octets".
    if (bytes[lengthAt + 1] === 0 || length < 0x80) return { type: 'error', code: DerReadErrorCode.NonMinimalLength, at: lengthAt };
  }
  // The length is checked against what is here before anything is sliced; nothing is allocated for it.
  if (length > bytes.length - at) return { type: 'need-data' };
  const element: DerElement = {
    tagClass: (first >> 6) as DerClass,
    constructed: (first & CONSTRUCTED) !== 0,
    tagNumber,
    tag: first,
    start: offset,
    contentsStart: at,
    end: at + length,
    contents: bytes.subarray(at, at + length),
  };
  return { type: 'element', element };
}

/**
 * The children of a constructed element, in order, read from its complete contents: here running out of
 * bytes is not need-data but a truncated value. An error's `at` is an offset into `contents`.
 */
export function readChildren(contents: Uint8Array): DerChildren {
  const children: DerElement[] = [];
  for (let at = 0; at < contents.length;) {
    const read = readElement(contents, at);
    if (read.type === 'error') return read;
    if (read.type === 'need-data') return { type: 'error', code: DerReadErrorCode.Truncated, at };
    children.push(read.element);
    at = read.element.end;
  }
  return { type: 'children', children };
}
