import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { fiveTupleOf, formatEndpoint } from '../accept-loop/five-tuple.js';
import type { ResponseHead } from '../http/response-parser.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { UsageError } from '../errors.js';
import { CloseCode } from '../protocols/websocket/close-codes.js';
import { buildClientHandshakeRequest, generateClientKey, verifyServerHandshake } from '../protocols/websocket/handshake.js';
import { CliError } from './cli-error.js';
import {
  buildUpgradeRequest, openUpgrade, parseHeaderArg, parseTarget, parseUpgradeArg, parseTimeout, pipeUpgraded, printable, type UpgradeTarget,
} from './upgrade-client.js';
import { pipeWebSocket } from './websocket-pipe.js';

export const CONNECT_HELP = `switchyard connect <url> [options]

A websocat-style client that works against any server. For ws:// and wss:// URLs each line of stdin is
sent as a text message and every message received is printed: text followed by a newline, binary as
raw bytes. With --upgrade TOKEN it performs the HTTP upgrade to any protocol and then pipes stdin and
stdout to the raw socket; the bytes that came with the 101 are printed first.

At the end of stdin the client closes politely and keeps printing until the server has closed too:
WebSocket sends Close 1000 and waits for the server's Close; --upgrade half-closes TCP (FIN) and waits
for the server's FIN. So "echo hi | switchyard connect ws://127.0.0.1:8080/echo" prints "hi".

Options:
  --upgrade TOKEN        upgrade to TOKEN (or a list, "a/1, b", in preference order) and pipe raw bytes;
                         the URL may then be http://, https://, ws:// or wss://
  --binary               send each chunk of stdin as a binary message instead of lines as text
  --protocol NAME        offer a WebSocket subprotocol (repeat for more, preferred first)
  -H, --header 'N: v'    add a request header (repeatable)
  --verbose              print the connection's 5-tuple, the raw handshake and the close on stderr
  --timeout MS           give up if connecting and the handshake take longer (default 10000)
  -h, --help             show this help

Exit codes:
  0  closed cleanly: the WebSocket closing handshake completed with 1000, 1001 or no code;
     with --upgrade, the server closed its side
  1  no upgrade: cannot connect, no answer in time, a non-101 answer, or a 101 that fails the
     WebSocket checks (RFC 6455 §4.1); also an input line over the 16 MiB message limit
  2  usage error (bad option or URL)
  3  closed abnormally after the upgrade: dropped without a Close (1006), a protocol error, an
     error close code from the server, or a reset
`;

export async function connectCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      upgrade: { type: 'string' },
      binary: { type: 'boolean', default: false },
      protocol: { type: 'string', multiple: true, default: [] },
      header: { type: 'string', short: 'H', multiple: true, default: [] },
      verbose: { type: 'boolean', default: false },
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
  // A reader that went away (`| head -1`) ends the session, not in a crash.
  process.stdout.on('error', () => process.exit(0));

  if (values.upgrade !== undefined) {
    if (values.binary) throw new CliError('--binary is for WebSocket messages; --upgrade already pipes raw bytes');
    if (values.protocol!.length > 0) throw new CliError('--protocol is a WebSocket subprotocol; it does not apply with --upgrade');
    const token = parseUpgradeArg(values.upgrade);
    const target = parseTarget(positionals[0]!, ['http:', 'https:', 'ws:', 'wss:']);
    await connectRaw(target, buildUpgradeRequest(target, token, headers), timeoutMs, verbose);
  } else {
    const target = parseTarget(positionals[0]!, ['ws:', 'wss:'], ' (for other protocols use --upgrade TOKEN)');
    await connectWebSocket(target, { protocols: values.protocol!, headers, binary: values.binary!, timeoutMs }, verbose);
  }
}

