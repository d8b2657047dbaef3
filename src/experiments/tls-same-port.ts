import type { ConnectionSnapshot } from '../accept-loop/connection-table.js';
import { formatEndpoint } from '../accept-loop/five-tuple.js';
import { formatByte, TLS_HANDSHAKE_RECORD } from '../accept-loop/sniff.js';
import { createSelfSignedCertificate } from '../accept-loop/tls/self-signed-certificate.js';
import { startLab } from '../lab.js';
import {
  closeSocket, closeWebSocket, httpGet, httpsGet, openSecureWebSocket, openWebSocket, roundTrip, type SecureTarget, waitUntil, WAIT_MS,
} from './clients.js';
import type { Experiment } from './experiment.js';
import { connectionTable, formatColumns, traced } from './report.js';

/** The four clients, in the order they connect. */
export type Scheme = 'http' | 'https' | 'ws' | 'wss';

/** One client as it saw its own connection. */
export interface ClientSide {
  readonly scheme: Scheme;
  readonly clientPort: number;
  /** What the connection carried, in words: `GET /healthz → 200 ok`, `sent "hello", got "hello"`. */
  readonly outcome: string;
  /** For https and wss: the SNI name the client sent (null: none), the version and ALPN it agreed on. */
  readonly tls?: { readonly sni: string | null; readonly version: string | null; readonly alpn: string | null };
}

/** What the experiment observed, for the report and for its test. */
export interface TlsSamePortObservation {
  readonly serverAddress: string;
  readonly serverPort: number;
  readonly clients: readonly ClientSide[];
  /** The server's connection table, taken while all four connections were open. */
  readonly rows: readonly ConnectionSnapshot[];
  readonly trace: readonly string[];
}

/**
 * The question behind port 443, one step further: can TLS and cleartext share a port? A private lab with a fresh self-signed certificate serves TLS and
 * cleartext on one port. Four clients connect to it and stay connected: http://, https:// (SNI localhost,
 * the way a browser dials https://localhost), ws:// and wss:// (to 127.0.0.1, an address, so without
 * SNI: RFC 6066 §3). The server's table, taken while all four are open, shows one server port, four client
 * ports, and the first byte that sent each connection to HTTP or to TLS, with the SNI name and the ALPN
 * offer the front door read from the ClientHello in clear text before node:tls decrypted anything.
 */
export async function observeTlsSamePort(): Promise<TlsSamePortObservation> {
  const certificate = createSelfSignedCertificate();
  const server = await startLab({ host: '127.0.0.1', port: 0, tls: { cert: certificate.certPem, key: certificate.keyPem } });
  return traced(server, async (trace) => {
    const port = server.port;
    const byName: SecureTarget = { ca: certificate.certPem, servername: 'localhost' };
    const byAddress: SecureTarget = { ca: certificate.certPem };

    const http = await httpGet(port, '/healthz');
    const https = await httpsGet(port, '/healthz', byName);
    const ws = await openWebSocket(port, '/echo');
    const wsEcho = await roundTrip(ws.ws, 'hello');
    const wss = await openSecureWebSocket(port, '/echo', byAddress);
    const wssEcho = await roundTrip(wss.ws, 'hello');
    // Every response above was read, so all four rows are in the table, past the front door.
    await waitUntil(() => server.table.size === 4, WAIT_MS, 'four live connections');
    const rows = server.table.snapshot();
    const clients: ClientSide[] = [
      { scheme: 'http', clientPort: http.clientPort, outcome: `GET /healthz → ${http.head.status} ${http.data.toString().trim()}` },
      {
        scheme: 'https', clientPort: https.clientPort, outcome: `GET /healthz → ${https.head.status} ${https.data.toString().trim()}`,
        tls: { sni: byName.servername ?? null, version: https.socket.getProtocol(), alpn: alpnOf(https.socket.alpnProtocol) },
      },
      { scheme: 'ws', clientPort: ws.clientPort, outcome: `GET /echo, Upgrade: websocket → 101; sent "hello", got ${JSON.stringify(wsEcho)}` },
      {
        scheme: 'wss', clientPort: wss.clientPort, outcome: `GET /echo, Upgrade: websocket → 101; sent "hello", got ${JSON.stringify(wssEcho)}`,
        tls: { sni: byAddress.servername ?? null, version: wss.socket.getProtocol(), alpn: alpnOf(wss.socket.alpnProtocol) },
      },
    ];

    await closeSocket(http.socket);
    await closeSocket(https.socket);
    await closeWebSocket(ws.ws);
    await closeWebSocket(wss.ws);
    await waitUntil(() => server.table.size === 0, WAIT_MS, 'every connection to close');
    trace.stop();
    return { serverAddress: server.host, serverPort: port, clients, rows, trace: [...trace.lines] };
  });
}

