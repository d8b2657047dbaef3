/**
 * A sans-IO pcapng writer with synthesized IPv4/IPv6 + TCP, so a capture of what the lab served opens in
 * Wireshark / tshark and is followed and dissected like a real one. Nothing here touches a file or a
 * socket: every function returns the bytes of whole blocks, and the caller appends them to its file.
 *
 * Format: draft-ietf-opsawg-pcapng ("PCAP Next Generation (pcapng) Capture File Format"). Section numbers
 * below are those of draft -02: §3.1 general block structure, §3.5 options, §4.1 Section Header Block,
 * §4.2 Interface Description Block, §4.3 Enhanced Packet Block. All multi-byte fields are written
 * little-endian (the SHB's byte-order magic tells readers which order the section uses).
 *
 * Link type: LINKTYPE_RAW (101): each packet starts at its IP header (version nibble 4 or 6), so no
 * made-up Ethernet addresses are needed, and one interface carries both IPv4 and IPv6 conversations.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** LINKTYPE_RAW: "Raw IP; the packet begins with an IPv4 or IPv6 header" (tcpdump.org link-layer types). */
export const LINKTYPE_RAW = 101;

const SHB_TYPE = 0x0a0d0d0a;
const IDB_TYPE = 0x00000001;
const EPB_TYPE = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const IF_NAME = 2;
const SHB_USERAPPL = 4;

const encoder = new TextEncoder();

/** Rounds up to the next multiple of 4: every block and every option value is padded to 32 bits (§3.1, §3.5). */
const pad4 = (n: number): number => (n + 3) & ~3;

/** One option (§3.5): code (16), length (16), value, zero padding to 32 bits. */
function option(code: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + pad4(value.length));
  const view = new DataView(out.buffer);
  view.setUint16(0, code, true);
  view.setUint16(2, value.length, true);
  out.set(value, 4);
  return out;
}

/** The options list: the given options then opt_endofopt; empty (no bytes at all) when there are none. */
function options(list: ReadonlyArray<readonly [number, string | Uint8Array | undefined]>): Uint8Array {
  const parts = list
    .filter((entry): entry is readonly [number, string | Uint8Array] => entry[1] !== undefined)
    .map(([code, value]) => option(code, typeof value === 'string' ? encoder.encode(value) : value));
  if (parts.length === 0) return new Uint8Array(0);
  parts.push(option(OPT_ENDOFOPT, new Uint8Array(0)));
  return concat(parts);
}

/**
 * A block (§3.1): Block Type, Block Total Length, body (padded to 32 bits), Block Total Length again.
 * The trailing copy of the length lets a reader walk the file backwards.
 */
function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + pad4(body.length);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  out.set(body, 8);
  view.setUint32(total - 4, total, true);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

/**
 * Section Header Block (§4.1): byte-order magic, version 1.0, section length -1 ("not specified", so the
 * file can grow while it is written), then shb_userappl and an optional opt_comment.
 */
export function sectionHeaderBlock(opts: { readonly application?: string; readonly comment?: string } = {}): Uint8Array {
  const fixed = new Uint8Array(16);
  const view = new DataView(fixed.buffer);
  view.setUint32(0, BYTE_ORDER_MAGIC, true);
  view.setUint16(4, 1, true); // major version
  view.setUint16(6, 0, true); // minor version
  view.setBigInt64(8, -1n, true); // section length: unknown
  return block(SHB_TYPE, concat([fixed, options([[OPT_COMMENT, opts.comment], [SHB_USERAPPL, opts.application ?? 'switchyard']])]));
}

/**
 * Interface Description Block (§4.2): link type, reserved, SnapLen 0 (no limit), if_name. No if_tsresol
 * option, so timestamps are in the default resolution of 10^-6 s (microseconds).
 */
export function interfaceDescriptionBlock(opts: { readonly linkType?: number; readonly name?: string } = {}): Uint8Array {
  const fixed = new Uint8Array(8);
  const view = new DataView(fixed.buffer);
  view.setUint16(0, opts.linkType ?? LINKTYPE_RAW, true);
  view.setUint32(4, 0, true); // SnapLen: 0 means no limit
  return block(IDB_TYPE, concat([fixed, options([[IF_NAME, opts.name ?? 'switchyard']])]));
}