async function connectRaw(target: UpgradeTarget, request: string, timeoutMs: number, verbose?: (line: string) => void): Promise<void> {
  const response = await openUpgrade(target, request, { timeoutMs, ...(verbose ? { onSent: showSent(verbose) } : {}) });
  if (verbose) showHead(verbose, response.head);
  if (response.head.status !== 101) {
    response.socket.destroy();
    throw notUpgraded(response.head);
  }
  const outcome = await pipeUpgraded(response.socket, response.rest, process.stdin, process.stdout);
  process.stdin.destroy();
  verbose?.(`* closed${outcome.clean ? ' cleanly' : `: ${outcome.reason}`}`);
  if (!outcome.clean) throw new CliError(`the connection ended abnormally: ${outcome.reason}`, 3);
}

interface WebSocketChoices {
  readonly protocols: readonly string[];
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly binary: boolean;
  readonly timeoutMs: number;
}

async function connectWebSocket(target: UpgradeTarget, choices: WebSocketChoices, verbose?: (line: string) => void): Promise<void> {
  const key = generateClientKey();
  let request: string;
  try {
    request = buildClientHandshakeRequest({ host: target.authority, path: target.path, key, protocols: choices.protocols, headers: choices.headers });
  } catch (error) {
    // The handshake builder refuses reserved headers and non-token subprotocols: the user's input.
    if (error instanceof UsageError) throw new CliError(error.message);
    throw error;
  }
  const response = await openUpgrade(target, request, { timeoutMs: choices.timeoutMs, ...(verbose ? { onSent: showSent(verbose) } : {}) });
  if (verbose) showHead(verbose, response.head);
  if (response.head.status !== 101) {
    response.socket.destroy();
    throw notUpgraded(response.head);
  }
  const verdict = verifyServerHandshake(response.head.status, response.head.fields, { key, protocols: choices.protocols });
  if (!verdict.ok) {
    response.socket.destroy();
    throw new CliError(`the server's 101 is not a valid WebSocket handshake: ${verdict.error.message}`, 1);
  }
  if (verbose && verdict.protocol) verbose(`* subprotocol: ${verdict.protocol}`);
  const outcome = await pipeWebSocket(response.socket, response.rest, process.stdin, process.stdout, {
    binary: choices.binary,
    maxMessageBytes: DEFAULT_LIMITS.webSocketMaxMessageBytes,
    closeTimeoutMs: DEFAULT_LIMITS.webSocketCloseTimeoutMs,
  });
  process.stdin.destroy();
  const reason = outcome.reason ? ` ${JSON.stringify(outcome.reason)}` : '';
  verbose?.(`* closed ${outcome.clean ? 'cleanly' : 'abnormally'}: ${outcome.code}${reason}`);
  if (outcome.localError !== undefined) throw new CliError(outcome.localError, 1);
  if (!outcome.clean) throw new CliError(`the connection closed abnormally: ${outcome.code}${reason}`, 3);
  // A clean closing handshake can still carry an error: the code says why the server ended it (§7.4.1).
  const normal: number[] = [CloseCode.Normal, CloseCode.GoingAway, CloseCode.NoStatusReceived];
  if (!normal.includes(outcome.code)) throw new CliError(`the server closed the connection with an error: ${outcome.code}${reason}`, 3);
}

/** The 5-tuple first: it is what tells this connection apart from every other one to the same port. */
function showSent(verbose: (line: string) => void) {
  return (socket: Socket, request: string): void => {
    const tuple = fiveTupleOf(socket);
    verbose(`* connected: tcp ${formatEndpoint(tuple.localAddress, tuple.localPort)} → ${formatEndpoint(tuple.remoteAddress, tuple.remotePort)} (our address:port → the server's)`);
    for (const line of request.split('\r\n').slice(0, -1)) verbose(`> ${printable(line)}`.trimEnd());
  };
}

function showHead(verbose: (line: string) => void, head: ResponseHead): void {
  for (const line of head.raw.split('\r\n').slice(0, -1)) verbose(`< ${printable(line)}`.trimEnd());
}

function notUpgraded(head: ResponseHead): CliError {
  return new CliError(`the server answered ${head.status} ${printable(head.reason)}, not 101 Switching Protocols`, 1);
}
