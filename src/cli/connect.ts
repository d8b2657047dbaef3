import type { OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { fiveTupleOf, formatEndpoint } from '../accept-loop/five-tuple.js';
import type { ResponseHead } from '../http/response-parser.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { UsageError } from '../errors.js';
import { CloseCode } from '../protocols/websocket/close-codes.js';
import { buildClientHandshakeRequest, generateClientKey, verifyServerHandshake } from '../protocols/websocket/handshake.js';
import { CliError } from './cli-error.js';
import {
  buildUpgradeRequest, describeTls, INSECURE_WARNING, openUpgrade, parseHeaderArg, parseTarget, parseTlsTrust, parseUpgradeArg, parseTimeout,
  pipeUpgraded, printable, type TlsTrust, type UpgradeTarget,
} from './upgrade-client.js';
import {
  buildConnectHeaders, CONNECTION_PREFACE, describeSettings, formatHeaderBlock, headerValue, openHttp2, readStreamBody, requestStream,
  requireExtendedConnect, type Http2Session,
} from './http2-client.js';
import { pipeWebSocket, type WebSocketPipeOptions } from './websocket-pipe.js';
import { acceptDeflateResponse, describeDeflate, type DeflateParams } from '../protocols/websocket/deflate-negotiation.js';
import { parseExtensions } from '../protocols/websocket/handshake-fields.js';
import { DEFAULT_DEFLATE_TUNING } from '../protocols/websocket/permessage-deflate.js';
import { FrameLayoutReader, formatFrameLayout, type FrameLayout } from '../protocols/websocket/frame-layout.js';

export const CONNECT_HELP = `switchyard connect <url> [options]

A websocat-style client that works against any server. For ws:// and wss:// URLs each line of stdin is
sent as a text message and every message received is printed: text followed by a newline, binary as
raw bytes. With --upgrade TOKEN it performs the HTTP upgrade to any protocol and then pipes stdin and
stdout to the raw socket; the bytes that came with the 101 are printed first.

At the end of stdin the client closes politely and keeps printing until the server has closed too:
WebSocket sends Close 1000 and waits for the server's Close; --upgrade half-closes TCP (FIN) and waits
for the server's FIN. So "echo hi | switchyard connect ws://127.0.0.1:8080/echo" prints "hi". (switchyard
answers every message it read before our Close; other servers, such as Python's websockets, may answer
the Close first and drop echoes still queued, which RFC 6455 §5.5.1 allows.)

wss:// and https:// run the same over TLS: the server's certificate is verified against Node's default
CAs (or --cacert FILE) and its name must match the URL's host; SNI carries the host name. Without --http2
ALPN offers only http/1.1, since an HTTP/1.1 upgrade cannot happen inside h2.

With --http2 the same runs over one HTTP/2 stream instead (RFC 8441): ws:// speaks cleartext HTTP/2 with
prior knowledge, wss:// offers only ALPN h2 (same certificate checks and SNI). The server must announce
SETTINGS_ENABLE_CONNECT_PROTOCOL = 1; then the client sends an extended CONNECT (:protocol websocket,
sec-websocket-version 13, no Sec-WebSocket-Key), and a :status 200 opens the stream for WebSocket frames.
With --upgrade TOKEN --http2 the stream carries raw bytes after CONNECT :protocol TOKEN; the end of stdin
ends our half of the stream (END_STREAM) and output goes on until the server ends its half.

Options:
  --upgrade TOKEN        upgrade to TOKEN (or a list, "a/1, b", in preference order) and pipe raw bytes;
                         the URL may then be http://, https://, ws:// or wss://
  --http2                use HTTP/2 extended CONNECT (RFC 8441) instead of an HTTP/1.1 Upgrade
  --binary               send each chunk of stdin as a binary message instead of lines as text
  --protocol NAME        offer a WebSocket subprotocol (repeat for more, preferred first)
  --no-deflate           do not offer permessage-deflate (RFC 7692), which is offered by default as
                         browsers do ("permessage-deflate; client_max_window_bits"); --verbose shows
                         what the server agreed and each message's size on the wire
  -H, --header 'N: v'    add a request header (repeatable)
  --cacert FILE          wss:// and https:// only: trust exactly the CA certificate(s) in this PEM file
  -k, --insecure         wss:// and https:// only: do not verify the server's certificate (warns on stderr;
                         with --verbose it still shows the certificate and why it would have failed)
  --verbose              print the connection's 5-tuple, the TLS version, cipher, ALPN and server
                         certificate, the raw handshake and the close on stderr; with --http2 the
                         server's SETTINGS and the HPACK-decoded request and response header blocks
  --hexdump              print on stderr what crosses the wire: the request and response heads with their
                         CR LF shown as \\r\\n, then every WebSocket frame sent (masked, as the client sends
                         it) and received, each laid out on RFC 6455 §5.2's frame diagram; with --upgrade
                         a classic hex dump (offset, 16 bytes, ASCII) of each chunk each way; with --http2
                         the header blocks HPACK-decoded (their wire bytes are compressed), then the stream's
                         bytes the same way
  --timeout MS           give up if connecting and the handshake take longer (default 10000)
  -h, --help             show this help

Exit codes:
  0  closed cleanly: the WebSocket closing handshake completed with 1000, 1001 or no code;
     with --upgrade, the server closed its side (over --http2: ended its half of the stream)
  1  no upgrade: cannot connect, TLS failed (an untrusted certificate, a name that does not match),
     no answer in time, a non-101 answer, or a 101 that fails the WebSocket checks (RFC 6455 §4.1);
     with --http2: no ALPN h2, no SETTINGS_ENABLE_CONNECT_PROTOCOL from the server, a :status other
     than 200, or a subprotocol we did not offer; also an input line over the 16 MiB message limit
  2  usage error (bad option or URL; --cacert or --insecure with a plain URL; an unreadable --cacert file
     or one without a PEM certificate)
  3  closed abnormally after the upgrade: dropped without a Close (1006), a protocol error, an
     error close code from the server, or a reset
`;

export async function connectCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      upgrade: { type: 'string' },
      http2: { type: 'boolean', default: false },
      binary: { type: 'boolean', default: false },
      'no-deflate': { type: 'boolean', default: false },
      protocol: { type: 'string', multiple: true, default: [] },
      header: { type: 'string', short: 'H', multiple: true, default: [] },
      cacert: { type: 'string' },
      insecure: { type: 'boolean', short: 'k', default: false },
      verbose: { type: 'boolean', default: false },
      hexdump: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '10000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) { process.stdout.write(CONNECT_HELP); return; }
  if (positionals.length !== 1) throw new CliError('connect takes exactly one URL; see "switchyard connect --help"');
  const timeoutMs = parseTimeout(values.timeout!);
  const headers = values.header!.map(parseHeaderArg);
  const verbose = values.verbose ? (line: string) => process.stderr.write(line + '\n') : undefined;
  const hexdump: Dump | undefined = values.hexdump ? (line: string) => process.stderr.write(line + '\n') : undefined;
  // A reader that went away (`| head -1`) ends the session, not in a crash.
  process.stdout.on('error', () => process.exit(0));

  if (values.upgrade !== undefined) {
    if (values.binary) throw new CliError('--binary is for WebSocket messages; --upgrade already pipes raw bytes');
    if (values.protocol!.length > 0) throw new CliError('--protocol is a WebSocket subprotocol; it does not apply with --upgrade');
    if (values['no-deflate']) throw new CliError('--no-deflate is a WebSocket extension; it does not apply with --upgrade');
    const token = parseUpgradeArg(values.upgrade);
    const target = parseTarget(positionals[0]!, ['http:', 'https:', 'ws:', 'wss:']);
    const tls = parseTrust(values, target);
    if (values.http2) {
      // RFC 8441 §4: :protocol carries one token, where Upgrade may list several.
      if (token.includes(',')) throw new CliError('--upgrade with --http2 takes one token: an extended CONNECT names exactly one :protocol (RFC 8441 §4)');
      const block = buildConnectHeaders(target, token, headers);
      await connectHttp2Raw(target, block, { timeoutMs, tls, hexdump }, verbose);
      return;
    }
    await connectRaw(target, buildUpgradeRequest(target, token, headers), { timeoutMs, tls, hexdump }, verbose);
  } else {
    const target = parseTarget(positionals[0]!, ['ws:', 'wss:'], ' (for other protocols use --upgrade TOKEN)');
    const tls = parseTrust(values, target);
    if (values.http2) {
      await connectHttp2WebSocket(target, { protocols: values.protocol!, headers, binary: values.binary!, deflate: !values['no-deflate'], timeoutMs, tls, hexdump }, verbose);
      return;
    }
    await connectWebSocket(target, { protocols: values.protocol!, headers, binary: values.binary!, deflate: !values['no-deflate'], timeoutMs, tls, hexdump }, verbose);
  }
}