/** Milliseconds since the epoch (Date.now(), or performance.timeOrigin + performance.now()) as microseconds. */
export function microseconds(atMs: number): bigint {
  return BigInt(Math.round(atMs * 1000));
}

/**
 * Enhanced Packet Block (§4.3): Interface ID, Timestamp (upper 32, lower 32 bits of a 64-bit count of
 * if_tsresol units since 1970), Captured and Original Packet Length, the packet padded to 32 bits, and an
 * optional opt_comment (tshark shows it as `frame.comment`).
 */
export function enhancedPacketBlock(packet: Uint8Array, atMs: number, opts: { readonly interfaceId?: number; readonly comment?: string; readonly originalLength?: number } = {}): Uint8Array {
  const fixed = new Uint8Array(20);
  const view = new DataView(fixed.buffer);
  const ts = microseconds(atMs);
  view.setUint32(0, opts.interfaceId ?? 0, true);
  view.setUint32(4, Number(ts >> 32n), true);
  view.setUint32(8, Number(ts & 0xffffffffn), true);
  view.setUint32(12, packet.length, true);
  view.setUint32(16, opts.originalLength ?? packet.length, true);
  const body = new Uint8Array(20 + pad4(packet.length));
  body.set(fixed, 0);
  body.set(packet, 20);
  return block(EPB_TYPE, concat([body, options([[OPT_COMMENT, opts.comment]])]));
}

/**
 * The "capture cut here" notice written once a size cap is reached: an EPB that holds none of the packet
 * that did not fit (captured length 0, original length `withheldLength`, that packet's real length; 40,
 * an IPv4 + TCP header, by default) and an opt_comment saying why. tshark lists it as a frame with
 * `frame.comment` set and "[Packet size limited during capture]", which is what happened; with an original
 * length of 0 too it would call the frame malformed. An SHB comment would only be seen by `capinfos`, and
 * only if written at the start of the file, before anyone knows the cap will be reached.
 */
export function captureCutBlock(capBytes: number, atMs: number, opts: { readonly interfaceId?: number; readonly withheldLength?: number } = {}): Uint8Array {
  return enhancedPacketBlock(new Uint8Array(0), atMs, {
    interfaceId: opts.interfaceId ?? 0,
    originalLength: opts.withheldLength ?? 40,
    comment: `capture cut at ${capBytes} bytes (--pcap-max-bytes); later packets were not written`,
  });
}

// ---------------------------------------------------------------------------------------------------
// IP and TCP

/** The Internet checksum (RFC 1071): one's-complement of the one's-complement sum of 16-bit words. */
export function internetChecksum(...parts: readonly Uint8Array[]): number {
  let sum = 0;
  let odd = false; // the previous part ended inside a 16-bit word: this part's first byte is its low half
  for (const part of parts) {
    sum += onesSum(part, odd);
    if (part.length % 2 === 1) odd = !odd;
  }
  return finish(sum);
}

/**
 * The one's-complement sum of `bytes` as big-endian 16-bit words (shifted a byte when `odd`), not yet
 * folded. RFC 1071 §2(C): 2^16 ≡ 1 (mod 2^16 − 1), so 32-bit words may be added instead of 16-bit ones and
 * folded at the end; a float64 holds 2^21 of them exactly, more than any 64 KiB segment has. Four bytes
 * per step is what keeps a 64 KiB echo's capture from costing more than its socket.
 */
function onesSum(bytes: Uint8Array, odd: boolean): number {
  let sum = 0;
  let i = 0;
  const n = bytes.length;
  if (odd && n > 0) { sum += bytes[0]!; i = 1; }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (; i + 4 <= n; i += 4) sum += view.getUint32(i);
  for (; i + 2 <= n; i += 2) sum += view.getUint16(i);
  if (i < n) sum += bytes[i]! << 8;
  return sum;
}

/** Fold a running sum to 16 bits (end-around carries, as mod 0xffff) and complement it. */
function finish(sum: number): number {
  let folded = sum % 0xffff;
  if (folded === 0 && sum !== 0) folded = 0xffff; // one's complement has two zeros; a non-zero sum is 0xffff
  return ~folded & 0xffff;
}

/** `127.0.0.1` as 4 bytes. */
function ipv4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split('.').map(Number));
}

