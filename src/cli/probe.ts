/**
 * `switchyard probe <url>`: one upgrade request, and the raw request and response printed line by line
 * with what each line means and, for the response, whether it passes the checks a client must make
 * (RFC 9110 §7.8 for any token; RFC 6455 §4.1 for websocket, with Sec-WebSocket-Accept recomputed from
 * the key we sent). Works against any server and for any token; after a 101 it says goodbye in the new
 * protocol's terms (a Close frame for websocket, a FIN otherwise) and leaves. Over https:// and wss://
 * it also shows what the TLS handshake agreed and whether the server's certificate was verified.
 */
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { formatEndpoint, fiveTupleOf } from '../accept-loop/five-tuple.js';
import { UsageError } from '../errors.js';
import type { ResponseHead } from '../http/response-parser.js';
import { WEBSOCKET_GUID, computeAcceptKey } from '../protocols/websocket/accept-key.js';
import { buildClientHandshakeRequest, generateClientKey } from '../protocols/websocket/handshake.js';
import { fieldValues, listHasToken, splitList } from '../protocols/websocket/handshake-fields.js';
import { WebSocketProtocol } from '../protocols/websocket/protocol.js';
import { acceptDeflateResponse, type DeflateParams } from '../protocols/websocket/deflate-negotiation.js';
import { parseExtensions } from '../protocols/websocket/handshake-fields.js';
import { CliError } from './cli-error.js';
import {
  buildConnectHeaders, buildGetHeaders, CONNECTION_PREFACE, describeSettings, formatHeaderBlock, headerValue, openHttp2, readStreamBody,
  requestStream, type StreamResponse,
} from './http2-client.js';
import {
  buildUpgradeRequest, describeTls, INSECURE_WARNING, openUpgrade, parseHeaderArg, parseTarget, parseTimeout, parseTlsTrust, parseUpgradeArg, printable,
} from './upgrade-client.js';

export const PROBE_HELP = `switchyard probe <url> [options]

Send one upgrade request and print the raw request and response, annotated: the status line, Upgrade,
Connection and, for websocket, Sec-WebSocket-Accept recomputed from our key and checked. Works against
any server; for tokens other than websocket the generic checks of RFC 9110 §7.8 apply. The URL may be
ws://, wss://, http:// or https://; over TLS the probe also shows the version, cipher, ALPN (only
http/1.1 is offered, or only h2 with --http2) and the server's certificate, and whether it was verified.

Options:
  --upgrade TOKEN        the protocol to ask for (default websocket); a list "a/1, b" offers several
  --http2                probe over HTTP/2: extended CONNECT (RFC 8441) for ws(s):// or --upgrade, else a GET
  --protocol NAME        offer a WebSocket subprotocol (repeatable)
  --no-deflate           do not offer permessage-deflate (offered by default for websocket, as browsers
                         do; the answer's Sec-WebSocket-Extensions is checked against RFC 7692 §7.1)
  -H, --header 'N: v'    add a request header (repeatable)
  --cacert FILE          wss:// and https:// only: trust exactly the CA certificate(s) in this PEM file
  -k, --insecure         wss:// and https:// only: do not verify the server's certificate (warns on stderr;
                         the output still shows the certificate and why it would have failed)
  --timeout MS           give up if connecting and the answer take longer (default 10000)
  -h, --help             show this help

Exit codes: 0 upgraded and every check passed; 1 not upgraded, a check failed, no answer, or TLS
failed (e.g. an untrusted certificate); 2 usage error (also --cacert or --insecure with a plain URL, or
a --cacert file that cannot be read or holds no PEM certificate).

With --http2 the probe speaks HTTP/2 instead (cleartext with prior knowledge for ws:// and http://, ALPN
h2 over TLS for wss:// and https://) and shows the exchange as a learner would want it: the connection
preface we sent, the server's SETTINGS with what each value means (SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
is what allows an RFC 8441 extended CONNECT), then the stream we opened: for ws:// and wss:// (or any
URL with --upgrade TOKEN) a CONNECT with :protocol websocket (or TOKEN), for http:// and https:// a GET;
its pseudo-headers and headers, shown HPACK-decoded rather than as wire bytes, and the answer's :status.
Exit codes with --http2: 0 the CONNECT was answered :status 200 and every check passed (for a GET: any
:status below 400); 1 no HTTP/2 (no ALPN h2, no SETTINGS), no SETTINGS_ENABLE_CONNECT_PROTOCOL for a
CONNECT, another :status, a failed check, or no answer; 2 usage error.
`;

