import type { Socket } from 'node:net';

/**
 * The 5-tuple that tells connections apart: transport, local address and port, remote address and port.
 * Every accepted socket shares the listener's local address and port; only the remote half differs between
 * two clients on one machine. That is the whole answer to "how can two clients use port 80 at once".
 */
export interface FiveTuple {
  readonly transport: 'tcp';
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) is shown as `127.0.0.1`, as `ss -tn` does. */
export function normaliseAddress(address: string | undefined): string {
  if (!address) return '?';
  if (!address.startsWith('::')) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/**
 * `local` may be given when the listener is bound to one specific address: every accepted socket then
 * has exactly that local address and port, and asking the kernel (getsockname) per connection is waste.
 * On a wildcard listener (0.0.0.0, ::) the local address depends on which interface was reached.
 */
export function fiveTupleOf(socket: Socket, local?: { readonly address: string; readonly port: number }): FiveTuple {
  return {
    transport: 'tcp',
    localAddress: local ? local.address : normaliseAddress(socket.localAddress),
    localPort: local ? local.port : socket.localPort ?? 0,
    remoteAddress: normaliseAddress(socket.remoteAddress),
    remotePort: socket.remotePort ?? 0,
  };
}

/** `address:port`, with IPv6 addresses in brackets, the way `ss -tn` prints its columns. */
export function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** `tcp 127.0.0.1:8080 127.0.0.1:53412`: transport, local, peer (the column order of `ss -tn`). */
export function formatFiveTuple(tuple: FiveTuple): string {
  return `${tuple.transport} ${formatEndpoint(tuple.localAddress, tuple.localPort)} ${formatEndpoint(tuple.remoteAddress, tuple.remotePort)}`;
}

/** The connection table's key. The listener's address is the same for all, but keeping it makes the key a true 5-tuple. */
export const fiveTupleKey = formatFiveTuple;

/** What getpeername reports: filled in place, so asking costs no object. */
interface PeerName { address?: string; port?: number }
interface HandleWithPeerName { getpeername?(out: PeerName): number }
const peerScratch: PeerName = {};

/**
 * The remote address and port of an accepted socket, asked of the kernel directly. `socket.remoteAddress`
 * would answer the same, but caches a `{ address, family, port }` object on the socket for its whole life:
 * about 100 bytes per connection that nothing reads again once the connection table has the 5-tuple.
 * The returned object is reused by the next call; copy what you keep.
 */
export function peerOf(socket: Socket): { readonly address: string; readonly port: number } {
  const handle = (socket as unknown as { _handle?: HandleWithPeerName })._handle;
  peerScratch.address = undefined;
  peerScratch.port = undefined;
  if (handle?.getpeername === undefined || handle.getpeername(peerScratch) !== 0 || peerScratch.address === undefined) {
    peerScratch.address = socket.remoteAddress;
    peerScratch.port = socket.remotePort;
  }
  return { address: normaliseAddress(peerScratch.address), port: peerScratch.port ?? 0 };
}