/** The distinct first bytes of `rows`, as the table prints them: `0x47 'G'`. */
function firstBytes(rows: readonly ConnectionSnapshot[]): string {
  return [...new Set(rows.map((r) => describeByte(r.firstByte)))].join(' or ');
}

/** `https and wss`: the schemes of the clients behind `rows`, in the order they connected. */
function schemesOf(observation: TlsSamePortObservation, rows: readonly ConnectionSnapshot[]): string {
  const ports = new Set(rows.map((r) => r.remote.port));
  return observation.clients.filter((c) => ports.has(c.clientPort)).map((c) => c.scheme).join(' and ');
}

/** `TLSv1.3`, or the versions joined when the two TLS connections agreed on different ones. */
function tlsVersions(observation: TlsSamePortObservation): string {
  return [...new Set(observation.rows.map((r) => r.tls?.version).filter((v): v is string => typeof v === 'string'))].join(' and ') || 'TLS';
}

const alpnOf = (protocol: string | false | null): string | null => (typeof protocol === 'string' ? protocol : null);

/** `0x47 'G'` for a printable byte, `0x16` for a control character. */
function describeByte(text: string | undefined): string {
  if (text === undefined) return '-';
  const byte = Number.parseInt(text, 16);
  return byte > 0x20 && byte < 0x7f ? `${formatByte(byte)} '${String.fromCharCode(byte)}'` : formatByte(byte);
}

/** What each client sent first, and what that byte made of its connection: `0x47 'G' → http`. */
function decidedBy(row: ConnectionSnapshot): string {
  return `${describeByte(row.firstByte)} → ${row.transport === 'tls' ? 'tls' : 'http'}`;
}

/** One row per connection: who the client was, the 5-tuple's two ends, and what the front door read. */
function frontDoorTable(observation: TlsSamePortObservation): string[] {
  const scheme = new Map(observation.clients.map((c) => [c.clientPort, c.scheme]));
  const header = ['id', 'client', 'client end', 'server end', 'first byte', 'transport', 'SNI (clear)', 'ALPN offered (clear)', 'TLS', 'ALPN agreed', 'then speaks'];
  const body = observation.rows.map((row) => [
    `#${row.id}`,
    `${scheme.get(row.remote.port) ?? '?'}://`,
    formatEndpoint(row.remote.address, row.remote.port),
    formatEndpoint(row.local.address, row.local.port),
    decidedBy(row),
    row.transport,
    row.tls === undefined ? '-' : row.tls.sni ?? '(none)',
    row.tls === undefined ? '-' : row.tls.offeredAlpn.join(', ') || '(none)',
    row.tls?.version ?? '-',
    row.tls === undefined ? '-' : row.tls.alpn ?? '(none)',
    row.protocol ?? 'HTTP/1.1',
  ]);
  return formatColumns([header, ...body]);
}