const PASS = '✓';
const FAIL = '✗';
/** Bytes of a refusal's body to show; the rest is not the point of a probe. */
const BODY_BYTES = 4 * 1024;
/** How long to wait for the rest of a refusal's body, and for the peer's goodbye after a 101. */
const LINGER_MS = 2_000;
/** Raw lines are padded to this width before their note, so notes line up without drifting far right. */
const NOTE_COLUMN = 56;

export async function probeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      upgrade: { type: 'string' },
      http2: { type: 'boolean', default: false },
      protocol: { type: 'string', multiple: true, default: [] },
      'no-deflate': { type: 'boolean', default: false },
      header: { type: 'string', short: 'H', multiple: true, default: [] },
      cacert: { type: 'string' },
      insecure: { type: 'boolean', short: 'k', default: false },
      timeout: { type: 'string', default: '10000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) { process.stdout.write(PROBE_HELP); return; }
  if (positionals.length !== 1) throw new CliError('probe takes exactly one URL; see "switchyard probe --help"');
  const timeoutMs = parseTimeout(values.timeout!);
  const target = parseTarget(positionals[0]!, ['ws:', 'wss:', 'http:', 'https:']);
  const upgrade = parseUpgradeArg(values.upgrade ?? 'websocket');
  const offers = splitList([upgrade]);
  const websocket = offers.length === 1 && offers[0]!.toLowerCase() === 'websocket';
  const protocols = values.protocol!;
  if (protocols.length > 0 && !websocket) throw new CliError('--protocol is a WebSocket subprotocol; it needs --upgrade websocket');
  if (values['no-deflate'] && !websocket) throw new CliError('--no-deflate is a WebSocket extension; it needs --upgrade websocket');
  const deflate = websocket && !values['no-deflate'];
  const headers = values.header!.map(parseHeaderArg);
  const tls = parseTlsTrust(values, target);
  if (values.http2) {
    // A plain http(s):// URL with no --upgrade asks for nothing but the resource: a GET.
    const get = values.upgrade === undefined && (target.href.startsWith('http:') || target.href.startsWith('https:'));
    if (!get && offers.length !== 1) throw new CliError('--upgrade with --http2 takes one token: an extended CONNECT names exactly one :protocol (RFC 8441 §4)');
    await probeHttp2(target, { timeoutMs, tls, headers, protocols, protocol: get ? undefined : offers[0]!, websocket, deflate });
    return;
  }

  const key = websocket ? generateClientKey() : undefined;
  let request: string;
  try {
    request = key !== undefined
      ? buildClientHandshakeRequest({ host: target.authority, path: target.path, key, protocols, headers, deflate })
      : buildUpgradeRequest(target, upgrade, headers);
  } catch (error) {
    if (error instanceof UsageError) throw new CliError(error.message);
    throw error;
  }
  if (tls.kind === 'insecure') process.stderr.write(INSECURE_WARNING + '\n');
  const out: string[] = [`probe ${target.href} (Upgrade: ${upgrade})`];
  const response = await openUpgrade(target, request, {
    timeoutMs,
    tls,
    onSent(socket) {
      const tuple = fiveTupleOf(socket);
      out.push(`connected: tcp ${formatEndpoint(tuple.localAddress, tuple.localPort)} → ${formatEndpoint(tuple.remoteAddress, tuple.remotePort)} (our address:port → the server's)`);
      const report = describeTls(socket, tls);
      if (report) {
        out.push(`tls: ${report.summary}`);
        out.push(`  ${report.verified ? PASS : FAIL} ${report.verification}`);
      }
    },
  });
  const { head, socket, rest } = response;

  out.push('', 'request (what we sent):');
  out.push(...annotate('>', request, requestNote));
  out.push('', 'response (what the server answered):');
  const checks = checkResponse(head, { offers, websocket, key, protocols, deflate });
  out.push(...annotate('<', head.raw, (line, index) => checks.notes.get(index) ?? responseNote(line, head)));
  for (const missing of checks.missing) out.push(`  ${FAIL} ${missing}`);
  if (key !== undefined && head.status === 101) {
    out.push('', `Sec-WebSocket-Accept recomputed: base64(SHA-1(key + "${WEBSOCKET_GUID}"))`);
    const expected = computeAcceptKey(key);
    const matches = fieldValues(head.fields, 'sec-websocket-accept').map((v) => v.trim()).includes(expected);
    out.push(`  = ${expected} ${matches ? `${PASS} matches the server's` : `${FAIL} the server sent something else`}`);
  }
  if (checks.deflate !== undefined) out.push('', ...explainDeflate(checks.deflate));
  out.push('');
  if (head.status === 101) {
    out.push(rest.length > 0
      ? `after the 101: ${rest.length} bytes of the new protocol arrived together with the response head: ${JSON.stringify(Buffer.from(rest.subarray(0, 64)).toString('latin1'))}${rest.length > 64 ? '…' : ''}`
      : 'after the 101: the next bytes on this same TCP connection belong to the new protocol, not to HTTP');
    await sayGoodbye(socket, websocket);
  } else {
    const body = await readBody(socket, head, rest);
    if (body.length > 0) {
      out.push(`body (${body.length}${body.length >= BODY_BYTES ? '+' : ''} bytes):`);
      for (const line of body.toString('utf8').replace(/\n$/, '').split('\n')) out.push(`  | ${printable(line.replace(/\r$/, ''))}`);
      out.push('');
    }
  }
  const failed = checks.failures;
  if (head.status !== 101) out.push(`verdict: ${FAIL} not upgraded: the server answered ${head.status} ${printable(head.reason)}; the connection stayed HTTP`);
  else if (failed > 0) out.push(`verdict: ${FAIL} the server sent 101 but ${failed} check${failed === 1 ? '' : 's'} failed; a client must not use this connection`);
  else out.push(`verdict: ${PASS} upgraded to ${printable(head.get('upgrade') ?? upgrade)}; every check passed`);
  process.stdout.write(out.join('\n') + '\n');
  if (head.status !== 101 || failed > 0) process.exitCode = 1;
}

/** Each raw line (CRLFs removed, the blank line kept) with its note in a column beside it. */
function annotate(prefix: string, raw: string, note: (line: string, index: number) => string): string[] {
  const lines = raw.split('\r\n').slice(0, -1);
  return lines.map((line, index) => {
    const shown = `  ${prefix} ${printable(line)}`;
    const text = note(line, index);
    return text ? `${shown.padEnd(NOTE_COLUMN)}  ${text}` : shown.trimEnd();
  });
}

const REQUEST_NOTES: Readonly<Record<string, string>> = {
  host: 'the authority; every HTTP/1.1 request has one (RFC 9112 §3.2)',
  upgrade: 'the protocol(s) we ask to switch to, preferred first (RFC 9110 §7.8)',
  connection: 'Upgrade is hop-by-hop, so Connection must name it (RFC 9110 §7.6.1)',
  'sec-websocket-key': '16 random bytes, base64; the server must prove it read them (RFC 6455 §4.1)',
  'sec-websocket-version': 'the only version there is (RFC 6455 §4.1)',
  'sec-websocket-protocol': 'subprotocols we offer, preferred first (RFC 6455 §4.1)',
  'sec-websocket-extensions': 'permessage-deflate; the server may choose our window (RFC 7692 §7.1.2.2)',
};

function requestNote(line: string, index: number): string {
  if (index === 0) return 'an ordinary HTTP/1.1 request: until the answer, this connection speaks HTTP';
  if (line === '') return 'end of the head: bytes after it would belong to the new protocol';
  return REQUEST_NOTES[fieldName(line)] ?? '';
}

const RESPONSE_NOTES: Readonly<Record<string, string>> = {
  date: 'when the server answered',
  'content-length': 'the length of the body that follows',
  'content-type': 'what the body is',
  'sec-websocket-version': 'the WebSocket version(s) the server speaks (RFC 6455 §4.4)',
  allow: 'the methods this resource accepts (RFC 9110 §10.2.1)',
  'retry-after': 'when to try again (RFC 9110 §10.2.3)',
  server: 'the server software',
};

function responseNote(line: string, head: ResponseHead): string {
  if (line === '') return head.status === 101 ? 'end of the head: from here on, the new protocol' : 'end of the head: the body follows';
  const name = fieldName(line);
  if (name === 'upgrade' && head.status !== 101) return 'the protocol(s) the server could switch to here (RFC 9110 §7.8)';
  if (name === 'connection' && head.status !== 101) return 'connection options (hop-by-hop)';
  return RESPONSE_NOTES[name] ?? '';
}

function fieldName(line: string): string {
  return line.slice(0, Math.max(0, line.indexOf(':'))).toLowerCase();
}

interface Expectations {
  readonly offers: readonly string[];
  readonly websocket: boolean;
  readonly key: string | undefined;
  readonly protocols: readonly string[];
  /** We offered permessage-deflate. */
  readonly deflate: boolean;
}

interface CheckResult {
  /** Notes by line index of the response head (0 is the status line). */
  readonly notes: Map<number, string>;
  /** permessage-deflate as the server agreed it, when it did and the answer was valid. */
  readonly deflate?: DeflateParams;
  /** Required fields that are absent, as failed checks. */
  readonly missing: string[];
  readonly failures: number;
}

/** The client's checks of the answer, one mark per field it concerns. */
function checkResponse(head: ResponseHead, expect: Expectations): CheckResult {
  const notes = new Map<number, string>();
  const missing: string[] = [];
  let failures = 0;
  const mark = (index: number, ok: boolean, text: string): void => {
    notes.set(index, `${ok ? PASS : FAIL} ${text}`);
    if (!ok) failures++;
  };
  if (head.status !== 101) {
    notes.set(0, `${FAIL} ${refusalNote(head.status)}`);
    return { notes, missing, failures: 1 };
  }
  const upgraded = head.get('upgrade');
  notes.set(0, `${PASS} 101: from the next byte on, this TCP connection speaks ${printable(upgraded ?? '?')}`);
  // Field lines are numbered from 1 (line 0 is the status line), in the order they arrived.
  const indexOf = (name: string): number[] => head.fields.flatMap(([n], i) => (n.toLowerCase() === name ? [i + 1] : []));
  const chosen = splitList(fieldValues(head.fields, 'upgrade'));
  const wanted = expect.offers.map((o) => o.toLowerCase());
  // RFC 9110 §7.8: a 101 "MUST send an Upgrade header field to indicate the new protocol(s)", and the
  // server switches only to protocols the client listed.
  if (indexOf('upgrade').length === 0) { missing.push('no Upgrade field: a 101 must name the new protocol (RFC 9110 §7.8)'); failures++; }
  const upgradeOk = chosen.length > 0 && chosen.every((c) => wanted.includes(c.toLowerCase()));
  for (const i of indexOf('upgrade')) mark(i, upgradeOk, upgradeOk ? 'names a protocol we asked for' : 'names a protocol we did not ask for (RFC 9110 §7.8)');
  // RFC 9110 §7.8: "A sender of Upgrade MUST also send an "Upgrade" connection option"; RFC 6455 §4.1
  // item 3 makes it a client check for websocket.
  const connectionOk = listHasToken(fieldValues(head.fields, 'connection'), 'upgrade');
  if (indexOf('connection').length === 0) { missing.push('no Connection field: it must contain "upgrade" (RFC 9110 §7.8)'); failures++; }
  for (const i of indexOf('connection')) mark(i, connectionOk, connectionOk ? 'contains "upgrade"' : 'does not contain "upgrade" (RFC 9110 §7.8)');
  if (!expect.websocket || expect.key === undefined) return { notes, missing, failures };

  // RFC 6455 §4.1 item 4: the accept value must be exactly base64(SHA-1(key + GUID)).
  const expected = computeAcceptKey(expect.key);
  const accepts = indexOf('sec-websocket-accept');
  if (accepts.length === 0) { missing.push('no Sec-WebSocket-Accept: the server did not prove it read our key (RFC 6455 §4.1)'); failures++; }
  for (const i of accepts) {
    const ok = accepts.length === 1 && head.fields[i - 1]![1].trim() === expected;
    mark(i, ok, ok ? 'matches our key (recomputed below)' : 'does not match our key (RFC 6455 §4.1)');
  }
  // §4.1 item 6: a subprotocol we did not offer (or more than one) fails the connection.
  const protocolLines = indexOf('sec-websocket-protocol');
  for (const i of protocolLines) {
    const ok = protocolLines.length === 1 && expect.protocols.includes(head.fields[i - 1]![1].trim());
    mark(i, ok, ok ? 'a subprotocol we offered' : 'not a subprotocol we offered (RFC 6455 §4.1)');
  }
  // §4.1 item 5: only an extension we offered may be chosen; RFC 7692 §7.1 says what a valid answer to
  // our permessage-deflate offer is.
  const extensionLines = indexOf('sec-websocket-extensions').filter((i) => head.fields[i - 1]![1].trim() !== '');
  if (extensionLines.length === 0) {
    if (expect.deflate) notes.set(0, `${notes.get(0)}; no Sec-WebSocket-Extensions: the server declined permessage-deflate (messages go uncompressed)`);
    return { notes, missing, failures };
  }
  if (!expect.deflate) {
    for (const i of extensionLines) mark(i, false, 'an extension we did not offer (RFC 6455 §4.1)');
    return { notes, missing, failures };
  }
  const parsed = parseExtensions(extensionLines.map((i) => head.fields[i - 1]![1]));
  const agreed = parsed === undefined ? 'malformed (RFC 6455 §9.1)' : acceptDeflateResponse(parsed);
  const ok = typeof agreed !== 'string' && agreed !== undefined;
  for (const i of extensionLines) mark(i, ok, ok ? 'permessage-deflate agreed (explained below)' : `${agreed as string} (RFC 7692 §7.1)`);
  return ok ? { notes, missing, failures, deflate: agreed } : { notes, missing, failures };
}

/** What the agreed parameters mean for the two compressors (RFC 7692 §7.1.1, §7.1.2). */
function explainDeflate(params: DeflateParams): string[] {
  const side = (who: string, bits: number, reset: boolean): string =>
    `  ${who} compresses with a window of at most 2^${bits} = ${1 << bits} bytes, and ${reset ? 'starts afresh with every message (no context takeover)' : 'keeps it from message to message (context takeover)'}`;
  return [
    'permessage-deflate (RFC 7692): messages whose first frame has RSV1 set are DEFLATE-compressed',
    side('the server', params.serverMaxWindowBits, params.serverNoContextTakeover),
    side('the client (we)', params.clientMaxWindowBits, params.clientNoContextTakeover),
  ];
}

function refusalNote(status: number): string {
  switch (status) {
    case 426: return '426 Upgrade Required: this resource only speaks the protocol(s) in Upgrade (RFC 9110 §15.5.22)';
    case 400: return '400: the server found the upgrade request malformed';
    case 404: return '404: nothing at this path to upgrade to';
    case 405: return '405: wrong method for this resource';
    default:
      return status >= 200 && status < 300
        ? `${status}: the server ignored Upgrade, as RFC 9110 §7.8 allows, and answered in plain HTTP`
        : `${status}: not 101, so no switch; the connection still speaks HTTP`;
  }
}

/** A refusal's body, as far as it arrives within LINGER_MS, up to BODY_BYTES. */
async function readBody(socket: Socket, head: ResponseHead, rest: Uint8Array): Promise<Buffer> {
  const declared = Number(head.get('content-length') ?? NaN);
  const want = Math.min(Number.isSafeInteger(declared) && declared >= 0 ? declared : BODY_BYTES, BODY_BYTES);
  const chunks: Buffer[] = [Buffer.from(rest)];
  let length = rest.length;
  if (length < want) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, LINGER_MS);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        if (length >= want) { clearTimeout(timer); resolve(); }
      });
      socket.once('close', () => { clearTimeout(timer); resolve(); });
      socket.resume();
    });
  }
  socket.destroy();
  return Buffer.concat(chunks).subarray(0, want);
}

