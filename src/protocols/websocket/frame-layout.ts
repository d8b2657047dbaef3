/**
 * WebSocket frames laid out for a teaching view (RFC 6455 §5.2), sans-IO: the raw bytes of one direction
 * of a connection go in through `receive`, one `FrameLayout` per frame comes out, with the §5.2 diagram
 * filled in with that frame's bits. The dashboard and `connect --hexdump` print it.
 *
 * It is lenient on purpose: it shows what is on the wire, it does not judge it (frame-codec.ts does).
 * Reserved opcodes, RSV bits (RSV1 is permessage-deflate's "compressed" bit), a 64-bit length with its top
 * bit set, a control frame over 125 bytes: all shown as sent.
 *
 * Memory stays bounded whatever the peer declares: the header (at most 14 bytes) and the first
 * `maxShownBytes` of each payload are kept, the rest is only counted. A close frame keeps up to 125 bytes
 * so its code and reason can be read even with a small preview. A 64-bit length beyond
 * Number.MAX_SAFE_INTEGER cannot be followed to its end: that frame is reported (complete: false) as soon as
 * its preview is full, and everything after it is taken to be its payload, which by the length it is.
 */

export interface FrameLayout {
  /** Byte offset of the frame's first byte in its direction's stream. */
  offset: number;
  /** 2..14; the size the header declares, even when fewer of its bytes arrived. */
  headerBytes: number;
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  /** 0..15 */
  opcode: number;
  /** 'continuation' | 'text' | 'binary' | 'close' | 'ping' | 'pong' | 'reserved (0x3)' … */
  opcodeName: string;
  masked: boolean;
  /** The 7-bit "Payload len" field as sent: 0..125, 126 or 127. */
  lengthField: number;
  lengthForm: '7-bit' | '7+16-bit' | '7+64-bit';
  /** The real length (from the extended field when 126/127), clamped to Number.MAX_SAFE_INTEGER. */
  payloadLength: number;
  /** The real length in decimal, exact even past 2^53 (then payloadLength is clamped). */
  exactLength: string;
  /** 8 hex digits, e.g. '37fa213d'. */
  maskingKey: string | null;
  /** How many payload bytes the hex/text cover: <= maxShownBytes and <= the bytes that arrived. */
  shownBytes: number;
  /** The shown payload as on the wire, space-separated hex pairs, when masked. */
  maskedHex: string | null;
  /** The shown payload unmasked, space-separated hex pairs. */
  payloadHex: string;
  /** Text frames (and their continuations, and ping/pong when valid UTF-8): the shown payload as UTF-8. */
  text: string | null;
  closeCode: number | null;
  closeReason: string | null;
  /** false when the stream ended (or the kept bytes ran out) inside this frame. */
  complete: boolean;
  /** Bytes of this frame that arrived, header included. */
  receivedBytes: number;
  /** The §5.2 diagram with this frame's values filled in. */
  diagram: string;
}

export interface FrameLayoutOptions {
  /** Payload bytes kept and shown per frame (default 64). */
  readonly maxShownBytes?: number;
  /** Where the first byte fed sits in its direction's stream (after the HTTP head, say); default 0. */
  readonly startOffset?: number;
}

const DEFAULT_MAX_SHOWN_BYTES = 64;
/** §5.5: a control frame's payload is at most 125 bytes; a close frame's code and reason fit in it. */
const CLOSE_KEEP_BYTES = 125;

const OPCODE_NAMES: Readonly<Record<number, string>> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

export function opcodeName(opcode: number): string {
  return OPCODE_NAMES[opcode] ?? `reserved (0x${opcode.toString(16)})`;
}

/** What the fragmented message in progress is, so its continuation frames can be shown as text. */
interface MessageState {
  readonly text: boolean;
  /** RFC 7692 §6: RSV1 on the first frame marks the whole message compressed. */
  readonly compressed: boolean;
}

export class FrameLayoutReader {
  readonly #maxShown: number;
  /** Stream offset of the next byte to be received. */
  #position = 0;
  #frameStart = 0;
  readonly #header = new Uint8Array(14);
  #headerHave = 0;
  /** 2 until the second byte is in, then the full header size. */
  #headerNeed = 2;
  #inPayload = false;
  #payloadLength = 0;
  #exactLength = 0n;
  #unfollowableLength = false;
  #kept = new Uint8Array(0);
  #keptHave = 0;
  #payloadSeen = 0;
  #message: MessageState | undefined;
  /** The message state this frame was decoded under (taken when its header completed). */
  #frameMessage: MessageState | undefined;
  /** After an unfollowable length: the rest of the stream is that frame's payload. */
  #swallowing = false;

