/**
 * The kernel's own list of TCP sockets, read from Linux's /proc/net/tcp and /proc/net/tcp6 — the same
 * data `ss -tan` shows. One line per socket: local and remote address as hex, the state, and two queue
 * counters. For a LISTEN socket the second counter (rx_queue, `ss`'s Recv-Q) is the number of
 * connections whose handshake the kernel completed and that wait for accept(): the accept queue.
 *
 * Addresses are printed as the kernel holds them in memory, 32-bit words in host byte order, so on a
 * little-endian machine 127.0.0.1 reads 0100007F. Ports are plain hex.
 */
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { normaliseAddress } from '../accept-loop/five-tuple.js';

/** `st` values, named as `ss` names them (include/net/tcp_states.h). */
export const TCP_STATES: Readonly<Record<number, string>> = {
  0x01: 'ESTAB', 0x02: 'SYN-SENT', 0x03: 'SYN-RECV', 0x04: 'FIN-WAIT-1', 0x05: 'FIN-WAIT-2', 0x06: 'TIME-WAIT',
  0x07: 'UNCONN', 0x08: 'CLOSE-WAIT', 0x09: 'LAST-ACK', 0x0a: 'LISTEN', 0x0b: 'CLOSING', 0x0c: 'NEW-SYN-RECV',
};

export interface KernelSocket {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly state: string;
  /** For LISTEN: the accept queue's length. Otherwise: received bytes the program has not read. */
  readonly recvQ: number;
  /** Sent bytes not yet acknowledged (LISTEN: 0 here; `ss` shows the backlog instead). */
  readonly sendQ: number;
}

/** Parse the text of /proc/net/tcp or /proc/net/tcp6; lines that do not fit are skipped, not fatal. */
export function parseProcNetTcp(text: string, littleEndian = endianness() === 'LE'): KernelSocket[] {
  const sockets: KernelSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    const local = parseEndpoint(fields[1]!, littleEndian);
    const remote = parseEndpoint(fields[2]!, littleEndian);
    const state = Number.parseInt(fields[3]!, 16);
    const queues = /^([0-9A-Fa-f]+):([0-9A-Fa-f]+)$/.exec(fields[4]!);
    if (!local || !remote || !queues || Number.isNaN(state)) continue;
    sockets.push({
      localAddress: local.address, localPort: local.port, remoteAddress: remote.address, remotePort: remote.port,
      state: TCP_STATES[state] ?? `state ${fields[3]}`,
      sendQ: Number.parseInt(queues[1]!, 16), recvQ: Number.parseInt(queues[2]!, 16),
    });
  }
  return sockets;
}

function parseEndpoint(text: string, littleEndian: boolean): { address: string; port: number } | undefined {
  const match = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(text);
  if (!match) return undefined;
  const hex = match[1]!;
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    const wordBytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(word + i, word + i + 2), 16));
    bytes.push(...(littleEndian ? wordBytes.reverse() : wordBytes));
  }
  const address = bytes.length === 4 ? bytes.join('.') : ipv6(bytes);
  return { address: normaliseAddress(address), port: Number.parseInt(match[2]!, 16) };
}

function ipv6(bytes: readonly number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes.slice(12).join('.')}`;
  // The longest run of two or more zero groups becomes "::" (RFC 5952 §4.2).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Every TCP socket the kernel reports, or undefined where there is no /proc/net/tcp (not Linux). */
export async function readKernelSockets(): Promise<KernelSocket[] | undefined> {
  const files = await Promise.allSettled([readFile('/proc/net/tcp', 'latin1'), readFile('/proc/net/tcp6', 'latin1')]);
  if (files[0].status === 'rejected' && files[1].status === 'rejected') return undefined;
  return files.flatMap((file) => (file.status === 'fulfilled' ? parseProcNetTcp(file.value) : []));
}
