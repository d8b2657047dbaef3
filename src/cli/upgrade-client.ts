/**
 * A generic HTTP/1.1 Upgrade client (RFC 9110 §7.8), for any token: connect, send one request head that
 * asks to switch, read the response head with the sans-IO ResponseHeadParser, and hand back the socket
 * together with the bytes that followed the head. Those bytes matter: after a 101 they already belong to
 * the new protocol (a server may greet in the same write as its 101), so they are delivered before
 * anything read later. `connect`, `probe` and the experiments all open their connections here.
 *
 * For https:// and wss:// the same happens inside TLS. The trust is the user's choice (`TlsTrust`): Node's
 * default CAs, exactly the CA in a `--cacert` file, or none at all (`--insecure`, which still records what
 * verification would have said, so `--verbose` can show it). ALPN offers only `http/1.1`: the upgrade is
 * an HTTP/1.1 mechanism (RFC 9110 §7.8) and must not be negotiated into h2, which has no Upgrade.
 * SNI (RFC 6066 §3) carries the host name, never an IP address literal.
 * `tlsOptions` is shared with the `--http2` client (http2-client.ts), which offers only `h2` instead.
 *
 * `pipeUpgraded` is `connect --upgrade`: leftover bytes to stdout first, then socket ↔ stdio. At the end
 * of stdin our half of TCP is closed with a FIN (`end()`), and output goes on until the peer closes its
 * half, so nothing the server still had to say is lost.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import { connect as tlsConnect, TLSSocket, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { isToken } from '../http/grammar.js';
import type { Field } from '../http/request-head.js';
import { type ResponseHead, ResponseHeadParser } from '../http/response-parser.js';
import { parseUpgradeOffers } from '../registry/upgrade-offers.js';
import { CliError } from './cli-error.js';

/** Where to connect and what to put in the request line and `Host`. */
export interface UpgradeTarget {
  readonly href: string;
  /** Name or address to connect to (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  readonly secure: boolean;
  /** The `Host` field: host, plus the port when it is not the scheme's default. */
  readonly authority: string;
  /** The request-target in origin form (RFC 9112 §3.2.1): path and query, never the fragment. */
  readonly path: string;
}

export interface UpgradeResponse {
  readonly socket: Socket;
  /** The response head as parsed; `head.raw` is the text as received. */
  readonly head: ResponseHead;
  /** Bytes received after the head: the new protocol's first bytes after a 101, else the body's start. */
  readonly rest: Uint8Array;
  /** Exactly what was sent. */
  readonly request: string;
}

export interface OpenOptions {
  /** Connect + response head must complete within this many ms. */
  readonly timeoutMs: number;
  /** Called once the request has been written, with the connected socket (for `--verbose`). */
  readonly onSent?: (socket: Socket, request: string) => void;
  /** Bytes written in the same `write` as the request: the new protocol's first bytes. */
  readonly trailing?: Uint8Array;
  /** Whom to trust for https:// and wss://; Node's default CAs when absent. */
  readonly tls?: TlsTrust;
}

/** How a secure connection verifies the server: `--cacert FILE`, `--insecure`, or neither (default CAs). */
export type TlsTrust =
  | { readonly kind: 'default' }
  | { readonly kind: 'cacert'; readonly file: string; readonly certificates: readonly string[] }
  | { readonly kind: 'insecure' };

/** The one line `--insecure` always prints on stderr, whatever else is asked for. */
export const INSECURE_WARNING =
  "switchyard: WARNING --insecure: the server's certificate is not verified; anyone on the path can read and change this connection";

/** Only `http/1.1`: an HTTP/1.1 Upgrade must not end up inside h2 (RFC 9113 §8.6 has no Upgrade). */
const ALPN_PROTOCOLS = ['http/1.1'];

const SECURE_SCHEMES = new Set(['wss:', 'https:']);

/** Parse a URL given on the command line; anything unusable is a usage error (exit 2). */
export function parseTarget(text: string, schemes: readonly string[], hint = ''): UpgradeTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`invalid URL "${text}"; expected something like ${schemes[0]}//127.0.0.1:8080/echo`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new CliError(`unsupported scheme "${url.protocol}" in ${text}; expected ${schemes.map((s) => s + '//').join(', ')}${hint}`);
  }
  if (url.hostname === '') throw new CliError(`no host in URL "${text}"`);
  const secure = SECURE_SCHEMES.has(url.protocol);
  return {
    href: url.href,
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || (secure ? 443 : 80)),
    secure,
    authority: url.host,
    path: (url.pathname || '/') + url.search,
  };
}