/** The trust for a secure URL; the --insecure warning goes out whether or not --verbose was asked for. */
function parseTrust(values: { cacert?: string | undefined; insecure?: boolean | undefined }, target: UpgradeTarget): TlsTrust {
  const trust = parseTlsTrust(values, target);
  if (trust.kind === 'insecure') process.stderr.write(INSECURE_WARNING + '\n');
  return trust;
}

interface Connection {
  readonly timeoutMs: number;
  readonly tls: TlsTrust;
  /** --hexdump: where the wire bytes are shown. */
  readonly hexdump?: Dump | undefined;
}

async function connectRaw(target: UpgradeTarget, request: string, connection: Connection, verbose?: (line: string) => void): Promise<void> {
  const { timeoutMs, tls, hexdump } = connection;
  const onSent = sentHandler(verbose, hexdump, tls);
  const response = await openUpgrade(target, request, { timeoutMs, tls, ...(onSent ? { onSent } : {}) });
  if (verbose) showHead(verbose, response.head);
  if (hexdump) dumpHead(hexdump, '<-', 'response head', response.head.raw);
  if (response.head.status !== 101) {
    response.socket.destroy();
    throw notUpgraded(response.head);
  }
  if (hexdump) tapRaw(response.socket, process.stdin, response.rest, hexdump);
  const outcome = await pipeUpgraded(response.socket, response.rest, process.stdin, process.stdout);
  process.stdin.destroy();
  verbose?.(`* closed${outcome.clean ? ' cleanly' : `: ${outcome.reason}`}`);
  if (!outcome.clean) throw new CliError(`the connection ended abnormally: ${outcome.reason}`, 3);
}

