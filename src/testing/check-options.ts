/**
 * How the contract checks drive a plugin they know nothing about. The defaults fit a protocol that
 * answers a line with something containing it (an echo, the generated line-echo); any other protocol
 * says in these options how to speak to it. A plugin file may export them as `contract`, which
 * `switchyard check-plugin` reads:
 *
 *   export const contract = { decline: { headers: [['X-Version', '2']] }, reject: { path: '/nope', status: 404 } };
 */
import type { Limits } from '../limits.js';
import type { UpgradeRequestOptions } from './upgraded-connection.js';

export interface CheckExchange {
  /** One message of your protocol that carries `nonce` (default: `nonce` and a newline). */
  readonly message?: (nonce: string) => Uint8Array | string;
  /**
   * Where the answer containing `nonce` shows: on the connection that sent it (`sender`, the default:
   * an echo, a request/response protocol) or on another connection of the same protocol (`others`:
   * a chat room that does not echo its sender).
   */
  readonly answeredOn?: 'sender' | 'others';
}

export interface RefusalRequest extends UpgradeRequestOptions {
  /** For `reject`: the status the plugin answers this request with (default: any 4xx or 5xx). */
  readonly status?: number;
}

export interface CheckOptions {
  /** The token to offer (default: the handler's token). */
  readonly token?: string;
  /** The upgrade request every check sends: its path and extra headers (WebSocket needs its key and version). */
  readonly request?: UpgradeRequestOptions;
  readonly exchange?: CheckExchange;
  /** A request the plugin's `handshake` declines; without it the `decline` check is skipped. */
  readonly decline?: UpgradeRequestOptions;
  /** A request the plugin's `handshake` rejects; without it the `reject` check is skipped. */
  readonly reject?: RefusalRequest;
  /** How long to wait for any one answer (default 2000 ms). */
  readonly timeoutMs?: number;
  /** The drain time `shutdown-ends` gives the server (its `shutdownTimeoutMs`, default 2000 ms). */
  readonly drainMs?: number;
  /**
   * `slow-reader-bounded`: what the client sends without reading (default 32 MiB), and how much the
   * server may hold for it in its socket's buffers, in and out (default 8 MiB).
   */
  readonly slowReaderSendBytes?: number;
  readonly slowReaderBoundBytes?: number;
  /** Names of checks not to run (reported as skipped). */
  readonly skip?: readonly string[];
  /** Limits for the private servers the checks start (e.g. a shorter `webSocketCloseTimeoutMs`). */
  readonly limits?: Partial<Limits>;
}

export interface ResolvedCheckOptions {
  readonly token: string;
  readonly request: UpgradeRequestOptions;
  readonly message: (nonce: string) => Buffer;
  readonly answeredOn: 'sender' | 'others';
  readonly decline: UpgradeRequestOptions | undefined;
  readonly reject: RefusalRequest | undefined;
  readonly timeoutMs: number;
  readonly drainMs: number;
  readonly slowReaderSendBytes: number;
  readonly slowReaderBoundBytes: number;
  readonly skip: ReadonlySet<string>;
  readonly limits: Partial<Limits>;
}

export function resolveCheckOptions(handlerToken: string, options: CheckOptions = {}): ResolvedCheckOptions {
  const message = options.exchange?.message ?? ((nonce: string) => `${nonce}\n`);
  return {
    token: options.token ?? handlerToken,
    request: options.request ?? {},
    message: (nonce) => { const m = message(nonce); return typeof m === 'string' ? Buffer.from(m) : Buffer.from(m); },
    answeredOn: options.exchange?.answeredOn ?? 'sender',
    decline: options.decline,
    reject: options.reject,
    timeoutMs: options.timeoutMs ?? 2_000,
    drainMs: options.drainMs ?? 2_000,
    slowReaderSendBytes: options.slowReaderSendBytes ?? 32 * 1024 * 1024,
    slowReaderBoundBytes: options.slowReaderBoundBytes ?? 8 * 1024 * 1024,
    skip: new Set(options.skip ?? []),
    limits: options.limits ?? {},
  };
}

let counter = 0;
/** A string no protocol would produce by itself, to recognise an answer to one message. */
export const nonce = (): string => `swy${process.pid.toString(36)}x${(++counter).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