/**
 * `--cacert FILE` / `--insecure` to a trust choice, checked against the URL. Both are usage errors (exit 2)
 * for a plain URL, together, or when the file is missing, unreadable or holds no PEM certificate.
 */
export function parseTlsTrust(options: { readonly cacert?: string | undefined; readonly insecure?: boolean | undefined }, target: UpgradeTarget): TlsTrust {
  const { cacert, insecure = false } = options;
  if (cacert === undefined && !insecure) return { kind: 'default' };
  const flag = cacert !== undefined ? '--cacert' : '--insecure';
  if (!target.secure) throw new CliError(`${flag} is for https:// and wss:// URLs; ${target.href} is not encrypted`);
  if (cacert !== undefined && insecure) {
    throw new CliError('--cacert and --insecure contradict each other: one verifies the certificate against FILE, the other skips verification');
  }
  if (cacert === undefined) return { kind: 'insecure' };
  let text: string;
  try {
    text = readFileSync(cacert, 'latin1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new CliError(`cannot read --cacert file "${cacert}": ${why}`);
  }
  const certificates = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (certificates.length === 0) {
    throw new CliError(`--cacert file "${cacert}" holds no PEM certificate (expected a "-----BEGIN CERTIFICATE-----" block)`);
  }
  certificates.forEach((pem, index) => {
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw new CliError(`--cacert file "${cacert}": certificate ${index + 1} is not a valid certificate: ${(error as Error).message}`);
    }
  });
  return { kind: 'cacert', file: cacert, certificates };
}

/** `-H 'Name: value'` as a field; a malformed one is a usage error. */
export function parseHeaderArg(text: string): Field {
  const colon = text.indexOf(':');
  const name = colon === -1 ? '' : text.slice(0, colon);
  const value = text.slice(colon + 1).trim();
  if (!isToken(name)) throw new CliError(`invalid header "${text}": expected 'Name: value'`);
  // RFC 9110 §5.5: CR, LF and NUL would end the field (or the head) early: request smuggling by typo.
  if (/[\r\n\0]/.test(value)) throw new CliError(`invalid header "${name}": the value contains CR, LF or NUL`);
  return [name, value];
}

/** `--timeout MS`: how long connecting plus the handshake may take. */
export function parseTimeout(text: string): number {
  const ms = Number(text);
  if (!/^\d+$/.test(text) || ms < 1 || ms > 3_600_000) throw new CliError(`invalid --timeout "${text}": expected 1-3600000 ms`);
  return ms;
}

/** `--upgrade` takes a token or a list of them, in preference order (RFC 9110 §7.8). */
export function parseUpgradeArg(text: string): string {
  const offers = parseUpgradeOffers([text]);
  if (offers instanceof Error || offers.length === 0) {
    throw new CliError(`invalid --upgrade "${text}": expected a token like echo or TLS/1.0, or a comma-separated list of them`);
  }
  return offers.map((offer) => offer.token).join(', ');
}

/**
 * The request head for a generic upgrade. RFC 9110 §7.8: "A sender of Upgrade MUST also send an
 * "Upgrade" connection option in the Connection header field", because Upgrade is hop-by-hop (§7.6.1).
 */