interface WebSocketChoices extends Connection {
  readonly protocols: readonly string[];
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly binary: boolean;
  /** Offer permessage-deflate. */
  readonly deflate: boolean;
}

async function connectWebSocket(target: UpgradeTarget, choices: WebSocketChoices, verbose?: (line: string) => void): Promise<void> {
  const key = generateClientKey();
  let request: string;
  try {
    request = buildClientHandshakeRequest({ host: target.authority, path: target.path, key, protocols: choices.protocols, headers: choices.headers, deflate: choices.deflate });
  } catch (error) {
    // The handshake builder refuses reserved headers and non-token subprotocols: the user's input.
    if (error instanceof UsageError) throw new CliError(error.message);
    throw error;
  }
  const onSent = sentHandler(verbose, choices.hexdump, choices.tls);
  const response = await openUpgrade(target, request, { timeoutMs: choices.timeoutMs, tls: choices.tls, ...(onSent ? { onSent } : {}) });
  if (verbose) showHead(verbose, response.head);
  if (choices.hexdump) dumpHead(choices.hexdump, '<-', 'response head', response.head.raw);
  if (response.head.status !== 101) {
    response.socket.destroy();
    throw notUpgraded(response.head);
  }
  const verdict = verifyServerHandshake(response.head.status, response.head.fields, { key, protocols: choices.protocols, deflate: choices.deflate });
  if (!verdict.ok) {
    response.socket.destroy();
    throw new CliError(`the server's 101 is not a valid WebSocket handshake: ${verdict.error.message}`, 1);
  }
  if (verbose && verdict.protocol) verbose(`* subprotocol: ${verdict.protocol}`);
  if (verbose) showDeflate(verbose, choices.deflate, verdict.deflate);
  const frames = choices.hexdump ? frameDump(choices.hexdump) : undefined;
  const outcome = await pipeWebSocket(response.socket, response.rest, process.stdin, process.stdout, pipeOptions(choices, verdict.deflate, verbose, frames));
  process.stdin.destroy();
  frames?.end();
  webSocketVerdict(outcome, verbose);
}