  constructor(options: FrameLayoutOptions = {}) {
    const max = options.maxShownBytes ?? DEFAULT_MAX_SHOWN_BYTES;
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`maxShownBytes must be a non-negative integer, got ${max}`);
    this.#maxShown = max;
    this.#position = this.#frameStart = options.startOffset ?? 0;
  }

  receive(chunk: Uint8Array): FrameLayout[] {
    const frames: FrameLayout[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#swallowing) {
        this.#position += chunk.length - at;
        break;
      }
      if (!this.#inPayload) {
        const take = Math.min(this.#headerNeed - this.#headerHave, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + take), this.#headerHave);
        this.#headerHave += take;
        this.#position += take;
        at += take;
        if (this.#headerHave === 2) this.#headerNeed = headerSize(this.#header);
        if (this.#headerHave < this.#headerNeed) continue;
        this.#startPayload();
        if (this.#payloadLength === 0) frames.push(this.#finish(true));
        else if (this.#unfollowable() && this.#kept.length === 0) frames.push(this.#reportUnfollowable());
        continue;
      }
      // An unfollowable frame is reported the moment its preview fills, so that report does not depend
      // on where the chunks happened to end.
      const wanted = this.#unfollowable() ? this.#kept.length - this.#keptHave : this.#payloadLength - this.#payloadSeen;
      const take = Math.min(wanted, chunk.length - at);
      const keep = Math.min(take, this.#kept.length - this.#keptHave);
      if (keep > 0) {
        this.#kept.set(chunk.subarray(at, at + keep), this.#keptHave);
        this.#keptHave += keep;
      }
      this.#payloadSeen += take;
      this.#position += take;
      at += take;
      if (this.#unfollowable()) {
        if (this.#keptHave === this.#kept.length) frames.push(this.#reportUnfollowable());
      } else if (this.#payloadSeen === this.#payloadLength) {
        frames.push(this.#finish(true));
      }
    }
    return frames;
  }

  /** The stream ended: the frame it ended inside, if any, with complete: false. */
  end(): FrameLayout | null {
    if (this.#swallowing || (!this.#inPayload && this.#headerHave === 0)) return null;
    if (!this.#inPayload) this.#frameMessage = this.#message;
    return this.#finish(false);
  }

  #startPayload(): void {
    const header = this.#header;
    const lengthField = header[1]! & 0x7f;
    this.#exactLength = lengthField === 126 ? BigInt((header[2]! << 8) | header[3]!)
      : lengthField === 127 ? readUint64(header, 2) : BigInt(lengthField);
    this.#unfollowableLength = this.#exactLength > BigInt(Number.MAX_SAFE_INTEGER);
    this.#payloadLength = this.#unfollowableLength ? Number.MAX_SAFE_INTEGER : Number(this.#exactLength);
    const opcode = header[0]! & 0x0f;
    const keep = Math.min(this.#payloadLength, opcode === 8 ? Math.max(this.#maxShown, CLOSE_KEEP_BYTES) : this.#maxShown);
    this.#kept = new Uint8Array(keep);
    this.#keptHave = 0;
    this.#payloadSeen = 0;
    this.#inPayload = true;
    // A continuation frame is decoded under the message it continues; a data frame starts one.
    this.#frameMessage = this.#message;
    const fin = (header[0]! & 0x80) !== 0;
    if (opcode === 1 || opcode === 2) {
      this.#frameMessage = { text: opcode === 1, compressed: (header[0]! & 0x40) !== 0 };
      this.#message = fin ? undefined : this.#frameMessage;
    } else if (opcode === 0 && fin) {
      this.#message = undefined;
    }
  }

  #unfollowable(): boolean {
    return this.#inPayload && this.#unfollowableLength;
  }

  #reportUnfollowable(): FrameLayout {
    const layout = this.#finish(false);
    this.#swallowing = true;
    return layout;
  }

  #finish(complete: boolean): FrameLayout {
    const layout = buildLayout({
      offset: this.#frameStart,
      header: this.#header.subarray(0, this.#headerHave),
      headerNeed: this.#headerNeed,
      exactLength: this.#inPayload ? this.#exactLength : undefined,
      kept: this.#kept.subarray(0, this.#inPayload ? this.#keptHave : 0),
      payloadSeen: this.#inPayload ? this.#payloadSeen : 0,
      maxShown: this.#maxShown,
      message: this.#frameMessage,
      complete,
    });
    this.#frameStart = this.#position;
    this.#headerHave = 0;
    this.#headerNeed = 2;
    this.#inPayload = false;
    this.#kept = new Uint8Array(0);
    this.#keptHave = 0;
    this.#payloadSeen = 0;
    return layout;
  }
}

/** Lay out every frame in `bytes`; a frame cut off at the end comes back as `partial`. */
export function layoutFrames(bytes: Uint8Array, options?: FrameLayoutOptions): { frames: FrameLayout[]; partial: FrameLayout | null } {
  const reader = new FrameLayoutReader(options);
  const frames = reader.receive(bytes);
  return { frames, partial: reader.end() };
}

/** `-> text fin=1 masked=1 key=37fa213d len=5 "Hello"`, then the diagram. */
export function formatFrameLayout(frame: FrameLayout, direction?: string): string {
  const parts: string[] = [];
  if (direction) parts.push(direction);
  parts.push(frame.opcodeName, `fin=${bit(frame.fin)}`);
  if (frame.rsv1) parts.push('rsv1=1');
  if (frame.rsv2) parts.push('rsv2=1');
  if (frame.rsv3) parts.push('rsv3=1');
  parts.push(`masked=${bit(frame.masked)}`);
  if (frame.maskingKey !== null) parts.push(`key=${frame.maskingKey}`);
  parts.push(`len=${frame.exactLength}`);
  if (frame.closeCode !== null) parts.push(`code=${frame.closeCode}`, `reason=${quote(frame.closeReason ?? '')}`);
  else if (frame.text !== null) parts.push(quote(frame.text) + (frame.shownBytes < frame.payloadLength ? '…' : ''));
  else if (frame.rsv1 && frame.opcode !== 0) parts.push('(compressed, RFC 7692)');
  if (!frame.complete) parts.push(`(incomplete: ${frame.receivedBytes} of ${frame.headerBytes}+${frame.exactLength} bytes arrived)`);
  return parts.join(' ') + '\n' + frame.diagram.split('\n').map((line) => '   ' + line).join('\n');
}

// Building one layout.

interface LayoutInput {
  readonly offset: number;
  /** The header bytes that arrived (all of them unless the stream ended inside the header). */
  readonly header: Uint8Array;
  readonly headerNeed: number;
  /** undefined while the header is incomplete. */
  readonly exactLength: bigint | undefined;
  /** The kept payload bytes, as on the wire. */
  readonly kept: Uint8Array;
  readonly payloadSeen: number;
  readonly maxShown: number;
  readonly message: MessageState | undefined;
  readonly complete: boolean;
}

function buildLayout(input: LayoutInput): FrameLayout {
  const { header, kept } = input;
  const b0 = header[0] ?? 0;
  const haveB1 = header.length >= 2;
  const b1 = header[1] ?? 0;
  const opcode = b0 & 0x0f;
  const masked = haveB1 && (b1 & 0x80) !== 0;
  const lengthField = haveB1 ? b1 & 0x7f : 0;
  const lengthForm = lengthField === 126 ? '7+16-bit' : lengthField === 127 ? '7+64-bit' : '7-bit';
  const exact = input.exactLength ?? (haveB1 && lengthField < 126 ? BigInt(lengthField) : undefined);
  const headerDone = input.exactLength !== undefined;
  const payloadLength = exact === undefined ? 0 : exact > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(exact);
  const keyAt = input.headerNeed - 4;
  const key = masked && header.length >= input.headerNeed ? header.subarray(keyAt, keyAt + 4) : undefined;
  const unmasked = Uint8Array.from(kept, (byte, i) => (key ? byte ^ key[i & 3]! : byte));
  const shownBytes = Math.min(kept.length, input.maxShown);
  const shown = unmasked.subarray(0, shownBytes);
  const cut = shownBytes < payloadLength;

  let text: string | null = null;
  const compressed = input.message?.compressed ?? false;
  if (!headerDone) {
    // Nothing of the payload yet: no text to show, not even an empty one.
  } else if ((opcode === 1 || (opcode === 0 && input.message?.text === true)) && !compressed) {
    text = decode(shown, cut, false);
  } else if (opcode === 9 || opcode === 10) {
    text = decode(shown, cut, true);
  }
  let closeCode: number | null = null;
  let closeReason: string | null = null;
  if (opcode === 8 && unmasked.length >= 2) {
    closeCode = (unmasked[0]! << 8) | unmasked[1]!;
    closeReason = decode(unmasked.subarray(2), unmasked.length < payloadLength, false);
  }

  const layout: FrameLayout = {
    offset: input.offset,
    headerBytes: haveB1 ? input.headerNeed : 2,
    fin: (b0 & 0x80) !== 0,
    rsv1: (b0 & 0x40) !== 0,
    rsv2: (b0 & 0x20) !== 0,
    rsv3: (b0 & 0x10) !== 0,
    opcode,
    opcodeName: opcodeName(opcode),
    masked,
    lengthField,
    lengthForm,
    payloadLength,
    exactLength: exact === undefined ? '?' : exact.toString(),
    maskingKey: key ? hexString(key, '') : null,
    shownBytes,
    maskedHex: masked ? hexString(kept.subarray(0, shownBytes)) : null,
    payloadHex: hexString(shown),
    text,
    closeCode,
    closeReason,
    complete: input.complete,
    receivedBytes: header.length + input.payloadSeen,
    diagram: '',
  };
  layout.diagram = drawDiagram(layout, header, kept.subarray(0, shownBytes), payloadLength - input.payloadSeen);
  return layout;
}

function headerSize(header: Uint8Array): number {
  const lengthField = header[1]! & 0x7f;
  const extended = lengthField === 126 ? 2 : lengthField === 127 ? 8 : 0;
  return 2 + extended + ((header[1]! & 0x80) !== 0 ? 4 : 0);
}

function readUint64(bytes: Uint8Array, at: number): bigint {
  let value = 0n;
  for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(bytes[at + i]!);
  return value;
}

/** UTF-8 text; a cut-off preview drops a trailing partial character rather than showing U+FFFD for it. */
function decode(bytes: Uint8Array, cut: boolean, onlyIfValid: boolean): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: onlyIfValid }).decode(bytes, { stream: cut });
  } catch {
    return null;
  }
}

function hexString(bytes: Uint8Array, separator = ' '): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(separator);
}