export function buildUpgradeRequest(target: UpgradeTarget, upgrade: string, headers: readonly Field[] = []): string {
  const own = new Set(['host', 'upgrade', 'connection']);
  const lines = [`GET ${target.path} HTTP/1.1`, `Host: ${target.authority}`, 'Connection: Upgrade', `Upgrade: ${upgrade}`];
  for (const [name, value] of headers) {
    if (own.has(name.toLowerCase())) throw new CliError(`-H ${name} is set by the upgrade request itself`);
    lines.push(`${name}: ${value}`);
  }
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * Connect, send `request`, resolve with the response head whatever its status (the caller decides what a
 * non-101 means). Every failure before the head is a CliError with exit code 1 and a one-line reason.
 */
export function openUpgrade(target: UpgradeTarget, request: string, options: OpenOptions): Promise<UpgradeResponse> {
  const where = target.authority;
  const trust = options.tls ?? { kind: 'default' };
  return new Promise((resolve, reject) => {
    const socket: Socket = target.secure
      ? tlsConnect(tlsOptions(target, trust))
      : netConnect({ host: target.hostname, port: target.port, allowHalfOpen: true });
    let secured = false;
    const parser = new ResponseHeadParser();
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new CliError(message, 1));
    };
    const timer = setTimeout(() => fail(`no response from ${where} within ${options.timeoutMs} ms`), options.timeoutMs);
    const onError = (error: NodeJS.ErrnoException): void => fail(describeSocketError(error, target, trust, target.secure && !secured));
    const onClose = (): void => fail(target.secure && !secured
      ? `${where} closed the connection during the TLS handshake${NOT_TLS_HINT}`
      : `${where} closed the connection before answering`);
    const onData = (chunk: Buffer): void => {
      const event = parser.receive(chunk);
      if (event.type === 'need-data') return;
      if (event.type === 'error') {
        fail(`${where} did not answer with an HTTP/1.x response: ${event.error.message}`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      // A late error (a reset) must not crash the process before the caller has attached its handlers;
      // the caller learns of it from 'close' and its own 'error' listener.
      socket.on('error', () => {});
      resolve({ socket, head: event.head, rest: event.rest, request });
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once(target.secure ? 'secureConnect' : 'connect', () => {
      secured = true;
      socket.setNoDelay(true);
      const trailing = options.trailing;
      socket.write(trailing && trailing.length > 0 ? Buffer.concat([Buffer.from(request, 'latin1'), trailing]) : request);
      options.onSent?.(socket, request);
    });
  });
}

/** The TLS options every secure client uses; `alpn` is `['h2']` for `--http2` (RFC 9113 §3.2). */
export function tlsOptions(target: UpgradeTarget, trust: TlsTrust, alpn: readonly string[] = ALPN_PROTOCOLS): ConnectionOptions {
  return {
    host: target.hostname,
    port: target.port,
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in "HostName"."
    ...(isIP(target.hostname) ? {} : { servername: target.hostname }),
    ALPNProtocols: [...alpn],
    // `ca` replaces Node's default roots: exactly the user's CA is trusted, nothing else.
    ...(trust.kind === 'cacert' ? { ca: [...trust.certificates] } : {}),
    // Node still verifies and records the verdict in `authorized` / `authorizationError`; it just goes on.
    ...(trust.kind === 'insecure' ? { rejectUnauthorized: false } : {}),
  };
}

const NOT_TLS_HINT = ' (is it a TLS server? for a plain one use ws:// or http://)';

/** What OpenSSL's verification codes mean, for `--insecure --verbose`, where Node gives only the code. */
const VERIFY_MEANINGS: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
  INVALID_CA: 'invalid CA certificate',
  ERR_TLS_CERT_ALTNAME_INVALID: "the host name is not among the certificate's names",
};
const CLOCK_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** The one-line reason for a failure before the response head; with a hint where there is a fix. */
export function describeSocketError(error: NodeJS.ErrnoException, target: UpgradeTarget, trust: TlsTrust = { kind: 'default' }, handshaking = false): string {
  const where = target.authority;
  const code = error.code ?? '';
  if (target.secure && (code in VERIFY_MEANINGS || (/^[A-Z_]+$/.test(code) && !code.startsWith('E')))) {
    // A certificate verification failure: Node's X509 verify codes carry no E prefix.
    const what = `TLS with ${where} failed: ${error.message} (${code})`;
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      const names = (error as { cert?: PeerCertificate }).cert?.subjectaltname;
      const kind = isIP(target.hostname) ? 'address' : 'host name';
      return `TLS with ${where} failed: the certificate is not for ${kind} ${target.hostname} (${code})` +
        `${names ? `; it names ${printable(names)}` : ''}; connect by one of its names, or skip verification with --insecure`;
    }
    if (CLOCK_CODES.has(code)) return `${what}; check this machine's clock or renew the certificate, or skip verification with --insecure`;
    if (trust.kind === 'cacert') return `${what}; the CA in --cacert ${trust.file} did not sign this certificate; give its issuer's certificate, or skip verification with --insecure`;
    return `${what}; trust it with --cacert FILE, or skip verification with --insecure`;
  }
  switch (code) {
    case 'ECONNREFUSED': return `connection refused by ${where} (nothing is listening there)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return `cannot resolve host "${target.hostname}"`;
    case 'ECONNRESET': return handshaking
      ? `${where} reset the connection during the TLS handshake${NOT_TLS_HINT}`
      : `${where} reset the connection before answering`;
    case 'ETIMEDOUT': return `connecting to ${where} timed out`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return `${where} is unreachable (${code})`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return `TLS with ${where} failed: the server did not answer in TLS${NOT_TLS_HINT}`;
    case 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL':
      return `TLS with ${where} failed: the server refused ALPN http/1.1, the only protocol an HTTP/1.1 upgrade can use`;
    default: {
      if (!target.secure) return `cannot connect to ${where}: ${error.message}`;
      // OpenSSL errors carry a short `reason` ("wrong version number") beside a long library message.
      const reason = (error as { reason?: unknown }).reason;
      const text = typeof reason === 'string' && reason !== '' ? reason : error.message;
      return code.startsWith('ERR_SSL_') || code === 'EPROTO'
        ? `TLS with ${where} failed: ${text} (${code})`
        : code.startsWith('E') ? `cannot connect to ${where}: ${error.message}` : `TLS with ${where} failed: ${error.message}`;
    }
  }
}

/** A distinguished name as `CN=localhost, O=…`; values from the server, so escaped. */
function formatName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '(none)';
  const parts = Object.entries(name).flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${key}=${v}`));
  return parts.length > 0 ? printable(parts.join(', ')) : '(empty)';
}

