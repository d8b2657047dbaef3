import { formatEndpoint } from '../accept-loop/five-tuple.js';
import { echoEndpoint } from '../protocols/websocket/endpoints.js';
import { createWebSocketProtocol } from '../protocols/websocket/plugin.js';
import { SwitchyardServer } from '../server/server.js';
import { printable } from '../cli/upgrade-client.js';
import { closeSocket, closeWebSocket, httpGet, openWebSocket, roundTrip, waitUntil, WAIT_MS } from './clients.js';
import type { Experiment } from './experiment.js';
import { connectionTable, traced } from './report.js';

/**
 * Question 6. A server with nothing but a WebSocket endpoint at `/`: no HTTP routes, not even /healthz.
 * It still has to read HTTP, because every WebSocket connection starts as an HTTP request; a plain GET
 * is simply answered with `426 Upgrade Required` naming the protocol it wants (RFC 9110 §15.5.22).
 */
export const pureWebSocket: Experiment = {
  name: 'pure-websocket',
  title: 'a server with only an upgrade route; a plain GET gets 426 with Upgrade: websocket',
  question: 'what if I host only a WebSocket server, no HTTP server?',
  async run(report) {
    const server = await SwitchyardServer.start({
      host: '127.0.0.1', port: 0, builtinRoutes: false,
      protocols: [createWebSocketProtocol({ endpoints: { '/': echoEndpoint() } })],
    });
    server.router.requireUpgrade('/', ['websocket']);
    return traced(server, async (trace) => {
      const plain = await httpGet(server.port, '/');
      const other = await httpGet(server.port, '/healthz');
      const ws = await openWebSocket(server.port, '/');
      const echoed = await roundTrip(ws.ws, 'hello');
      const rows = server.table.snapshot();
      const client = (port: number): string => `client ${formatEndpoint('127.0.0.1', port)}`;
      const steps = [
        `server: only a WebSocket endpoint at /, no HTTP routes at all, on ${formatEndpoint(server.host, server.port)}`,
        `${client(plain.clientPort)}: plain GET / → ${plain.head.status} ${plain.head.reason}, Upgrade: ${plain.head.get('upgrade') ?? '(none)'}`,
        `${client(other.clientPort)}: plain GET /healthz → ${other.head.status} ${other.head.reason}`,
        `${client(ws.clientPort)}: GET / with Upgrade: websocket → 101; sent "hello", got ${JSON.stringify(echoed)}`,
      ];
      await closeWebSocket(ws.ws);
      await closeSocket(plain.socket);
      await closeSocket(other.socket);
      await waitUntil(() => server.table.size === 0, WAIT_MS, 'every connection to close');
      trace.stop();
      report.section('steps', steps);
      report.section('the answer to the plain GET /, as received', [
        ...plain.head.raw.split('\r\n').slice(0, -2).map((line) => `< ${printable(line)}`),
        ...plain.data.toString('utf8').trimEnd().split('\n').map((line) => `| ${printable(line)}`),
      ]);
      report.section('trace (what the server saw)', trace.lines);
      report.section('connection table (after the three requests)', connectionTable(rows));

      const upgradeNamed = (plain.head.get('upgrade') ?? '').toLowerCase() === 'websocket';
      if (plain.head.status === 426 && upgradeNamed && echoed === 'hello') {
        report.conclusion('even a pure WebSocket server speaks HTTP first: the plain GET got 426 Upgrade Required with Upgrade: websocket, and the upgrade request on the same port got 101.');
        return true;
      }
      report.conclusion(`unexpected: the plain GET got ${plain.head.status} with Upgrade ${JSON.stringify(plain.head.get('upgrade') ?? '')}; the WebSocket echoed ${JSON.stringify(echoed)}.`);
      return false;
    });
  },
};