/** Leave the way the new protocol expects: a Close frame (RFC 6455 §7.1.2) for websocket, else a FIN. */
async function sayGoodbye(socket: Socket, websocket: boolean): Promise<void> {
  // A plain listener, not events.once(): that one rejects on 'error', and a reset here is no failure.
  const closed = new Promise((resolve) => socket.once('close', resolve));
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.on('data', () => {});
  socket.on('end', () => socket.end());
  if (websocket) {
    for (const frame of new WebSocketProtocol({ role: 'client' }).close(1000)) socket.write(frame);
  } else {
    socket.end();
  }
  socket.resume();
  await closed;
  clearTimeout(timer);
}

// HTTP/2 (--http2): the same questions asked on one stream of an HTTP/2 connection.

interface Http2Probe {
  readonly timeoutMs: number;
  readonly tls: ReturnType<typeof parseTlsTrust>;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly protocols: readonly string[];
  /** The :protocol of an extended CONNECT; undefined for a GET. */
  readonly protocol: string | undefined;
  readonly websocket: boolean;
  /** Offer permessage-deflate on the CONNECT (RFC 8441 §5 keeps RFC 6455's extension negotiation). */
  readonly deflate: boolean;
}

const HTTP2_REQUEST_NOTES: Readonly<Record<string, string>> = {
  ':method': 'CONNECT: this stream becomes a tunnel, not a request for a resource (RFC 9113 §8.5)',
  ':protocol': 'what the tunnel will carry: the HTTP/1.1 Upgrade token, on a stream (RFC 8441 §4)',
  ':scheme': 'an extended CONNECT carries :scheme and :path, a plain CONNECT does not (RFC 8441 §4)',
  ':path': 'the resource, as in a request line (RFC 9113 §8.3.1)',
  ':authority': 'replaces Host (RFC 9113 §8.3.1)',
  'sec-websocket-version': 'still 13; but no Sec-WebSocket-Key: a fresh stream needs no proof (RFC 8441 §5)',
  'sec-websocket-protocol': 'subprotocols we offer, preferred first (RFC 8441 §5, RFC 6455 §4.1)',
  'sec-websocket-extensions': 'permessage-deflate, negotiated as over HTTP/1.1 (RFC 8441 §5, RFC 7692)',
};

