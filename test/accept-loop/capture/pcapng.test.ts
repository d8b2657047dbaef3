/**
 * The sans-IO pcapng writer and its synthesized TCP: the block structure checked byte by byte, the IPv4
 * and TCP checksums recomputed here independently, and Debian's tshark as the judge of the whole file
 * (handshake, HTTP upgrade, WebSocket frames, IPv4 and IPv6, no sequence-analysis complaints).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  captureCutBlock, concat, enhancedPacketBlock, interfaceDescriptionBlock, ipv6Bytes, sectionHeaderBlock, TcpConversation,
} from '../../../src/accept-loop/capture/pcapng.js';
import { requireCommand } from '../../helpers/require-command.js';

interface Block { readonly type: number; readonly body: Uint8Array; readonly offset: number }

/** Walks a little-endian pcapng file block by block, asserting §3.1's framing on the way. */
function blocks(file: Uint8Array): Block[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out: Block[] = [];
  let offset = 0;
  while (offset < file.length) {
    const type = view.getUint32(offset, true);
    const total = view.getUint32(offset + 4, true);
    assert.equal(total % 4, 0, `block at ${offset}: length ${total} is not a multiple of 4`);
    assert.ok(total >= 12 && offset + total <= file.length, `block at ${offset}: length ${total} overruns the file`);
    assert.equal(view.getUint32(offset + total - 4, true), total, `block at ${offset}: trailing length differs`);
    out.push({ type, body: file.subarray(offset + 8, offset + total - 4), offset });
    offset += total;
  }
  return out;
}

/** Options (§3.5) from `at` in a block body: code → UTF-8 values. */
function optionsOf(body: Uint8Array, at: number): Map<number, string> {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const found = new Map<number, string>();
  while (at < body.length) {
    const code = view.getUint16(at, true), length = view.getUint16(at + 2, true);
    if (code === 0) { assert.equal(length, 0); assert.equal(at + 4, body.length, 'bytes after opt_endofopt'); break; }
    found.set(code, Buffer.from(body.subarray(at + 4, at + 4 + length)).toString('utf8'));
    at += 4 + ((length + 3) & ~3);
  }
  return found;
}

/** An EPB's packet bytes and timestamp in microseconds. */
function epb(block: Block): { packet: Uint8Array; micros: bigint; comment?: string } {
  assert.equal(block.type, 6);
  const view = new DataView(block.body.buffer, block.body.byteOffset, block.body.byteLength);
  const micros = (BigInt(view.getUint32(4, true)) << 32n) | BigInt(view.getUint32(8, true));
  const captured = view.getUint32(12, true);
  const original = view.getUint32(16, true);
  assert.ok(captured === original || (captured === 0 && original > 0), `captured ${captured} of ${original}`);
  const packet = block.body.subarray(20, 20 + captured);
  const comment = optionsOf(block.body, 20 + ((captured + 3) & ~3)).get(1);
  return comment === undefined ? { packet, micros } : { packet, micros, comment };
}

/** RFC 1071 written the plain way: add all 16-bit words as a big number, fold once at the end. */
function sum16(bytes: Uint8Array): number {
  let total = 0;
  for (let i = 0; i < bytes.length; i += 2) total += bytes[i]! * 256 + (bytes[i + 1] ?? 0);
  while (total > 0xffff) total = Math.floor(total / 65536) + (total % 65536);
  return total;
}

