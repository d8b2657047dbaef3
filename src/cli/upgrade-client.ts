/**
 * A generic HTTP/1.1 Upgrade client (RFC 9110 §7.8), for any token: connect, send one request head that
 * asks to switch, read the response head with the sans-IO ResponseHeadParser, and hand back the socket
 * together with the bytes that followed the head. Those bytes matter: after a 101 they already belong to
 * the new protocol (a server may greet in the same write as its 101), so they are delivered before
 * anything read later. `connect`, `probe` and the experiments all open their connections here.
 *
 * `pipeUpgraded` is `connect --upgrade`: leftover bytes to stdout first, then socket ↔ stdio. At the end
 * of stdin our half of TCP is closed with a FIN (`end()`), and output goes on until the peer closes its
 * half, so nothing the server still had to say is lost.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
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
}

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
  return new Promise((resolve, reject) => {
    const socket: Socket = target.secure
      ? tlsConnect({ host: target.hostname, port: target.port, ...(isIP(target.hostname) ? {} : { servername: target.hostname }) })
      : netConnect({ host: target.hostname, port: target.port, allowHalfOpen: true });
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
    const onError = (error: NodeJS.ErrnoException): void => fail(describeSocketError(error, target));
    const onClose = (): void => fail(`${where} closed the connection before answering`);
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
      socket.setNoDelay(true);
      const trailing = options.trailing;
      socket.write(trailing && trailing.length > 0 ? Buffer.concat([Buffer.from(request, 'latin1'), trailing]) : request);
      options.onSent?.(socket, request);
    });
  });
}

function describeSocketError(error: NodeJS.ErrnoException, target: UpgradeTarget): string {
  const where = target.authority;
  switch (error.code) {
    case 'ECONNREFUSED': return `connection refused by ${where} (nothing is listening there)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return `cannot resolve host "${target.hostname}"`;
    case 'ECONNRESET': return `${where} reset the connection before answering`;
    case 'ETIMEDOUT': return `connecting to ${where} timed out`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return `${where} is unreachable (${error.code})`;
    default:
      return target.secure && !error.code?.startsWith('E')
        ? `TLS with ${where} failed: ${error.message}`
        : `cannot connect to ${where}: ${error.message}`;
  }
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
export async function pipeUpgraded(socket: Socket, rest: Uint8Array, input: Readable, output: Writable): Promise<PipeOutcome> {
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