function pipeOptions(choices: WebSocketChoices, deflate: DeflateParams | undefined, verbose?: (line: string) => void, frames?: FrameDump): WebSocketPipeOptions {
  return {
    binary: choices.binary,
    maxMessageBytes: DEFAULT_LIMITS.webSocketMaxMessageBytes,
    closeTimeoutMs: DEFAULT_LIMITS.webSocketCloseTimeoutMs,
    ...(deflate === undefined ? {} : { deflate: { params: deflate, ...DEFAULT_DEFLATE_TUNING } }),
    ...(verbose === undefined ? {} : { onMessage: verbose }),
    ...(frames === undefined ? {} : { onWire: frames.onWire }),
  };
}

function showDeflate(verbose: (line: string) => void, offered: boolean, agreed: DeflateParams | undefined): void {
  if (!offered) verbose('* extensions: none offered (--no-deflate)');
  else if (agreed === undefined) verbose('* extensions: the server declined permessage-deflate; messages go uncompressed');
  else verbose(`* extensions: ${describeDeflate(agreed)} (RFC 7692)`);
}

function webSocketVerdict(outcome: Awaited<ReturnType<typeof pipeWebSocket>>, verbose?: (line: string) => void): void {
  const reason = outcome.reason ? ` ${JSON.stringify(outcome.reason)}` : '';
  verbose?.(`* closed ${outcome.clean ? 'cleanly' : 'abnormally'}: ${outcome.code}${reason}`);
  if (outcome.localError !== undefined) throw new CliError(outcome.localError, 1);
  if (!outcome.clean) throw new CliError(`the connection closed abnormally: ${outcome.code}${reason}`, 3);
  // A clean closing handshake can still carry an error: the code says why the server ended it (§7.4.1).
  const normal: number[] = [CloseCode.Normal, CloseCode.GoingAway, CloseCode.NoStatusReceived];
  if (!normal.includes(outcome.code)) throw new CliError(`the server closed the connection with an error: ${outcome.code}${reason}`, 3);
}

/**
 * The 5-tuple first: it is what tells this connection apart from every other one to the same port. Then,
 * for TLS, what the handshake agreed and whose certificate it was; an unverified one in full.
 */
function showSent(verbose: (line: string) => void, trust: TlsTrust) {
  return (socket: Socket, request: string): void => {
    showEndpoints(verbose, socket, trust);
    for (const line of request.split('\r\n').slice(0, -1)) verbose(`> ${printable(line)}`.trimEnd());
  };
}

function showHead(verbose: (line: string) => void, head: ResponseHead): void {
  for (const line of head.raw.split('\r\n').slice(0, -1)) verbose(`< ${printable(line)}`.trimEnd());
}

function notUpgraded(head: ResponseHead): CliError {
  return new CliError(`the server answered ${head.status} ${printable(head.reason)}, not 101 Switching Protocols`, 1);
}

// HTTP/2 (RFC 8441): the same two clients, each on one stream of an HTTP/2 connection.