const bit = (value: boolean): string => (value ? '1' : '0');

/** JSON-quoted, with C1 controls escaped too: a peer's text must not drive the terminal. */
function quote(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// The diagram. RFC 6455 §5.2 draws a frame as rows of 32 bits, two characters per bit, fields as boxes;
// here the boxes hold this frame's bits and bytes. The first row's 16 bits are fixed; after them come
// byte-sized fields (extended length, masking key, the start of the payload), split across rows where
// they cross one, then one full-width box with the payload preview.

interface Cell {
  /** Width in bits. */
  readonly bits: number;
  readonly lines: readonly string[];
}

const ROW_BITS = 32;

function drawDiagram(frame: FrameLayout, header: Uint8Array, shownWire: Uint8Array, missingPayload: number): string {
  const haveB1 = header.length >= 2;
  const b0 = header[0] ?? 0;
  const b1 = header[1] ?? 0;
  const bits = (value: number, count: number, known = true): string =>
    Array.from({ length: count }, (_, i) => (known ? String((value >> (count - 1 - i)) & 1) : '?')).join(' ');
  const opcodeHex = `%x${frame.opcode.toString(16).toUpperCase()}`;
  const rows: Cell[][] = [[
    { bits: 1, lines: ['F', 'I', 'N', ' ', bits(b0 >> 7, 1), ''] },
    { bits: 1, lines: ['R', 'S', 'V', '1', bits(b0 >> 6, 1), ''] },
    { bits: 1, lines: ['R', 'S', 'V', '2', bits(b0 >> 5, 1), ''] },
    { bits: 1, lines: ['R', 'S', 'V', '3', bits(b0 >> 4, 1), ''] },
    { bits: 4, lines: ['opcode', '(4)', '', '', bits(b0, 4), opcodeHex] },
    { bits: 1, lines: ['M', 'A', 'S', 'K', bits(b1 >> 7, 1, haveB1), ''] },
    { bits: 7, lines: ['Payload len', '(7)', '', '', bits(b1, 7, haveB1), haveB1 ? String(frame.lengthField) : '?'] },
  ]];

  // The byte fields after the first 16 bits, each as [label, its bytes, a decoded value for its last piece].
  const fields: Array<{ label: string; bytes: number; value: (i: number) => string; decoded?: string }> = [];
  if (haveB1) {
    const extended = frame.lengthField === 126 ? 2 : frame.lengthField === 127 ? 8 : 0;
    if (extended > 0) {
      fields.push({
        label: `Extended payload length (${extended * 8})`,
        bytes: extended,
        value: (i) => byteAt(header, 2 + i),
        decoded: `= ${frame.exactLength}`,
      });
    }
    if (frame.masked) {
      const at = 2 + extended;
      fields.push({ label: 'Masking-key', bytes: 4, value: (i) => byteAt(header, at + i), decoded: frame.maskingKey ?? '?' });
    }
  }
  let byte = 2;
  let rowCells = rows[0]!;
  let rowBytesLeft = 2;
  const place = (label: string, count: number, value: (i: number) => string, decoded?: string): void => {
    let done = 0;
    while (done < count) {
      if (rowBytesLeft === 0) { rowCells = []; rows.push(rowCells); rowBytesLeft = 4; }
      const piece = Math.min(count - done, rowBytesLeft);
      const base = label.replace(/ \(\d+\)$/, '');
      const continued = `${base} (continued)`.length <= piece * 16 - 1 ? `${base} (continued)` : `${base} (cont.)`;
      const name = done === 0 ? label : continued;
      const hex = Array.from({ length: piece }, (_, i) => value(done + i)).join(' ');
      const last = done + piece === count;
      const lines = rows.length === 1 ? [name, '', '', '', hex, last ? decoded ?? '' : ''] : [name, hex, ...(last && decoded ? [decoded] : [])];
      rowCells.push({ bits: piece * 8, lines });
      done += piece;
      rowBytesLeft -= piece;
      byte += piece;
    }
  };
  for (const field of fields) place(field.label, field.bytes, field.value, field.decoded);
  // The payload's first bytes finish the header's last row, where the RFC draws "Payload Data".
  const inRow = haveB1 ? Math.min(rowBytesLeft, frame.payloadLength) : 0;
  if (inRow > 0) place('Payload Data', inRow, (i) => byteAt(shownWire, i, '..'));

  const out: string[] = [ruler(0), ruler(1)];
  let above: Cell[] = [];
  for (const row of rows) {
    out.push(border(above, row));
    const height = Math.max(...row.map((cell) => cell.lines.length));
    for (let line = 0; line < height; line++) out.push(contentLine(row, line));
    above = row;
  }
  const preview = previewLines(frame, shownWire, missingPayload);
  if (preview.length > 0) {
    const full: Cell[] = [{ bits: ROW_BITS, lines: preview }];
    out.push(border(above, full));
    for (const text of preview) out.push('|' + (' ' + text).padEnd(ROW_BITS * 2 - 1) + '|');
    above = full;
  }
  out.push(border(above, []));
  out.push(...legend(frame));
  return out.join('\n');
}

function byteAt(bytes: Uint8Array, at: number, missing = '??'): string {
  const byte = bytes[at];
  return byte === undefined ? missing : byte.toString(16).padStart(2, '0');
}

/** The RFC's bit ruler: tens, then units, each digit over its bit's column. */
function ruler(which: 0 | 1): string {
  let line = '';
  for (let b = 0; b < ROW_BITS; b++) line += ' ' + (which === 0 ? (b % 10 === 0 ? String(b / 10) : ' ') : String(b % 10));
  return line.trimEnd();
}

/** The line between two rows: a '+' wherever a box edge meets it from above or below. */
function border(above: readonly Cell[], below: readonly Cell[]): string {
  const edges = new Set<number>();
  let extent = 0;
  for (const row of [above, below]) {
    let at = 0;
    if (row.length > 0) edges.add(0);
    for (const cell of row) { at += cell.bits; edges.add(at); }
    extent = Math.max(extent, at);
  }
  let line = '';
  for (let b = 0; b <= extent; b++) line += (edges.has(b) ? '+' : '-') + (b < extent ? '-' : '');
  return line;
}

function contentLine(row: readonly Cell[], line: number): string {
  let text = '|';
  for (const cell of row) text += center(cell.lines[line] ?? '', cell.bits * 2 - 1) + '|';
  return text;
}

function center(text: string, width: number): string {
  if (text.length >= width) return text.slice(0, width);
  const left = Math.ceil((width - text.length) / 2);
  return ' '.repeat(left) + text + ' '.repeat(width - text.length - left);
}

const HEX_PER_LINE = 16;
const TEXT_PER_LINE = 52;

function previewLines(frame: FrameLayout, shownWire: Uint8Array, missing: number): string[] {
  // An unfinished header has no payload yet; an empty payload has nothing to preview.
  if (frame.receivedBytes < frame.headerBytes || frame.payloadLength === 0) return [];
  const lines: string[] = [];
  const of = frame.shownBytes === frame.payloadLength ? 'all shown' : `first ${frame.shownBytes} shown`;
  lines.push(`Payload Data: ${frame.exactLength} bytes, ${of}`);
  const hexLines = (label: string, hex: string): void => {
    const pairs = hex === '' ? [] : hex.split(' ');
    if (pairs.length === 0) { lines.push(`${label.padEnd(9)}(none)`); return; }
    for (let i = 0; i < pairs.length; i += HEX_PER_LINE) {
      lines.push(`${(i === 0 ? label : '').padEnd(9)}${pairs.slice(i, i + HEX_PER_LINE).join(' ')}`);
    }
  };
  if (frame.masked) {
    hexLines('masked', hexString(shownWire));
    hexLines('unmasked', frame.payloadHex);
    if (frame.maskingKey !== null) lines.push(`         (byte i XOR masking-key byte i mod 4, RFC 6455 §5.3)`);
  } else {
    hexLines('bytes', frame.payloadHex);
  }
  if (frame.closeCode !== null) lines.push(`close    code ${frame.closeCode}, reason ${quote(frame.closeReason ?? '')}`);
  else if (frame.text !== null) {
    const quoted = quote(frame.text);
    for (let i = 0; i < quoted.length; i += TEXT_PER_LINE) lines.push(`${(i === 0 ? 'text' : '').padEnd(9)}${quoted.slice(i, i + TEXT_PER_LINE)}`);
  } else if (frame.rsv1 && frame.opcode !== 0) {
    lines.push('         RSV1=1: compressed (RFC 7692), not decoded here');
  }
  if (frame.exactLength !== String(frame.payloadLength)) lines.push(': a length past 2^53: the rest of the stream is this payload :');
  else if (!frame.complete && missing > 0) lines.push(`: the stream ended, ${missing} payload bytes short :`);
  else if (frame.shownBytes < frame.payloadLength) lines.push(`: ... ${frame.payloadLength - frame.shownBytes} more bytes not shown :`);
  return lines;
}

function legend(frame: FrameLayout): string[] {
  const name = frame.opcodeName.startsWith('reserved')
    ? `reserved ${frame.opcode & 0x8 ? 'control' : 'non-control'}` : frame.opcodeName;
  const opcodeBits = frame.opcode.toString(2).padStart(4, '0');
  const first = [
    `FIN=${bit(frame.fin)}${frame.fin ? ' (final fragment)' : ' (more fragments follow)'}`,
    `RSV1=${bit(frame.rsv1)} RSV2=${bit(frame.rsv2)} RSV3=${bit(frame.rsv3)}`,
    `opcode=${opcodeBits} (%x${frame.opcode.toString(16).toUpperCase()} ${name})`,
  ];
  const extended = frame.lengthField >= 126 ? `, Extended payload length=${frame.exactLength}` : '';
  if (frame.receivedBytes < 2) return [first.join('  '), 'MASK=? Payload len=? (the second byte never arrived)', `at byte ${frame.offset}: incomplete, ${frame.receivedBytes} byte arrived`];
  const second = [
    `MASK=${bit(frame.masked)}`,
    `Payload len=${frame.lengthField} (${frame.lengthForm}${extended})`,
    ...(frame.maskingKey !== null ? [`Masking-key=${frame.maskingKey}`] : []),
  ];
  const where = `at byte ${frame.offset}: ${frame.headerBytes}-byte header + ${frame.exactLength}-byte payload` +
    (frame.complete ? '' : `; incomplete, ${frame.receivedBytes} bytes arrived`);
  return [first.join('  '), second.join('  '), where];
}
