/**
 * Where a `tcp` tunnel may go: a table of names → backends that only the server's operator writes
 * (`--tunnel name=host:port`). A client names a tunnel in the request path (`/tunnel/<name>`) and that
 * is all it can do: nothing in the request — not the path beyond the name, not the query, not `Host`,
 * not an absolute-form target — ever becomes an address. That is the difference between a tunnel and an
 * open proxy. Pure: no I/O here.
 */
import { UsageError } from '../../errors.js';

export interface TunnelTarget {
  readonly host: string;
  readonly port: number;
}

export const TUNNEL_PATH_PREFIX = '/tunnel/';

/**
 * A tunnel name: one path segment of unreserved characters (RFC 3986 §2.3) that does not start with a
 * dot, so `.` and `..` can never be names and no percent-decoding is ever needed to compare one.
 */
const NAME = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,63}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;

export const isTunnelName = (name: string): boolean => NAME.test(name);

/** The tunnel name a request path asks for: exactly `/tunnel/<name>`, else undefined. */
export function tunnelNameFromPath(path: string): string | undefined {
  if (!path.startsWith(TUNNEL_PATH_PREFIX)) return undefined;
  const name = path.slice(TUNNEL_PATH_PREFIX.length);
  return NAME.test(name) ? name : undefined;
}

/** `name=host:port` (IPv6 hosts in brackets: `db=[::1]:5432`), as given to `--tunnel`. */
export function parseTunnelSpec(spec: string): { name: string; target: TunnelTarget } {
  const equals = spec.indexOf('=');
  const name = equals === -1 ? '' : spec.slice(0, equals);
  const address = spec.slice(equals + 1);
  const colon = address.lastIndexOf(':');
  const host = colon === -1 ? '' : address.slice(0, colon);
  const portText = colon === -1 ? '' : address.slice(colon + 1);
  const port = Number(portText);
  if (equals === -1 || colon === -1) {
    throw new UsageError('ERR_BAD_TUNNEL', `invalid tunnel "${spec}": expected name=host:port, e.g. redis=127.0.0.1:6379`);
  }
  if (!NAME.test(name)) {
    throw new UsageError('ERR_BAD_TUNNEL', `invalid tunnel name "${name}": letters, digits, "-", "_", "~" and "." (not first), at most 64`);
  }
  if (!HOST.test(host)) throw new UsageError('ERR_BAD_TUNNEL', `invalid tunnel host "${host}" in "${spec}"`);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw new UsageError('ERR_BAD_TUNNEL', `invalid tunnel port "${portText}" in "${spec}": expected 1-65535`);
  }
  return { name, target: { host: host.startsWith('[') ? host.slice(1, -1) : host, port } };
}

/** The tunnel table, checked once at start: valid names, valid targets, no prototype-key surprises. */
export function tunnelTable(tunnels: Readonly<Record<string, TunnelTarget>>): ReadonlyMap<string, TunnelTarget> {
  const table = new Map<string, TunnelTarget>();
  for (const [name, target] of Object.entries(tunnels)) {
    if (!NAME.test(name)) throw new UsageError('ERR_BAD_TUNNEL', `invalid tunnel name "${name}"`);
    if (typeof target?.host !== 'string' || target.host === '' || !Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
      throw new UsageError('ERR_BAD_TUNNEL', `tunnel "${name}" needs a host and a port 1-65535`);
    }
    table.set(name, { host: target.host, port: target.port });
  }
  return table;
}
