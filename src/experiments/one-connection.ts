import type { ClientHttp2Stream } from 'node:http2';
import type { ConnectionSnapshot } from '../accept-loop/connection-table.js';
import { formatEndpoint } from '../accept-loop/five-tuple.js';
import type { StreamSnapshot } from '../accept-loop/stream-record.js';
import { startLab } from '../lab.js';
import {
  bodyOf, openHttp2Session, responseOf, sessionClientPort, StreamLines, StreamWebSocket, waitUntil, WAIT_MS, withTimeout,
} from './clients.js';
import type { Experiment } from './experiment.js';
import { connectionTable, formatColumns, traced } from './report.js';

/** What the experiment observed, for the report and for its test. */
export interface OneConnectionObservation {
  readonly serverAddress: string;
  readonly serverPort: number;
  /** The one client port: every stream below travelled on it. */
  readonly clientPort: number;
  /** What each conversation carried, in words, in the order they were opened. */
  readonly outcomes: readonly string[];
  readonly healthz: { readonly status: number; readonly body: string };
  /** What the WebSocket on /echo sent back for "hello", and the close code it answered with. */
  readonly wsEcho: string;
  readonly wsCloseCode: number;
  /** The two lab-chat/1 members: their hello lines and what the second received from the first. */
  readonly chatHellos: readonly string[];
  readonly chatDelivered: string;
  /** The server's connection table, taken while every stream was open. */
  readonly rows: readonly ConnectionSnapshot[];
  /** The SETTINGS each side announced, as the client's session saw them (the server's row has its own copy). */
  readonly clientSawServerSettings: Readonly<Record<string, number | boolean>>;
  readonly trace: readonly string[];
}

/**
 * One TCP connection, HTTP/2 with prior knowledge (RFC 9113 §3.3), and on it at the same time: a plain
 * GET /healthz (held open: its HEADERS carry no END_STREAM, so the server waits for the request's end),
 * a WebSocket on /echo (RFC 8441 extended CONNECT, `:protocol websocket`), and two `lab-chat/1` members
 * (`:protocol lab-chat/1`) who talk to each other. The server's table, taken while all four streams are
 * open, has one row with the streams nested in it.
 */
export async function observeOneConnection(): Promise<OneConnectionObservation> {
  const server = await startLab({ host: '127.0.0.1', port: 0 });
  return traced(server, async (trace) => {
    const port = server.port;
    const session = await openHttp2Session(port);
    const clientPort = sessionClientPort(session);
    try {
      // Stream 1: a GET whose request has not ended yet (no END_STREAM): the server waits for it.
      const get: ClientHttp2Stream = session.request({ ':method': 'GET', ':path': '/healthz' }, { endStream: false });
      get.on('error', () => {});
      const getAnswer = responseOf(get);
      getAnswer.catch(() => {});
      // Stream 3: WebSocket over HTTP/2.
      const ws = await StreamWebSocket.open(session, '/echo');
      const wsEcho = await ws.roundTrip('hello');
      // Streams 5 and 7: two members of the chat room, on the same connection.
      const alice = await StreamLines.open(session, '/', 'lab-chat/1');
      const aliceHello = await alice.nextLine();
      const bob = await StreamLines.open(session, '/', 'lab-chat/1');
      const bobHello = await bob.nextLine();
      alice.send('hi from stream 5');
      const chatDelivered = await bob.nextLine();

      await waitUntil(() => (server.table.snapshot()[0]?.streams?.filter((s) => s.state !== 'closed').length ?? 0) >= 4, WAIT_MS, 'four live streams');
      const rows = server.table.snapshot();

      get.end();
      const headers = await getAnswer;
      const body = await bodyOf(get);
      const wsCloseCode = await ws.close(1000);
      await alice.close();
      await bob.close();
      const outcomes = [
        `stream ${get.id ?? '?'}: GET /healthz, request held open (no END_STREAM) while the others ran; then END_STREAM → ${String(headers[':status'])} ${body.trim()}`,
        `stream ${ws.stream.id ?? '?'}: CONNECT /echo :protocol websocket, sec-websocket-version 13 → 200; sent "hello" (masked frame), got ${JSON.stringify(wsEcho)}; close ${wsCloseCode}`,
        `stream ${alice.stream.id ?? '?'}: CONNECT / :protocol lab-chat/1 → 200; got "${aliceHello}"; sent "hi from stream 5"`,
        `stream ${bob.stream.id ?? '?'}: CONNECT / :protocol lab-chat/1 → 200; got "${bobHello}", then "${chatDelivered}"`,
      ];
      const clientSawServerSettings = { ...session.remoteSettings } as Record<string, number | boolean>;
      const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
      session.close();
      await withTimeout(closed, WAIT_MS, 'the session to close');
      await waitUntil(() => server.table.size === 0, WAIT_MS, 'the connection to close');
      trace.stop();
      return {
        serverAddress: server.host, serverPort: port, clientPort, outcomes,
        healthz: { status: Number(headers[':status']), body },
        wsEcho, wsCloseCode, chatHellos: [aliceHello, bobHello], chatDelivered,
        rows, clientSawServerSettings, trace: [...trace.lines],
      };
    } finally {
      if (!session.destroyed) session.destroy();
    }
  });
}

/** The streams of each HTTP/2 row, nested under it: `#1  stream 3  CONNECT /echo  websocket  upgraded  200  …`. */
function streamTable(rows: readonly ConnectionSnapshot[]): string[] {
  const header = ['conn', 'stream', 'method', 'path', ':protocol', 'state', 'status', 'bytes in', 'bytes out'];
  const body = rows.flatMap((row) => (row.streams ?? []).map((s: StreamSnapshot) => [
    `#${row.id}`, String(s.id), s.method, s.path, s.protocol ?? '-', s.state, s.status === null ? '-' : String(s.status), String(s.bytesIn), String(s.bytesOut),
  ]));
  if (body.length === 0) return ['(no streams)'];
  return formatColumns([header, ...body], new Set([1, 7, 8]));
}