/** Verifies the IP header and TCP checksums of one raw packet; returns its TCP header fields. */
function checkPacket(packet: Uint8Array): { version: number; srcPort: number; dstPort: number; seq: number; ack: number; flags: number; payload: Uint8Array } {
  const version = packet[0]! >> 4;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  let pseudo: Uint8Array, tcp: Uint8Array;
  if (version === 4) {
    assert.equal(packet[0], 0x45);
    assert.equal(view.getUint16(2), packet.length, 'IPv4 total length');
    assert.equal(packet[9], 6);
    assert.equal(sum16(packet.subarray(0, 20)), 0xffff, 'IPv4 header checksum');
    tcp = packet.subarray(20);
    pseudo = new Uint8Array([...packet.subarray(12, 20), 0, 6, tcp.length >> 8, tcp.length & 0xff]);
  } else {
    assert.equal(version, 6);
    assert.equal(view.getUint16(4), packet.length - 40, 'IPv6 payload length');
    assert.equal(packet[6], 6);
    tcp = packet.subarray(40);
    pseudo = new Uint8Array([...packet.subarray(8, 40), 0, 0, tcp.length >> 8, tcp.length & 0xff, 0, 0, 0, 6]);
  }
  assert.equal(sum16(new Uint8Array([...pseudo, ...tcp])), 0xffff, 'TCP checksum');
  const t = new DataView(tcp.buffer, tcp.byteOffset, tcp.byteLength);
  return { version, srcPort: t.getUint16(0), dstPort: t.getUint16(2), seq: t.getUint32(4), ack: t.getUint32(8), flags: tcp[13]!, payload: tcp.subarray((tcp[12]! >> 4) * 4) };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A WebSocket frame (RFC 6455 §5.2), masked when `mask` is given; payloads under 126 bytes only. */
function wsFrame(opcode: number, payload: Uint8Array, mask?: Uint8Array): Uint8Array {
  assert.ok(payload.length < 126);
  const head = [0x80 | opcode, (mask ? 0x80 : 0) | payload.length, ...(mask ?? [])];
  return new Uint8Array([...head, ...payload.map((b, i) => (mask ? b ^ mask[i % 4]! : b))]);
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = createHash('sha1').update(KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
const SERVER_PORT = 18080;
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5) + 0.678; // milliseconds with a sub-millisecond part

/** One WebSocket session on a conversation: upgrade, a text frame and its echo, a close handshake. */
function websocketSession(conversation: TcpConversation, message: string, t: number, extra = new Uint8Array(0)): Uint8Array[] {
  const close = new Uint8Array([0x03, 0xe8]); // 1000, normal closure
  return [
    ...conversation.open(t),
    ...conversation.data('in', text(`GET /chat HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`), t + 1),
    ...conversation.data('out', text(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`), t + 2),
    ...conversation.data('in', wsFrame(1, text(message), new Uint8Array([0x37, 0xfa, 0x21, 0x3d])), t + 3),
    ...conversation.data('out', wsFrame(1, text(message)), t + 4),
    ...conversation.data('out', extra, t + 4.5),
    ...conversation.data('in', wsFrame(8, close, new Uint8Array([1, 2, 3, 4])), t + 5),
    ...conversation.data('out', wsFrame(8, close), t + 6),
  ];
}

describe('pcapng blocks', () => {
  it('frames the SHB, IDB and EPB with 32-bit padding and a trailing length', () => {
    const file = concat([
      sectionHeaderBlock({ comment: 'hello' }),
      interfaceDescriptionBlock({ name: 'lab0' }),
      enhancedPacketBlock(new Uint8Array([1, 2, 3, 4, 5]), T0, { comment: 'odd' }),
    ]);
    const [shb, idb, packet, ...rest] = blocks(file);
    assert.equal(rest.length, 0);
    assert.equal(shb!.type, 0x0a0d0d0a);
    const shbView = new DataView(shb!.body.buffer, shb!.body.byteOffset);
    assert.equal(shbView.getUint32(0, true), 0x1a2b3c4d);
    assert.deepEqual([shbView.getUint16(4, true), shbView.getUint16(6, true)], [1, 0]);
    assert.equal(shbView.getBigInt64(8, true), -1n);
    assert.equal(optionsOf(shb!.body, 16).get(1), 'hello');
    assert.equal(idb!.type, 1);
    assert.equal(new DataView(idb!.body.buffer, idb!.body.byteOffset).getUint16(0, true), 101);
    assert.equal(optionsOf(idb!.body, 8).get(2), 'lab0');
    assert.equal(optionsOf(idb!.body, 8).has(9), false, 'no if_tsresol: microseconds by default');
    const { packet: bytes, micros, comment } = epb(packet!);
    assert.deepEqual([...bytes], [1, 2, 3, 4, 5]);
    assert.equal(micros, BigInt(Math.round(T0 * 1000)));
    assert.equal(comment, 'odd');
    assert.equal(packet!.body.length, 20 + 8 + 8 + 4, 'packet padded to 8, comment option 8, end of options 4');
  });

  it('writes the cut notice as an empty EPB with a comment', () => {
    const block = blocks(captureCutBlock(1000, T0, { withheldLength: 1514 }))[0]!;
    const { packet, comment } = epb(block);
    assert.equal(packet.length, 0);
    assert.equal(new DataView(block.body.buffer, block.body.byteOffset).getUint32(16, true), 1514, 'original length: the packet withheld');
    assert.match(comment ?? '', /capture cut at 1000 bytes/);
  });

  it('packs IPv6 addresses the way RFC 4291 spells them', () => {
    assert.equal(Buffer.from(ipv6Bytes('::1')).toString('hex'), '0'.repeat(31) + '1');
    assert.equal(Buffer.from(ipv6Bytes('2001:db8::8:800:200c:417a')).toString('hex'), '20010db8000000000008080020' + '0c417a');
    assert.equal(Buffer.from(ipv6Bytes('::ffff:127.0.0.1')).toString('hex'), '00000000000000000000ffff7f000001');
    assert.equal(Buffer.from(ipv6Bytes('fe80::1%lo')).toString('hex'), 'fe80' + '0'.repeat(27) + '1');
  });
});

describe('TcpConversation', () => {
  it('gives every packet correct IPv4 and TCP checksums and consistent sequence numbers', () => {
    for (const [client, server] of [['127.0.0.1', '127.0.0.1'], ['::ffff:10.0.0.2', '::ffff:10.0.0.1'], ['::1', '::1']] as const) {
      const conversation = new TcpConversation({ client: { address: client, port: 50000 }, server: { address: server, port: 80 }, mss: 7 });
      const packets = [
        ...conversation.open(T0), ...conversation.data('in', text('0123456789abcdefghij'), T0),
        ...conversation.data('out', text('xyz'), T0), ...conversation.close('server', T0),
      ].map((block) => checkPacket(epb(blocks(block)[0]!).packet));
      assert.equal(packets[0]!.version, client.includes('.') ? 4 : 6, `${client}: IP version`);
      // Per direction, each segment starts where the previous one ended (SYN and FIN count one).
      const next = new Map<number, number>();
      for (const p of packets) {
        const expected = next.get(p.srcPort);
        if (expected !== undefined) assert.equal(p.seq, expected, `${client}: seq from port ${p.srcPort}`);
        next.set(p.srcPort, (p.seq + p.payload.length + (p.flags & 0x03 ? 1 : 0)) >>> 0);
        if (p.flags & 0x10) assert.equal(p.ack, next.get(p.dstPort), `${client}: ack from port ${p.srcPort}`);
      }
      // Each data segment is at once acknowledged by the peer with a pure ACK, so nothing piles up in flight.
      packets.forEach((p, i) => {
        if (p.payload.length === 0) return;
        const reply = packets[i + 1]!;
        assert.deepEqual([reply.srcPort, reply.flags, reply.payload.length, reply.ack], [p.dstPort, 0x10, 0, (p.seq + p.payload.length) >>> 0], `${client}: the ACK of packet ${i}`);
      });
      const data = packets.filter((p) => p.srcPort === 50000 && p.payload.length > 0);
      assert.deepEqual(data.map((p) => p.payload.length), [7, 7, 6], 'split at the MSS');
      assert.deepEqual(data.map((p) => p.flags), [0x10, 0x10, 0x18], 'PSH on the last segment of a write only');
      assert.equal(Buffer.concat(data.map((p) => p.payload)).toString(), '0123456789abcdefghij');
      assert.deepEqual(packets.slice(0, 3).map((p) => p.flags), [0x02, 0x12, 0x10], 'SYN, SYN-ACK, ACK');
      assert.deepEqual(packets.slice(-3).map((p) => p.flags), [0x11, 0x11, 0x10], 'FIN-ACK, FIN-ACK, ACK');
      assert.equal(packets.at(-3)!.srcPort, 80, 'the server closed first');
    }
  });

  it('splits at a loopback-sized MSS by default, as large as the 16-bit IP length fields allow', () => {
    for (const [address, sizes] of [['127.0.0.1', [65495, 65495, 9010]], ['::1', [65475, 65475, 9050]]] as const) {
      const conversation = new TcpConversation({ client: { address, port: 40000 }, server: { address, port: 80 } });
      conversation.open(T0);
      const segments = conversation.data('out', new Uint8Array(140_000), T0).map((b) => checkPacket(epb(blocks(b)[0]!).packet));
      assert.deepEqual(segments.filter((p) => p.payload.length > 0).map((p) => p.payload.length), sizes, address);
    }
    const huge = new TcpConversation({ client: { address: '::1', port: 40000 }, server: { address: '::1', port: 80 }, mss: 100_000 });
    huge.open(T0);
    const [first] = huge.data('in', new Uint8Array(70_000), T0).map((b) => checkPacket(epb(blocks(b)[0]!).packet));
    assert.equal(first!.payload.length, 65515, 'an IPv6 payload of at most 65535 bytes');
  });

  it('closes with a single RST-ACK when reset, and writes nothing after the close', () => {
    const conversation = new TcpConversation({ client: { address: '::1', port: 40000 }, server: { address: '::1', port: 80 } });
    const ack = checkPacket(epb(blocks(conversation.open(T0)[2]!)[0]!).packet);
    const [data, dataAck] = conversation.data('in', text('abc'), T0).map((b) => checkPacket(epb(blocks(b)[0]!).packet));
    const reset = conversation.close('client', T0, true);
    assert.equal(reset.length, 1);
    const rst = checkPacket(epb(blocks(reset[0]!)[0]!).packet);
    assert.equal(rst.flags, 0x14, 'RST-ACK');
    assert.deepEqual([data!.seq, rst.seq, rst.ack], [ack.seq, (ack.seq + 3) >>> 0, dataAck!.seq], 'the RST at the next sequence number');
    assert.deepEqual(conversation.data('in', text('late'), T0), []);
    assert.deepEqual(conversation.close('server', T0), []);
  });
});

describe('tshark reads the capture', () => {
  it('finds the handshakes, the upgrade, the WebSocket frames, both IP versions and no analysis flags', (t) => {
    if (!requireCommand(t, 'tshark', ['--version'])) return;
    const v4 = new TcpConversation({ client: { address: '127.0.0.1', port: 54321 }, server: { address: '127.0.0.1', port: SERVER_PORT } });
    const v6 = new TcpConversation({ client: { address: '::1', port: 54999 }, server: { address: '::1', port: SERVER_PORT }, mss: 1460 });
    // A 200 000-byte unmasked binary frame (64-bit length form, RFC 6455 §5.2) from the server.
    const big = new Uint8Array(10 + 200_000).map((_, i) => i & 0xff);
    big.set([0x82, 127, 0, 0, 0, 0, 0, 0x03, 0x0d, 0x40]);
    const file = concat([
      sectionHeaderBlock(), interfaceDescriptionBlock(),
      ...websocketSession(v4, 'hello over IPv4', T0),
      ...websocketSession(v6, 'hello over IPv6', T0 + 10, big), // 136 segments of 1460, one of 1450, and ACKs
      ...v4.close('client', T0 + 20),
      ...v6.close('server', T0 + 21, true),
      captureCutBlock(123_456, T0 + 22),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-pcap-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'lab.pcapng');
    writeFileSync(path, file);
    const tshark = (...args: string[]): string => {
      const run = spawnSync('tshark', ['-r', path, '-d', `tcp.port==${SERVER_PORT},http`, ...args], { encoding: 'utf8' });
      assert.equal(run.status, 0, `tshark ${args.join(' ')} failed: ${run.stderr}`);
      return run.stdout;
    };
    const lines = (out: string): string[] => out.split('\n').filter((line) => line !== '');

    // The handshakes: SYN from each client port, SYN-ACK back.
    assert.deepEqual(lines(tshark('-Y', 'tcp.flags.syn==1', '-T', 'fields', '-e', 'ip.version', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'tcp.flags.ack')),
      ['4\t\t54321\t0', `4\t\t${SERVER_PORT}\t1`, '6\t::1\t54999\t0', `6\t::1\t${SERVER_PORT}\t1`]);
    // HTTP: the GET and the 101, each on its connection's ports.
    assert.deepEqual(lines(tshark('-Y', 'http', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'http.request.method', '-e', 'http.response.code')),
      [`54321\t${SERVER_PORT}\tGET\t`, `${SERVER_PORT}\t54321\t\t101`, `54999\t${SERVER_PORT}\tGET\t`, `${SERVER_PORT}\t54999\t\t101`]);
    // WebSocket: the masked text frame, its unmasked echo, and the close frames with code 1000.
    assert.deepEqual(lines(tshark('-Y', 'websocket', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'websocket.opcode', '-e', 'websocket.mask', '-e', 'websocket.payload.text', '-e', 'websocket.payload.close.status_code')),
      [
        `54321\t1\t1\thello over IPv4\t`, `${SERVER_PORT}\t1\t0\thello over IPv4\t`, `54321\t8\t1\t\t1000`, `${SERVER_PORT}\t8\t0\t\t1000`,
        `54999\t1\t1\thello over IPv6\t`, `${SERVER_PORT}\t1\t0\thello over IPv6\t`, `${SERVER_PORT}\t2\t0\t\t`,
        `54999\t8\t1\t\t1000`, `${SERVER_PORT}\t8\t0\t\t1000`,
      ]);
    // Sequence analysis: no retransmission, lost segment, window full, out-of-order, ... anywhere.
    assert.equal(tshark('-Y', 'tcp.analysis.flags', '-T', 'fields', '-e', 'frame.number'), '');
    // The 200 000 bytes arrive whole, the timestamps are the real ones, and the cut notice is a comment.
    assert.equal(lines(tshark('-Y', `tcp.srcport==${SERVER_PORT} && ipv6 && tcp.len==1460`, '-T', 'fields', '-e', 'frame.number')).length, 136);
    assert.equal(lines(tshark('-Y', 'websocket.opcode==2 && websocket.payload_length_ext_64==200000', '-T', 'fields', '-e', 'tcp.reassembled.length')).join(), '200010');
    assert.equal(lines(tshark('-Y', 'frame.number==1', '-T', 'fields', '-e', 'frame.time_epoch'))[0], (T0 / 1000).toFixed(6) + '000');
    assert.match(tshark('-Y', 'frame.comment', '-T', 'fields', '-e', 'frame.comment'), /capture cut at 123456 bytes/);
    assert.equal(lines(tshark('-Y', 'tcp.flags.reset==1', '-T', 'fields', '-e', 'tcp.srcport')).join(), String(SERVER_PORT));
    // Checksums as tshark verifies them (it does not by default): every IPv4 header and TCP segment good (1).
    const statuses = lines(tshark('-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'tcp', '-T', 'fields', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status'));
    assert.ok(statuses.length > 300, `${statuses.length} TCP packets`);
    for (const line of statuses) assert.match(line, /^(1)?\t1$/, 'checksum status (IPv4 header, TCP)');
    // No expert errors (malformed frames, bad checksums), the one warning being the RST, and the comment.
    const expert = tshark('-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-q', '-z', 'expert');
    assert.doesNotMatch(expert, /Errors|Malformed/);
    assert.match(expert, /Warns \(1\)[\s\S]*Connection reset \(RST\)/);
    assert.match(expert, /Comments \(1\)/);
    // The conversation table, with the real client ports.
    const conv = tshark('-q', '-z', 'conv,tcp');
    assert.match(conv, /127\.0\.0\.1:54321\s+<->\s+127\.0\.0\.1:18080/);
    assert.match(conv, /::1:54999\s+<->\s+::1:18080/);
  });
});
