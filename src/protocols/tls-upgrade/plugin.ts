/**
 * `TLS/1.0` (RFC 2817): upgrading a cleartext HTTP/1.1 connection to TLS in-band, on the same TCP
 * connection and the same port. The exchange:
 *
 *   client: GET /healthz HTTP/1.1 · Connection: Upgrade · Upgrade: TLS/1.0
 *   server: 101 Switching Protocols · Upgrade: TLS/1.0, HTTP/1.1        (§3.3)
 *   client ⇄ server: the TLS handshake (node:tls negotiates TLS 1.2 or 1.3 underneath the token)
 *   server: the response to the original request, now over TLS          (§3.3: "MUST continue with the
 *           response to the original request")
 *   then HTTP/1.1 over TLS on the same routes — which may upgrade again, e.g. to websocket, and the
 *   connection table then shows the stack as `TLS/1.0 > websocket`.
 *
 * The token is registered only when a certificate and key are configured (the same ones serve TLS on the
 * front door); a connection that already runs TLS, either way, declines it. The client's ClientHello may
 * arrive in the same write as the request: those bytes (`ctx.head`) are pushed back in front of the
 * socket's stream before node:tls starts reading it, so TLS sees them first. The TLS handshake must
 * finish within `handshakeTimeoutMs`; a failed one is traced and the connection closed.
 */
import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext, TLSSocket } from 'node:tls';
import { UsageError } from '../../errors.js';
import { accept, decline, reject, type ProtocolHandler, type TakeoverContext } from '../../registry/plugin.js';

export interface TlsUpgradeOptions {
  /** PEM certificate (chain) and private key. */
  readonly cert: string | Uint8Array;
  readonly key: string | Uint8Array;
}

export function createTlsUpgradeProtocol(options: TlsUpgradeOptions): ProtocolHandler {
  let secureContext: SecureContext;
  try {
    secureContext = createSecureContext({ cert: toPem(options.cert), key: toPem(options.key) });
  } catch (error) {
    throw new UsageError('ERR_BAD_TLS_CONFIG', `cannot use the TLS certificate and key: ${(error as Error).message}`);
  }
  return {
    token: 'TLS/1.0',
    description: 'RFC 2817: switch this connection to TLS, then continue HTTP/1.1 over it',
    handshake(ctx) {
      // TLS inside TLS would teach nothing: an upgrade offer on a secure connection is ignored (RFC 9110 §7.8).
      if (ctx.secure) return decline();
      // RFC 2817 §3 switches the whole connection, and TLS would have to wrap every stream of an HTTP/2
      // session (RFC 9113 §3.2 and §9.2: TLS sits under HTTP/2, never in one stream). An extended CONNECT
      // (RFC 8441 §4) offers one stream only, so refuse it plainly instead of starting a handshake there.
      if (ctx.request.version === '2') {
        return reject(501, [], '501 Not Implemented\nTLS/1.0 (RFC 2817) upgrades a whole HTTP/1.1 connection, not an HTTP/2 stream; connect with TLS directly\n');
      }
      // §3.3 answers the original request after the handshake, without its content: a request that
      // carries content is served in cleartext instead (RFC 9110 §7.8 lets a server ignore Upgrade).
      if (ctx.request.body.kind !== 'none') return decline();
      return accept([['Upgrade', 'HTTP/1.1']]);
    },
    takeover: (ctx) => secureSession(ctx, secureContext),
  };
}

function secureSession(ctx: TakeoverContext, secureContext: SecureContext): Promise<void> {
  const raw = ctx.socket;
  // The ClientHello may have come in the same write as the request: put it back in front of the stream.
  if (ctx.head.length > 0) raw.unshift(Buffer.from(ctx.head.buffer, ctx.head.byteOffset, ctx.head.byteLength));
  const secure = new TLSSocket(raw as Socket, { isServer: true, secureContext });
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      ctx.emit({ kind: 'tls', detail: `handshake not finished within ${ctx.limits.handshakeTimeoutMs} ms`, direction: 'in' });
      secure.destroy();
    }, ctx.limits.handshakeTimeoutMs);
    timer.unref();
    const abandon = (): void => { secure.destroy(); };
    secure.on('error', (error: NodeJS.ErrnoException) => {
      ctx.emit({ kind: 'tls', detail: `error: ${error.code ?? error.message}`, direction: 'in' });
      secure.destroy();
    });
    // allowHalfOpen is copied from the TCP socket: a client that leaves mid-handshake without an alert
    // shows only as 'end' (no error, no close), and would otherwise wait out the timer.
    const onEnd = (): void => {
      ctx.emit({ kind: 'tls', detail: 'the client closed the connection during the handshake', direction: 'in' });
      secure.destroy();
    };
    secure.once('end', onEnd);
    secure.once('close', () => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', abandon);
      resolve();
    });
    if (ctx.signal.aborted) abandon();
    else ctx.signal.addEventListener('abort', abandon, { once: true });
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.off('end', onEnd);
      // From here on HTTP's own shutdown handling takes over (idle closes now, busy after its response).
      ctx.signal.removeEventListener('abort', abandon);
      const cipher = secure.getCipher();
      ctx.emit({ kind: 'tls', detail: `${secure.getProtocol() ?? 'TLS'} ${cipher.name} established`, direction: 'in' });
      void ctx.continueHttp(secure, { pending: ctx.request }).then(resolve);
    });
  });
}

const toPem = (value: string | Uint8Array): string | Buffer => (typeof value === 'string' ? value : Buffer.from(value));