/** The server certificate's subject as `CN=…` if it has a common name, else its whole subject. */
function subjectOf(cert: PeerCertificate): string {
  const cn = cert.subject?.CN;
  return cn !== undefined ? printable(`CN=${Array.isArray(cn) ? cn.join('+') : cn}`) : formatName(cert.subject);
}

/** What a secure connection negotiated, and how its certificate fared; `undefined` for plain TCP. */
export interface TlsReport {
  /** `TLSv1.3 TLS_AES_256_GCM_SHA384, alpn http/1.1, server certificate CN=localhost (sha256 AB:CD:…)` */
  readonly summary: string;
  readonly verified: boolean;
  /** Whether and against what the certificate was verified; for an unverified one, all we know about it. */
  readonly verification: string;
}

export function describeTls(socket: Socket, trust: TlsTrust = { kind: 'default' }): TlsReport | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const cert = socket.getPeerCertificate();
  const hasCert = cert !== null && Object.keys(cert).length > 0;
  const alpn = socket.alpnProtocol ? printable(socket.alpnProtocol) : 'none (the server chose no protocol)';
  const fingerprint = hasCert ? `sha256 ${cert.fingerprint256}` : 'no certificate';
  const summary = `${socket.getProtocol() ?? 'TLS'} ${socket.getCipher()?.name ?? '?'}, alpn ${alpn}, ` +
    `server certificate ${hasCert ? subjectOf(cert) : '(none)'} (${fingerprint})`;
  if (socket.authorized) {
    const by = trust.kind === 'cacert' ? `the CA in --cacert ${trust.file}` : "Node's default trusted CAs";
    return { summary, verified: true, verification: `certificate verified against ${by}` };
  }
  const code = String(socket.authorizationError ?? 'unknown');
  const meaning = VERIFY_MEANINGS[code];
  const details = hasCert
    ? `subject ${formatName(cert.subject)}, issuer ${formatName(cert.issuer)}, sha256 ${cert.fingerprint256}`
    : 'the server sent no certificate';
  return {
    summary,
    verified: false,
    verification: `certificate NOT verified (--insecure): ${details}; Node reported ${printable(code)}${meaning ? ` (${meaning})` : ''}`,
  };
}

/** Control characters from a server are shown escaped: a hostile peer must not drive the terminal. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** How a raw pipe ended. */
export type PipeOutcome = { readonly clean: true } | { readonly clean: false; readonly reason: string };

/**
 * `connect --upgrade`: the bytes that came with the 101 first, then socket → output and input → socket.
 * The end of input half-closes (FIN); the pipe ends when the socket closes. Resolves, never rejects.
 */
export async function pipeUpgraded(socket: Duplex, rest: Uint8Array, input: Readable, output: Writable): Promise<PipeOutcome> {
  let failure: string | undefined;
  socket.on('error', (error: NodeJS.ErrnoException) => {
    failure ??= error.code === 'ECONNRESET' ? 'connection reset by peer' : error.message;
  });
  // The peer has said all it will: close our half too, even if input is still open (a terminal, say).
  socket.on('end', () => socket.end());
  // A plain listener, not events.once(), which would reject on 'error': a reset is an outcome here.
  const closed = new Promise((resolve) => socket.once('close', resolve));
  if (rest.length > 0) output.write(rest);
  // pipe() carries backpressure both ways; `end: true` turns the end of input into our FIN.
  socket.pipe(output, { end: false });
  input.pipe(socket);
  await closed;
  input.unpipe(socket);
  socket.unpipe(output);
  return failure === undefined ? { clean: true } : { clean: false, reason: failure };
}
