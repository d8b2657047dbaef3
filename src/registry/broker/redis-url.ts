/**
 * `--broker redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`: where the Redis of a shared room is. Port 6379
 * and database 0 by default; an IPv6 host in brackets (`redis://[::1]:6380/1`). A password (and, for a
 * Redis 6 ACL user, a user name) is sent with AUTH; it is never shown in `display`. TLS (`rediss://`) is
 * not spoken here, and is refused rather than silently sent in clear.
 */
import { UsageError } from '../../errors.js';

export interface RedisTarget {
  /** Host name or address, IPv6 without brackets (as `net.connect` wants it). */
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  /** The URL without credentials, for status and logs: `redis://127.0.0.1:6379/0`. */
  readonly display: string;
}

export function parseRedisUrl(text: string): RedisTarget {
  const bad = (why: string): UsageError => new UsageError('ERR_BAD_BROKER_URL', `--broker ${JSON.stringify(text)}: ${why}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('not a URL of the form redis://HOST[:PORT][/DB] (is the port 1-65535?)');
  }
  if (url.protocol === 'rediss:') throw bad('TLS to Redis (rediss://) is not supported; use redis:// on a trusted network or a TLS tunnel');
  if (url.protocol !== 'redis:') throw bad(`the scheme must be redis:, not ${url.protocol}`);
  if (url.hostname === '') throw bad('a host is required');
  if (url.search !== '' || url.hash !== '') throw bad('query and fragment are not supported');
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,9}$/.test(path)) throw bad(`the path must be a database number, not ${JSON.stringify(url.pathname)}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 6379 : Number(url.port);
  if (port === 0) throw bad('port 0 is not a port to connect to');
  const db = path === '' ? 0 : Number(path);
  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  if (username !== undefined && password === undefined) throw bad('a user name needs a password (redis://USER:PASSWORD@HOST)');
  return {
    host, port, db,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    display: `redis://${url.hostname}:${port}/${db}`,
  };
}