const GET_NOTES: Readonly<Record<string, string>> = {
  ':method': 'GET: an ordinary request on a new stream (RFC 9113 §8.3.1)',
  ':scheme': 'the URL scheme (RFC 9113 §8.3.1)',
  ':path': 'the resource, as in a request line (RFC 9113 §8.3.1)',
  ':authority': 'replaces Host (RFC 9113 §8.3.1)',
};

/** `line` padded to the note column, then the note. */
function noted(line: string, note: string | undefined): string {
  return note ? `${line.padEnd(NOTE_COLUMN)}  ${note}` : line;
}

async function probeHttp2(target: ReturnType<typeof parseTarget>, probe: Http2Probe): Promise<void> {
  if (probe.tls.kind === 'insecure') process.stderr.write(INSECURE_WARNING + '\n');
  const connect = probe.protocol !== undefined;
  const block = connect
    ? buildConnectHeaders(target, probe.protocol!, probe.headers, probe.websocket ? { protocols: probe.protocols, deflate: probe.deflate } : undefined)
    : buildGetHeaders(target, probe.headers);
  const out: string[] = [`probe ${target.href} over HTTP/2 (${connect ? `extended CONNECT :protocol ${probe.protocol}, RFC 8441` : 'GET'})`];
  const print = (): void => { process.stdout.write(out.join('\n') + '\n'); };
  let http2;
  try {
    http2 = await openHttp2(target, {
      timeoutMs: probe.timeoutMs,
      tls: probe.tls,
      onConnected(socket) {
        const tuple = fiveTupleOf(socket);
        out.push(`connected: tcp ${formatEndpoint(tuple.localAddress, tuple.localPort)} → ${formatEndpoint(tuple.remoteAddress, tuple.remotePort)} (our address:port → the server's)`);
        const report = describeTls(socket, probe.tls);
        if (report) {
          out.push(`tls: ${report.summary}`);
          out.push(`  ${report.verified ? PASS : FAIL} ${report.verification}`);
        } else {
          out.push('cleartext HTTP/2 with prior knowledge: no Upgrade, no ALPN; we simply start with the preface (RFC 9113 §3.3)');
        }
      },
    });
  } catch (error) {
    // What we learned before it failed (the 5-tuple, TLS) is still worth showing.
    if (out.length > 1) print();
    throw error;
  }
  let failures = 0;
  try {
    out.push('', 'sent (node:http2 writes these, we show what they are):');
    out.push(noted(`  > connection preface ${JSON.stringify(CONNECTION_PREFACE)}`, 'the 24 octets every HTTP/2 client sends first (RFC 9113 §3.4)'));
    out.push(`  > SETTINGS: ${describeSettings(http2.localSettings, false).join(', ')}`);
    out.push('', "server's SETTINGS (its first frame on the connection, RFC 9113 §3.4; unsent values show their defaults):");
    for (const line of describeSettings(http2.remoteSettings)) out.push(`  < ${line}`);
    const extended = http2.remoteSettings.enableConnectProtocol === true;
    out.push(extended
      ? `  ${PASS} SETTINGS_ENABLE_CONNECT_PROTOCOL = 1: this server accepts CONNECT with :protocol (RFC 8441 §3)`
      : `  ${connect ? FAIL : '-'} SETTINGS_ENABLE_CONNECT_PROTOCOL is not 1: a client must not send :protocol to this server (RFC 8441 §3)`);
    if (connect && !extended) {
      out.push('', `verdict: ${FAIL} no extended CONNECT: the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, so :protocol ${probe.protocol} cannot be asked for over HTTP/2`);
      process.exitCode = 1;
      return;
    }
    const response: StreamResponse = await requestStream(http2, target, block, probe.timeoutMs);
    let agreed: DeflateParams | undefined;
    const id = response.stream.id ?? '?';
    const notes = connect ? HTTP2_REQUEST_NOTES : GET_NOTES;
    out.push('', `request HEADERS on stream ${id} (HPACK-decoded, not the wire bytes; client streams are odd-numbered, RFC 9113 §5.1.1):`);
    for (const line of formatHeaderBlock(block)) out.push(noted(`  > ${line}`, notes[line.slice(0, line.indexOf(':', 1))]));
    out.push('', `response HEADERS on stream ${id} (HPACK-decoded):`);
    const statusNote = connect
      ? response.status === 200
        ? `${PASS} 200: stream ${id} is now a tunnel for ${printable(probe.protocol!)}; 200, not 101 (RFC 8441 §5)`
        : `${FAIL} ${response.status}: not 200, so no tunnel; the stream carries an ordinary response`
      : `${response.status < 400 ? PASS : FAIL} ${response.status}: the answer to the GET`;
    if (connect && response.status !== 200) failures++;
    if (!connect && response.status >= 400) failures++;
    for (const line of formatHeaderBlock(response.headers)) {
      const name = line.slice(0, line.indexOf(':', 1));
      let note: string | undefined;
      if (name === ':status') note = statusNote;
      else if (name === 'sec-websocket-protocol' && probe.websocket && connect) {
        const ok = probe.protocols.includes(line.slice(name.length + 1).trim());
        if (!ok) failures++;
        note = ok ? `${PASS} a subprotocol we offered` : `${FAIL} not a subprotocol we offered (RFC 6455 §4.1, RFC 8441 §5)`;
      } else if (name === 'sec-websocket-extensions' && probe.websocket && connect) {
        const parsed = probe.deflate ? parseExtensions([line.slice(name.length + 1)]) : undefined;
        const verdict = parsed === undefined ? 'an extension we did not offer' : acceptDeflateResponse(parsed);
        if (typeof verdict === 'string') { failures++; note = `${FAIL} ${verdict} (RFC 7692 §7.1)`; } else {
          agreed = verdict;
          note = `${PASS} permessage-deflate agreed (explained below)`;
        }
      } else note = RESPONSE_NOTES[name];
      out.push(noted(`  < ${line}`, note));
    }
    if (agreed !== undefined) out.push('', ...explainDeflate(agreed));
    if (probe.websocket && connect && response.status === 200 && headerValue(response.headers, 'sec-websocket-accept') !== undefined) {
      out.push(`  - a Sec-WebSocket-Accept came back, though RFC 8441 §5 has none; harmless`);
    }
    out.push('');
    if (connect && response.status === 200) {
      out.push(`after the 200: DATA frames on stream ${id} carry ${printable(probe.protocol!)}; other streams on this connection are unaffected`);
      await leaveStream(response, probe.websocket);
    } else {
      const body = await readStreamBody(response.stream, BODY_BYTES, LINGER_MS);
      if (body.length > 0) {
        out.push(`body (${body.length}${body.length >= BODY_BYTES ? '+' : ''} bytes, DATA frames on stream ${id}):`);
        for (const line of body.toString('utf8').replace(/\n$/, '').split('\n').slice(0, 20)) out.push(`  | ${printable(line.replace(/\r$/, ''))}`);
        out.push('');
      }
    }
    if (connect && response.status !== 200) out.push(`verdict: ${FAIL} no tunnel: the server answered :status ${response.status} to CONNECT :protocol ${printable(probe.protocol!)}`);
    else if (!connect && failures > 0) out.push(`verdict: ${FAIL} the server answered the GET over HTTP/2 with :status ${response.status}`);
    else if (failures > 0) out.push(`verdict: ${FAIL} ${failures} check${failures === 1 ? '' : 's'} failed; a client must not use this stream`);
    else out.push(connect
      ? `verdict: ${PASS} extended CONNECT accepted: stream ${id} carries ${printable(probe.protocol!)}; every check passed`
      : `verdict: ${PASS} the server answered the GET over HTTP/2 with :status ${response.status}`);
    if (failures > 0) process.exitCode = 1;
  } finally {
    print();
    http2.session.close();
    setTimeout(() => http2.session.destroy(), LINGER_MS).unref();
  }
}

/** Close 1000 in a frame for websocket (RFC 6455 §7.1.2), else END_STREAM; then wait for the server's end. */
async function leaveStream(response: StreamResponse, websocket: boolean): Promise<void> {
  const { stream } = response;
  const closed = new Promise((resolve) => stream.once('close', resolve));
  const timer = setTimeout(() => stream.close(), LINGER_MS);
  stream.on('data', () => {});
  stream.on('end', () => stream.end());
  if (websocket) for (const frame of new WebSocketProtocol({ role: 'client' }).close(1000)) stream.write(frame);
  stream.end();
  stream.resume();
  await closed;
  clearTimeout(timer);
}
