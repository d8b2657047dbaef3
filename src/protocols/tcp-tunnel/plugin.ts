/**
 * `tcp`: a raw tunnel in the style of the Docker Engine API's attach endpoint. The client sends
 * `Upgrade: tcp` on `/tunnel/<name>`; the server looks the name up in its own tunnel table, connects to
 * that backend, and only then answers `101` — so a refusal is still an HTTP answer the client can read:
 * `404` for a name the table does not have (nothing is connected, ever), `502` when the backend refuses,
 * `504` when it does not answer in `connectTimeoutMs`. After the 101 the two sockets are spliced
 * (splice.ts: flow control, half-close, resets). The connection table's byte counters are the client
 * socket's own, so they count the tunnel's traffic like any other protocol's.
 */
import { connect, type Socket } from 'node:net';
import { UsageError } from '../../errors.js';
import { accept, reject, type HandshakeDecision, type ProtocolHandler } from '../../registry/plugin.js';
import { splice } from './splice.js';
import { tunnelNameFromPath, tunnelTable, type TunnelTarget } from './targets.js';

export interface TcpTunnelOptions {
  /** Name → backend, from the server's configuration only. */
  readonly tunnels: Readonly<Record<string, TunnelTarget>>;
  /** Give up connecting to a backend after this many ms and answer 504 (default 5 000). */
  readonly connectTimeoutMs?: number;
  /** No byte either way for this long ends the tunnel (default 600 000; 0 = never). */
  readonly idleTimeoutMs?: number;
  /** After ending both sides, destroy what is still open after this many ms (default 2 000). */
  readonly lingerMs?: number;
}

export const TCP_TUNNEL_DEFAULTS: Readonly<Required<Omit<TcpTunnelOptions, 'tunnels'>>> = Object.freeze({ connectTimeoutMs: 5_000, idleTimeoutMs: 600_000, lingerMs: 2_000 });

interface TunnelState {
  readonly name: string;
  readonly target: TunnelTarget;
  readonly backend: Socket;
}

export function createTcpTunnelProtocol(options: TcpTunnelOptions): ProtocolHandler<TunnelState> {
  const table = tunnelTable(options.tunnels);
  const settings = {
    connectTimeoutMs: setting('connectTimeoutMs', options.connectTimeoutMs, 1),
    idleTimeoutMs: setting('idleTimeoutMs', options.idleTimeoutMs, 0),
    lingerMs: setting('lingerMs', options.lingerMs, 0),
  };
  /** Backends connected by a handshake whose takeover has not started yet. */
  const unclaimed = new Map<Socket, NodeJS.Timeout>();

  const claim = (backend: Socket): void => {
    clearTimeout(unclaimed.get(backend));
    unclaimed.delete(backend);
  };

  return {
    token: 'tcp',
    description: `raw TCP tunnel to a configured backend: /tunnel/{${[...table.keys()].join(',')}}`,

    async handshake(ctx): Promise<HandshakeDecision<TunnelState>> {
      // The path names a tunnel; the table says where it goes. Host, query and the rest are never read.
      const name = tunnelNameFromPath(ctx.request.path);
      const target = name === undefined ? undefined : table.get(name);
      if (name === undefined || target === undefined) {
        return reject(404, [], `404 Not Found\nno tunnel at ${ctx.request.path}; tunnels are /tunnel/<name> for names the server configured\n`);
      }
      const outcome = await connectBackend(target, settings.connectTimeoutMs);
      if (!outcome.ok) {
        const status = outcome.timedOut ? 504 : 502;
        return reject(status, [], `${status} ${outcome.timedOut ? 'Gateway Timeout' : 'Bad Gateway'}\ntunnel "${name}": ${outcome.detail}\n`);
      }
      // The loop calls takeover right after an accept; if the client vanished meanwhile it never will,
      // so a backend nobody claims in time is closed rather than leaked.
      const timer = setTimeout(() => { unclaimed.delete(outcome.socket); outcome.socket.destroy(); }, ctx.limits.handshakeTimeoutMs);
      timer.unref();
      unclaimed.set(outcome.socket, timer);
      return accept<TunnelState>([], { name, target, backend: outcome.socket });
    },

    async takeover(ctx) {
      const { name, target, backend } = ctx.state!;
      claim(backend);
      if (backend.destroyed || ctx.socket.destroyed) {
        backend.destroy();
        ctx.socket.end();
        return;
      }
      ctx.emit({ kind: 'tunnel', detail: `${name} → ${target.host}:${target.port} connected`, direction: 'out' });
      const result = await splice(ctx.socket, backend, {
        head: ctx.head,
        idleTimeoutMs: settings.idleTimeoutMs,
        lingerMs: settings.lingerMs,
        signal: ctx.signal,
      });
      ctx.emit({ kind: 'tunnel', detail: `${name} ended (${result.reason}): ${result.toBackend} B to backend, ${result.toClient} B to client` });
    },

    close() {
      for (const [backend, timer] of unclaimed) {
        clearTimeout(timer);
        backend.destroy();
      }
      unclaimed.clear();
    },
  };
}

function setting(name: keyof typeof TCP_TUNNEL_DEFAULTS, value: number | undefined, min: number): number {
  if (value === undefined) return TCP_TUNNEL_DEFAULTS[name];
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError('ERR_BAD_TUNNEL', `tunnel ${name} must be an integer ≥ ${min}, got ${value}`);
  return value;
}

type ConnectOutcome =
  | { readonly ok: true; readonly socket: Socket }
  | { readonly ok: false; readonly timedOut: boolean; readonly detail: string };

function connectBackend(target: TunnelTarget, timeoutMs: number): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    // allowHalfOpen: the client's FIN is forwarded as ours while the backend may still answer.
    const socket = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, timedOut: true, detail: `the backend did not accept the connection within ${timeoutMs} ms` });
    }, timeoutMs);
    timer.unref();
    const onError = (error: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      resolve({ ok: false, timedOut: false, detail: `the backend cannot be reached (${error.code ?? error.message})` });
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      // Until the splice attaches its own, an error must not go unheard (it would crash the process).
      socket.on('error', () => {});
      // Reading waits for the splice: a backend that speaks first (a banner) is held by TCP meanwhile.
      socket.pause();
      resolve({ ok: true, socket });
    });
  });
}