/** An IPv6 address (with `::`, an embedded dotted quad, or a `%zone`) as 16 bytes (RFC 4291 §2.2). */
export function ipv6Bytes(address: string): Uint8Array {
  let text = address.split('%')[0]!;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = ipv4Bytes(quad[1]!);
    text = text.slice(0, quad.index) + `${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = new Uint8Array(16);
  groups.forEach((group, i) => { const n = parseInt(group, 16); out[2 * i] = n >> 8; out[2 * i + 1] = n & 0xff; });
  return out;
}

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) is the IPv4 address 1.2.3.4. */
function unmapped(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

export interface Endpoint { readonly address: string; readonly port: number }

const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10;
const PROTOCOL_TCP = 6;
const TCP_HEADER = 20;
const WINDOW = 65535;

interface Segment { readonly seq: number; readonly ack: number; readonly flags: number; readonly payload?: Uint8Array }

/**
 * One side's addresses, packed once: `ip` builds the IP header around a TCP segment, `pseudo` the
 * pseudo-header the TCP checksum covers.
 */
interface Path {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly version: 4 | 6;
  /** The pseudo-header's addresses summed once: they are the same in every packet this way. */
  readonly addressSum: number;
}

function pathOf(src: Uint8Array, dst: Uint8Array, version: 4 | 6): Path {
  return { src, dst, version, addressSum: onesSum(src, false) + onesSum(dst, false) };
}

const TWO_32 = 2 ** 32;

/**
 * One packet as a whole EPB (§4.3) in one allocation, the payload copied once: the block header, the IP
 * header (IPv4, RFC 791 §3.1: IHL 5, DF, TTL 64, header checksum; or IPv6, RFC 8200 §3: hop limit 64),
 * the TCP header (RFC 9293 §3.1: data offset 5, no options, window 65535, checksum over the pseudo-header
 * (for IPv6 RFC 8200 §8.1), header and data, urgent pointer 0), the payload, padding, the trailing length.
 * Building it piece by piece (segment, then packet, then block) would copy a 64 KiB payload three times.
 */
function packetBlock(path: Path, srcPort: number, dstPort: number, segment: Segment, ipId: number, atMs: number, interfaceId: number): Uint8Array {
  const payload = segment.payload ?? EMPTY;
  const ipHeader = path.version === 4 ? 20 : 40;
  const packetLength = ipHeader + TCP_HEADER + payload.length;
  const total = 28 + pad4(packetLength) + 4;
  // Not zero-filled (a 64 KiB memset per packet) and, for small packets, carved from Node's shared pool
  // rather than an ArrayBuffer each: every byte is written below, the padding included.
  const out = Buffer.allocUnsafe(total);
  const view = new DataView(out.buffer, out.byteOffset, total);
  // Microseconds as a plain number (exact below 2^53, i.e. until the year 2255): BigInt costs more per packet.
  const micros = Math.round(atMs * 1000);
  view.setUint32(0, EPB_TYPE, true);
  view.setUint32(4, total, true);
  view.setUint32(8, interfaceId, true);
  view.setUint32(12, Math.floor(micros / TWO_32), true);
  view.setUint32(16, micros % TWO_32, true);
  out.fill(0, 28 + packetLength, total - 4);
  view.setUint32(20, packetLength, true);
  view.setUint32(24, packetLength, true);
  view.setUint32(total - 4, total, true);
  const ip = 28;
  const tcpLength = TCP_HEADER + payload.length;
  if (path.version === 4) {
    view.setUint8(ip, 0x45);
    view.setUint8(ip + 1, 0);
    view.setUint16(ip + 2, packetLength);
    view.setUint16(ip + 4, ipId & 0xffff);
    view.setUint16(ip + 6, 0x4000); // flags: Don't Fragment; fragment offset 0
    view.setUint8(ip + 8, 64);
    view.setUint8(ip + 9, PROTOCOL_TCP);
    view.setUint16(ip + 10, 0);
    out.set(path.src, ip + 12);
    out.set(path.dst, ip + 16);
    view.setUint16(ip + 10, finish(onesSum(out.subarray(ip, ip + 20), false)));
  } else {
    view.setUint32(ip, 0x60000000);
    view.setUint16(ip + 4, tcpLength);
    view.setUint8(ip + 6, PROTOCOL_TCP);
    view.setUint8(ip + 7, 64);
    out.set(path.src, ip + 8);
    out.set(path.dst, ip + 24);
  }
  const tcp = ip + ipHeader;
  view.setUint16(tcp, srcPort);
  view.setUint16(tcp + 2, dstPort);
  view.setUint32(tcp + 4, segment.seq >>> 0);
  view.setUint32(tcp + 8, segment.ack >>> 0);
  view.setUint8(tcp + 12, (TCP_HEADER / 4) << 4);
  view.setUint8(tcp + 13, segment.flags);
  view.setUint16(tcp + 14, WINDOW);
  view.setUint32(tcp + 16, 0); // checksum (filled in below) and urgent pointer
  out.set(payload, tcp + TCP_HEADER);
  // The pseudo-header's words (addresses, protocol, TCP length) are added straight into the sum.
  let sum = path.addressSum + PROTOCOL_TCP + tcpLength;
  sum += onesSum(out.subarray(tcp, tcp + tcpLength), false);
  view.setUint16(tcp + 16, finish(sum));
  return out;
}

const EMPTY = new Uint8Array(0);

/** A deterministic 32-bit initial sequence number from the 4-tuple (FNV-1a), so a capture is reproducible. */
function isnOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

export interface TcpConversationOptions {
  /** The peer that connected (the socket's remote end). */
  readonly client: Endpoint;
  /** The lab's end (the socket's local end). */
  readonly server: Endpoint;
  /**
   * Largest payload per segment. Default loopback-sized: 65495 over IPv4 (what Linux's `lo`, MTU 65536,
   * advertises), 20 less over IPv6 for its longer header. Capped so the IPv4 total length / IPv6 payload
   * length (16-bit fields) cannot overflow.
   */
  readonly mss?: number;
  /** The IDB these packets belong to; default 0. */
  readonly interfaceId?: number;
}

/**
 * One connection as TCP packets. `in` is client → server (bytes the lab read), `out` is server → client
 * (bytes the lab wrote). Every method returns EPBs to append to the file. Each data segment is followed by
 * the peer's pure ACK of it, so nothing is ever in flight beyond the 65535-byte window and Wireshark's
 * sequence analysis finds no gap, retransmission or full window.
 *
 * ISNs are deterministic (FNV-1a hashes of the 4-tuple, one per side), not random: RFC 9293 §3.4.1
 * asks real stacks for unpredictable ISNs against spoofing, which a synthesized capture does not need.
 */
export class TcpConversation {
  private readonly toServer: Path;
  private readonly toClient: Path;
  private readonly mss: number;
  private readonly interfaceId: number;
  /** Next sequence number each side will send. */
  private clientSeq: number;
  private serverSeq: number;
  private ipId = 0;
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(private readonly options: TcpConversationOptions) {
    const client = options.client.address, server = options.server.address;
    const v4 = isIPv4(unmapped(client)) && isIPv4(unmapped(server));
    const isIp = (address: string): boolean => isIPv4(address) || isIPv6(address.split('%')[0]!);
    for (const address of [client, server]) if (!isIp(address)) throw new Error(`not an IP address: ${address}`);
    const bytes = (address: string): Uint8Array => v4 ? ipv4Bytes(unmapped(address)) : ipv6Bytes(isIPv4(address) ? `::ffff:${address}` : address);
    const version = v4 ? 4 : 6;
    this.toServer = pathOf(bytes(client), bytes(server), version);
    this.toClient = pathOf(bytes(server), bytes(client), version);
    this.mss = Math.max(1, Math.min(options.mss ?? (v4 ? 65495 : 65475), v4 ? 65535 - 40 : 65535 - 20));
    this.interfaceId = options.interfaceId ?? 0;
    const key = `${client}:${options.client.port}>${server}:${options.server.port}`;
    this.clientSeq = isnOf(key);
    this.serverSeq = isnOf(`${key}/server`);
  }

  /** The IP version the packets use: 4 when both ends are IPv4 (or IPv4-mapped), else 6. */
  get ipVersion(): 4 | 6 { return this.toServer.version; }

  private packet(fromClient: boolean, segment: Segment, at: number): Uint8Array {
    const path = fromClient ? this.toServer : this.toClient;
    const [src, dst] = fromClient ? [this.options.client.port, this.options.server.port] : [this.options.server.port, this.options.client.port];
    return packetBlock(path, src, dst, segment, this.ipId++, at, this.interfaceId);
  }

  /** The three-way handshake (RFC 9293 §3.5, Figure 6): SYN, SYN-ACK, ACK, all at `at`. */
  open(at: number): Uint8Array[] {
    if (this.state !== 'new') return [];
    this.state = 'open';
    const syn = this.packet(true, { seq: this.clientSeq, ack: 0, flags: TCP_SYN }, at);
    this.clientSeq = (this.clientSeq + 1) >>> 0; // SYN occupies one sequence number
    const synAck = this.packet(false, { seq: this.serverSeq, ack: this.clientSeq, flags: TCP_SYN | TCP_ACK }, at);
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    const ack = this.packet(true, { seq: this.clientSeq, ack: this.serverSeq, flags: TCP_ACK }, at);
    return [syn, synAck, ack];
  }

  /** `bytes` sent in one direction, split at the MSS, PSH on the last segment, each ACKed by the peer. */
  data(direction: 'in' | 'out', bytes: Uint8Array, at: number): Uint8Array[] {
    if (this.state === 'new') throw new Error('data before open');
    if (this.state === 'closed' || bytes.length === 0) return [];
    const fromClient = direction === 'in';
    const blocks: Uint8Array[] = [];
    for (let offset = 0; offset < bytes.length; offset += this.mss) {
      const payload = bytes.subarray(offset, offset + this.mss);
      const last = offset + this.mss >= bytes.length;
      const [seq, ack] = fromClient ? [this.clientSeq, this.serverSeq] : [this.serverSeq, this.clientSeq];
      blocks.push(this.packet(fromClient, { seq, ack, flags: TCP_ACK | (last ? TCP_PSH : 0), payload }, at));
      const next = (seq + payload.length) >>> 0;
      if (fromClient) this.clientSeq = next; else this.serverSeq = next;
      blocks.push(this.packet(!fromClient, { seq: ack, ack: next, flags: TCP_ACK }, at));
    }
    return blocks;
  }

  /**
   * `length` bytes sent in one direction that the capture leaves out (the disk fell behind): the sequence
   * numbers move on as if they had been written, so Wireshark reports "previous segment not captured", as
   * it would for a real capture that lost packets, instead of a stream that silently joins up. Returns how
   * many packets (segments and their ACKs) were left out.
   */
  skip(direction: 'in' | 'out', length: number): number {
    if (this.state !== 'open' || length === 0) return 0;
    if (direction === 'in') this.clientSeq = (this.clientSeq + length) >>> 0;
    else this.serverSeq = (this.serverSeq + length) >>> 0;
    return 2 * Math.ceil(length / this.mss);
  }

  /**
   * The close. Orderly (RFC 9293 §3.6, Figure 12): FIN-ACK from `by`, the peer's FIN-ACK acknowledging
   * it, then `by`'s last ACK. With `reset` (§3.5.2): one RST-ACK from `by`, nothing after it.
   */
  close(by: 'client' | 'server', at: number, reset = false): Uint8Array[] {
    if (this.state !== 'open') return [];
    this.state = 'closed';
    const fromClient = by === 'client';
    const mine = fromClient ? this.clientSeq : this.serverSeq;
    const theirs = fromClient ? this.serverSeq : this.clientSeq;
    if (reset) return [this.packet(fromClient, { seq: mine, ack: theirs, flags: TCP_RST | TCP_ACK }, at)];
    const fin = this.packet(fromClient, { seq: mine, ack: theirs, flags: TCP_FIN | TCP_ACK }, at);
    const finAck = this.packet(!fromClient, { seq: theirs, ack: (mine + 1) >>> 0, flags: TCP_FIN | TCP_ACK }, at);
    const lastAck = this.packet(fromClient, { seq: (mine + 1) >>> 0, ack: (theirs + 1) >>> 0, flags: TCP_ACK }, at);
    const [c, s] = fromClient ? [mine + 1, theirs + 1] : [theirs + 1, mine + 1];
    this.clientSeq = c >>> 0; this.serverSeq = s >>> 0;
    return [fin, finAck, lastAck];
  }
}