const formatSettings = (settings: Readonly<Record<string, number | boolean>> | null | undefined): string =>
  settings == null
    ? '(none received)'
    // node adds `customSettings` (an object, empty here): only the standard parameters are shown.
    : Object.entries(settings).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}=${String(v)}`).join(' ');

/** The facts the conclusion rests on; a list of what did not hold, empty when everything did. */
export function contradictions(observation: OneConnectionObservation): string[] {
  const wrong: string[] = [];
  const { rows } = observation;
  if (rows.length !== 1) wrong.push(`${rows.length} connection(s) in the table, not one`);
  const row = rows[0];
  if (row === undefined) return wrong;
  if (row.remote.port !== observation.clientPort) wrong.push(`the row's client port is ${row.remote.port}, the session's ${observation.clientPort}`);
  if (row.http !== '2') wrong.push(`the connection speaks HTTP/${row.http}`);
  const live = (row.streams ?? []).filter((s) => s.state !== 'closed');
  if (live.length < 4) wrong.push(`${live.length} live stream(s) on the row, not 4`);
  const has = (method: string, path: string, protocol: string | null): number => live.filter((s) => s.method === method && s.path === path && s.protocol === protocol).length;
  if (has('GET', '/healthz', null) !== 1) wrong.push('no open GET /healthz stream');
  if (has('CONNECT', '/echo', 'websocket') !== 1) wrong.push('no websocket stream on /echo');
  if (has('CONNECT', '/', 'lab-chat/1') !== 2) wrong.push(`${has('CONNECT', '/', 'lab-chat/1')} lab-chat/1 stream(s), not 2`);
  if (new Set(live.map((s) => s.id)).size !== live.length || live.some((s) => s.id % 2 !== 1)) wrong.push(`stream ids ${live.map((s) => s.id).join(', ')} are not distinct odd numbers`);
  if (row.settings?.server?.['enableConnectProtocol'] !== true) wrong.push('the server did not announce enableConnectProtocol');
  if (row.settings?.client == null) wrong.push("the client's SETTINGS were not recorded");
  if (observation.clientSawServerSettings['enableConnectProtocol'] !== true) wrong.push('the client did not see enableConnectProtocol');
  if (observation.healthz.status !== 200 || observation.healthz.body !== 'ok\n') wrong.push(`GET /healthz → ${observation.healthz.status} ${JSON.stringify(observation.healthz.body)}`);
  if (observation.wsEcho !== 'hello') wrong.push(`the WebSocket echoed ${JSON.stringify(observation.wsEcho)}`);
  if (observation.wsCloseCode !== 1000) wrong.push(`the WebSocket closed with ${observation.wsCloseCode}`);
  if (!observation.chatDelivered.startsWith('msg ') || !observation.chatDelivered.endsWith(' hi from stream 5')) wrong.push(`the second chat member got ${JSON.stringify(observation.chatDelivered)}`);
  return wrong;
}

export const oneConnection: Experiment = {
  name: 'one-connection',
  title: 'one TCP connection (HTTP/2) carrying a plain request, a WebSocket and two lab-chat/1 sessions at once, as streams',
  question: 'after the handshake a WebSocket owns its connection: with HTTP/2, must it still?',
  async run(report) {
    const observation = await observeOneConnection();
    const server = formatEndpoint(observation.serverAddress, observation.serverPort);
    const client = formatEndpoint('127.0.0.1', observation.clientPort);
    report.section('steps', [
      `server: one listening socket on ${server}; it serves HTTP/1.1, HTTP/2 (prior knowledge: the PRI * HTTP/2.0 preface) and TLS on it`,
      `client ${client}: one TCP connection, node:http2 with prior knowledge; the preface, then SETTINGS both ways`,
      ...observation.outcomes.map((line) => `client ${client} ${line}`),
      `client ${client}: all four streams were open at once when the table was read; then GOAWAY and close`,
    ]);
    report.section('trace (what the server saw; "stream" lines are HTTP/2 streams inside connection #1)', observation.trace);
    report.section('connection table (while all four streams were open)', connectionTable(observation.rows));
    report.section('streams of that connection (RFC 9113 §5: client streams have odd ids)', streamTable(observation.rows));
    const row = observation.rows[0];
    report.section('SETTINGS each side sent (RFC 9113 §6.5; as the server recorded them)', [
      `server: ${formatSettings(row?.settings?.server)}`,
      `client: ${formatSettings(row?.settings?.client)}`,
    ]);

    const wrong = contradictions(observation);
    if (wrong.length === 0) {
      const live = (row!.streams ?? []).filter((s) => s.state !== 'closed');
      report.conclusion(
        `one row in the table, one 5-tuple, and ${live.length} streams on it at once: a plain GET /healthz (200 ok), a WebSocket on /echo that echoed "hello", and two lab-chat/1 members who talked to each other; ` +
        'the server announced enableConnectProtocol, so the WebSocket and the chats were extended CONNECTs whose :protocol picked the handler from the same registry as Upgrade. ' +
        'A port is shared by connections (5-tuples), a connection by streams (HTTP/2): after the handshake the port is not monopolised, and with h2 not even the connection.',
      );
      return true;
    }
    report.conclusion(`unexpected: ${wrong.join('; ')}.`);
    return false;
  },
};