/** Bytes of a refused CONNECT's body to quote in the error. */
const BODY_BYTES = 512;
const BODY_WAIT_MS = 2_000;

/**
 * Open the session, show what it agreed, insist on extended CONNECT (RFC 8441 §3), send `block` and
 * return the stream once the server answered :status 200 (RFC 8441 §5: 200, not 101, opens the tunnel).
 */
async function openHttp2Tunnel(target: UpgradeTarget, block: OutgoingHttpHeaders, connection: Connection, verbose?: (line: string) => void) {
  const http2 = await openHttp2(target, {
    timeoutMs: connection.timeoutMs,
    tls: connection.tls,
    ...(verbose ? { onConnected: (socket: Socket) => showConnected(verbose, socket, connection.tls) } : {}),
  });
  try {
    if (verbose) {
      verbose(`* http/2: sent the connection preface ${JSON.stringify(CONNECTION_PREFACE)} and our SETTINGS (RFC 9113 §3.4)`);
      verbose("* server's SETTINGS:");
      for (const line of describeSettings(http2.remoteSettings, false)) verbose(`*   ${line}`);
    }
    requireExtendedConnect(target, http2.remoteSettings);
    const response = await requestStream(http2, target, block, connection.timeoutMs);
    if (verbose) {
      verbose(`* request HEADERS on stream ${response.stream.id ?? '?'} (shown HPACK-decoded, not wire bytes):`);
      for (const line of formatHeaderBlock(block)) verbose(`> ${line}`);
      verbose(`* response HEADERS on stream ${response.stream.id ?? '?'} (shown HPACK-decoded, not wire bytes):`);
      for (const line of formatHeaderBlock(response.headers)) verbose(`< ${line}`);
    }
    const hexdump = connection.hexdump;
    if (hexdump) {
      // HPACK compresses the header blocks against a table both sides keep: their bytes would teach nothing.
      hexdump(`-> HEADERS on stream ${response.stream.id ?? '?'} (HPACK-compressed on the wire; shown decoded):`);
      for (const line of formatHeaderBlock(block)) hexdump(`   ${line}`);
      hexdump(`<- HEADERS on stream ${response.stream.id ?? '?'} (HPACK-compressed on the wire; shown decoded):`);
      for (const line of formatHeaderBlock(response.headers)) hexdump(`   ${line}`);
      hexdump("* below: the stream's bytes (the payload of its DATA frames), not the HTTP/2 frames around them");
    }
    if (response.status !== 200) {
      const body = await readStreamBody(response.stream, BODY_BYTES, BODY_WAIT_MS);
      const text = body.toString('utf8').trim().replace(/\s*\r?\n\s*/g, ' / ');
      throw new CliError(`the server answered :status ${response.status}, not 200 (RFC 8441 §5)${text ? `: ${printable(text)}` : ''}`, 1);
    }
    return { http2, response };
  } catch (error) {
    http2.session.destroy();
    throw error;
  }
}