/** The facts the conclusion rests on; a list of what did not hold, empty when everything did. */
export function contradictions(observation: TlsSamePortObservation): string[] {
  const { rows, clients } = observation;
  const wrong: string[] = [];
  if (rows.length !== 4) wrong.push(`${rows.length} connection(s) in the table while all four clients were connected`);
  const serverEnds = new Set(rows.map((r) => formatEndpoint(r.local.address, r.local.port)));
  if (serverEnds.size !== 1 || rows.some((r) => r.local.port !== observation.serverPort)) wrong.push(`${serverEnds.size} server endpoint(s): ${[...serverEnds].join(', ')}`);
  if (new Set(rows.map((r) => r.remote.port)).size !== rows.length) wrong.push('two connections share a client port');
  for (const client of clients) {
    const row = rows.find((r) => r.remote.port === client.clientPort);
    if (row === undefined) { wrong.push(`no row for the ${client.scheme}:// client (port ${client.clientPort})`); continue; }
    const secure = client.scheme === 'https' || client.scheme === 'wss';
    const expectedFirst = secure ? formatByte(TLS_HANDSHAKE_RECORD) : formatByte('G'.charCodeAt(0));
    if (row.firstByte !== expectedFirst) wrong.push(`the ${client.scheme}:// connection's first byte was ${row.firstByte ?? 'not looked at'}, not ${expectedFirst}`);
    if (row.transport !== (secure ? 'tls' : 'tcp')) wrong.push(`the ${client.scheme}:// connection is ${row.transport}`);
    const upgraded = client.scheme === 'ws' || client.scheme === 'wss';
    if (upgraded ? row.protocol !== 'websocket' : row.state !== 'http') wrong.push(`the ${client.scheme}:// connection is ${row.state}${row.protocol ? ` (${row.protocol})` : ''}`);
    if (!client.outcome.endsWith(upgraded ? 'got "hello"' : '200 ok')) wrong.push(`the ${client.scheme}:// client: ${client.outcome}`);
    if (secure) {
      const tls = row.tls;
      if (tls === undefined) { wrong.push(`no TLS details for the ${client.scheme}:// connection`); continue; }
      if (tls.sni !== (client.tls?.sni ?? null)) wrong.push(`the server read SNI ${tls.sni ?? '(none)'} from the ${client.scheme}:// client, which sent ${client.tls?.sni ?? '(none)'}`);
      if (tls.offeredAlpn.join(',') !== 'http/1.1' || tls.alpn !== 'http/1.1') wrong.push(`ALPN for ${client.scheme}://: offered ${tls.offeredAlpn.join(', ') || '(none)'}, agreed ${tls.alpn ?? '(none)'}`);
      if (tls.version === null || tls.version !== client.tls?.version) wrong.push(`TLS version ${tls.version ?? '?'} on the server, ${client.tls?.version ?? '?'} on the client`);
    }
  }
  return wrong;
}

export const tlsSamePort: Experiment = {
  name: 'tls-same-port',
  title: 'http, https, ws and wss clients on one port at the same time; the first byte tells TLS from cleartext',
  question: 'can one port serve TLS and cleartext at once, and what does the server see before it decrypts anything?',
  async run(report) {
    const observation = await observeTlsSamePort();
    const server = formatEndpoint(observation.serverAddress, observation.serverPort);
    const client = (c: ClientSide): string => `${c.scheme}:// client ${formatEndpoint('127.0.0.1', c.clientPort)}`;
    const steps = [
      `server: one listening socket on ${server}, TLS and cleartext, with a self-signed certificate made at start (localhost, 127.0.0.1, ::1)`,
      ...observation.clients.map((c) => {
        const tls = c.tls === undefined
          ? 'cleartext'
          : `TLS ${c.tls.sni === null ? 'without SNI (an IP address URL)' : `with SNI ${c.tls.sni}`}, ALPN offered http/1.1; handshake ${c.tls.version ?? '?'}, ALPN ${c.tls.alpn ?? '(none)'}, certificate verified`;
        return `${client(c)}: ${tls}; ${c.outcome}; stays open`;
      }),
    ];
    report.section('steps', steps);
    report.section('trace (what the server saw; "sniff" is the first byte, "tls client-hello" what it read in clear text)', observation.trace);
    report.section('the front door, per connection (while all four were open)', frontDoorTable(observation));
    report.section('connection table (while all four were open)', connectionTable(observation.rows));

    const wrong = contradictions(observation);
    if (wrong.length === 0) {
      const { rows } = observation;
      const tls = rows.filter((r) => r.transport === 'tls');
      const clear = rows.filter((r) => r.transport === 'tcp');
      const sni = [...new Set(tls.map((r) => r.tls?.sni).filter((name): name is string => typeof name === 'string'))];
      const offered = [...new Set(tls.flatMap((r) => r.tls?.offeredAlpn ?? []))];
      report.conclusion(
        `one listening socket, ${rows.length} accepted sockets at once on the same server port, told apart by their first byte before any HTTP was read: ` +
        `${firstBytes(tls)} (a TLS handshake record) sent ${schemesOf(observation, tls)} to node:tls, ${firstBytes(clear)} (a request line's first letter) sent ${schemesOf(observation, clear)} straight to HTTP/1.1; ` +
        `the SNI name (${sni.join(', ') || 'none'}) and the ALPN offer (${offered.join(', ') || 'none'}) were read from the ClientHello in clear text, before any key existed, ` +
        `while the request lines, headers and WebSocket frames of the ${tls.length} TLS connections travelled inside ${tlsVersions(observation)}, encrypted.`,
      );
      return true;
    }
    report.conclusion(`unexpected: ${wrong.join('; ')}.`);
    return false;
  },
};
