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