async function connectHttp2WebSocket(target: UpgradeTarget, choices: WebSocketChoices, verbose?: (line: string) => void): Promise<void> {
  let block: OutgoingHttpHeaders;
  try {
    // The same token check the HTTP/1.1 builder makes; its request is discarded.
    buildClientHandshakeRequest({ host: target.authority, path: target.path, key: generateClientKey(), protocols: choices.protocols, headers: [] });
    block = buildConnectHeaders(target, 'websocket', choices.headers, { protocols: choices.protocols, deflate: choices.deflate });
  } catch (error) {
    if (error instanceof UsageError) throw new CliError(error.message);
    throw error;
  }
  const { http2, response } = await openHttp2Tunnel(target, block, choices, verbose);
  // RFC 8441 §5 keeps RFC 6455's subprotocol rule: the server may pick one we offered, or none.
  const chosen = headerValue(response.headers, 'sec-websocket-protocol');
  if (chosen !== undefined && !choices.protocols.includes(chosen.trim())) {
    http2.session.destroy();
    throw new CliError(`the server's 200 is not a valid WebSocket handshake: it chose subprotocol "${printable(chosen)}", which we did not offer (RFC 6455 §4.1, RFC 8441 §5)`, 1);
  }
  if (verbose && chosen) verbose(`* subprotocol: ${printable(chosen.trim())}`);
  // RFC 8441 §5 keeps the extension negotiation too: the same Sec-WebSocket-Extensions, in HEADERS.
  const extensions = headerValue(response.headers, 'sec-websocket-extensions');
  let deflate: DeflateParams | undefined;
  if (extensions !== undefined && extensions.trim() !== '') {
    const parsed = choices.deflate ? parseExtensions([extensions]) : undefined;
    const agreed = parsed === undefined ? 'we offered no extension' : acceptDeflateResponse(parsed);
    if (typeof agreed === 'string') {
      http2.session.destroy();
      throw new CliError(`the server's 200 is not a valid WebSocket handshake: unacceptable extensions "${printable(extensions)}" (${agreed}; RFC 7692 §7.1)`, 1);
    }
    deflate = agreed;
  }
  if (verbose) showDeflate(verbose, choices.deflate, deflate);
  const frames = choices.hexdump ? frameDump(choices.hexdump) : undefined;
  const outcome = await pipeWebSocket(response.stream, new Uint8Array(0), process.stdin, process.stdout, pipeOptions(choices, deflate, verbose, frames));
  process.stdin.destroy();
  frames?.end();
  endSession(http2);
  webSocketVerdict(outcome, verbose);
}

async function connectHttp2Raw(target: UpgradeTarget, block: OutgoingHttpHeaders, connection: Connection, verbose?: (line: string) => void): Promise<void> {
  const { http2, response } = await openHttp2Tunnel(target, block, connection, verbose);
  if (connection.hexdump) tapRaw(response.stream, process.stdin, new Uint8Array(0), connection.hexdump);
  // End of stdin → END_STREAM on our half; the pipe lasts until the server ends its half too.
  const outcome = await pipeUpgraded(response.stream, new Uint8Array(0), process.stdin, process.stdout);
  process.stdin.destroy();
  const rst = response.stream.rstCode;
  endSession(http2);
  // RFC 9113 §8.1: a stream that ends with RST_STREAM (other than NO_ERROR) did not end cleanly.
  const reset = rst !== undefined && rst !== 0 ? `the server reset the stream (RST_STREAM code ${rst})` : undefined;
  const reason = outcome.clean ? reset : outcome.reason;
  verbose?.(`* closed${reason === undefined ? ' cleanly' : `: ${reason}`}`);
  if (reason !== undefined) throw new CliError(`the connection ended abnormally: ${reason}`, 3);
}

/** GOAWAY and close: the one stream is done, and a live session would keep the process running. */
function endSession(http2: Http2Session): void {
  http2.session.close();
  setTimeout(() => http2.session.destroy(), 1_000).unref();
}

function showConnected(verbose: (line: string) => void, socket: Socket, trust: TlsTrust): void {
  if (!showEndpoints(verbose, socket, trust)) {
    verbose('* http/2 with prior knowledge: cleartext, no ALPN and no Upgrade; the preface comes first (RFC 9113 §3.3)');
  }
}

/** The 5-tuple, and for TLS what the handshake agreed (an unverified certificate in full); true for TLS. */
function showEndpoints(verbose: (line: string) => void, socket: Socket, trust: TlsTrust): boolean {
  const tuple = fiveTupleOf(socket);
  verbose(`* connected: tcp ${formatEndpoint(tuple.localAddress, tuple.localPort)} → ${formatEndpoint(tuple.remoteAddress, tuple.remotePort)} (our address:port → the server's)`);
  const tls = describeTls(socket, trust);
  if (!tls) return false;
  verbose(`* tls: ${tls.summary}`);
  if (!tls.verified) verbose(`* tls: ${tls.verification}`);
  return true;
}

// --hexdump: what crossed the wire, each way.

type Dump = (line: string) => void;
type WireDirection = 'sent' | 'received';
const ARROW: Readonly<Record<WireDirection, string>> = { sent: '->', received: '<-' };

/** What `openUpgrade` calls once the request is out: --verbose's lines and --hexdump's head, as asked. */
function sentHandler(verbose: Dump | undefined, hexdump: Dump | undefined, trust: TlsTrust): ((socket: Socket, request: string) => void) | undefined {
  if (!verbose && !hexdump) return undefined;
  const show = verbose ? showSent(verbose, trust) : undefined;
  return (socket, request) => {
    show?.(socket, request);
    if (hexdump) dumpHead(hexdump, '->', 'request head', request);
  };
}

/** A head line by line, each CR LF written out: where a line ends, and the empty line that ends the head. */
export function dumpHead(dump: Dump, arrow: string, what: string, head: string): void {
  dump(`${arrow} ${what}, ${Buffer.byteLength(head, 'latin1')} bytes (CR LF shown as \\r\\n):`);
  const lines = head.split('\r\n');
  // The head ends with CR LF CR LF; after the last of them there is nothing to show.
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) dump(`   ${printable(line)}\\r\\n`);
}

interface FrameDump {
  readonly onWire: (direction: WireDirection, bytes: Uint8Array) => void;
  /** The connection is over: show a frame either side was in the middle of. */
  readonly end: () => void;
}

/** One FrameLayoutReader per direction, so each side's frames are cut where that side's stream cuts them. */
function frameDump(dump: Dump): FrameDump {
  const readers: Record<WireDirection, FrameLayoutReader> = { sent: new FrameLayoutReader(), received: new FrameLayoutReader() };
  const show = (direction: WireDirection, frame: FrameLayout): void => dump(formatFrameLayout(frame, ARROW[direction]) + '\n');
  return {
    onWire: (direction, bytes) => { for (const frame of readers[direction].receive(bytes)) show(direction, frame); },
    end: () => {
      for (const direction of ['sent', 'received'] as const) {
        const partial = readers[direction].end();
        if (partial) show(direction, partial);
      }
    },
  };
}

/**
 * --upgrade's bytes are no framing we know, so each chunk is dumped as it passed. Input is tapped where
 * the pipe reads it, which is exactly what it then writes to the socket.
 */
function tapRaw(socket: Duplex, input: Readable, rest: Uint8Array, dump: Dump): void {
  const offsets: Record<WireDirection, number> = { sent: 0, received: 0 };
  const show = (direction: WireDirection, bytes: Uint8Array, note = ''): void => {
    dump(`${ARROW[direction]} ${bytes.length} bytes at offset ${offsets[direction]}${note}:`);
    for (const line of hexDumpLines(bytes, offsets[direction])) dump(`   ${line}`);
    offsets[direction] += bytes.length;
  };
  if (rest.length > 0) show('received', rest, ' (they came with the 101)');
  // Listeners on paused streams: the pipe that follows resumes them, and these see every chunk too.
  socket.on('data', (chunk: Buffer) => show('received', chunk));
  input.on('data', (chunk: Buffer) => show('sent', chunk));
}

/** `00000010  68 65 6c 6c 6f 20 72 61  77 0a 73 65 63 6f 6e 64  |hello raw.second|`, as `hexdump -C`. */
export function hexDumpLines(bytes: Uint8Array, start = 0): string[] {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = Array.from({ length: 16 }, (_, i) => (i < row.length ? row[i]!.toString(16).padStart(2, '0') : '  '));
    const ascii = Array.from(row, (byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.')).join('');
    lines.push(`${(start + at).toString(16).padStart(8, '0')}  ${hex.slice(0, 8).join(' ')}  ${hex.slice(8).join(' ')}  |${ascii}|`);
  }
  return lines;
}
