import { formatEndpoint } from '../accept-loop/five-tuple.js';
import { startLab } from '../lab.js';
import { closeSocket, closeWebSocket, httpGet, openWebSocket, roundTrip, waitUntil, WAIT_MS } from './clients.js';
import type { Experiment } from './experiment.js';
import { connectionTable, traced } from './report.js';

/**
 * Question 1. A WebSocket and two plain HTTP connections open on the same port at the same time. The
 * connection table shows why that is no conflict: one local (server) address and port for all three,
 * a different remote (client) port for each; the 5-tuple, not the port, names a connection.
 */
export const sharePort: Experiment = {
  name: 'share-port',
  title: 'HTTP requests and a WebSocket on one port at the same time',
  question: 'a port designates a program, so how can HTTP and WebSocket share one port?',
  async run(report) {
    const server = await startLab({ host: '127.0.0.1', port: 0 });
    return traced(server, async (trace) => {
      const ws = await openWebSocket(server.port, '/echo');
      const echoed = await roundTrip(ws.ws, 'hello');
      const health = await httpGet(server.port, '/healthz');
      const protocols = await httpGet(server.port, '/protocols');
      const rows = server.table.snapshot();
      const client = (port: number): string => `client ${formatEndpoint('127.0.0.1', port)}`;
      const steps = [
        `server: one listening socket on ${formatEndpoint(server.host, server.port)}`,
        `${client(ws.clientPort)}: GET /echo, Upgrade: websocket → 101; sent "hello", got ${JSON.stringify(echoed)} back; stays open`,
        `${client(health.clientPort)}: GET /healthz → ${health.head.status} ${health.data.toString().trim()}; stays open (keep-alive)`,
        `${client(protocols.clientPort)}: GET /protocols → ${protocols.head.status}; stays open (keep-alive)`,
      ];
      await closeWebSocket(ws.ws);
      await closeSocket(health.socket);
      await closeSocket(protocols.socket);
      await waitUntil(() => server.table.size === 0, WAIT_MS, 'every connection to close');
      trace.stop();
      report.section('steps', steps);
      report.section('trace (what the server saw, one line per event)', trace.lines);
      report.section('connection table (while all three were open)', connectionTable(rows));

      const serverEnds = new Set(rows.map((r) => formatEndpoint(r.local.address, r.local.port)));
      const clientPorts = new Set(rows.map((r) => r.remote.port));
      const upgraded = rows.filter((r) => r.state === 'upgraded' && r.protocol === 'websocket').length;
      const plain = rows.filter((r) => r.state === 'http').length;
      if (rows.length === 3 && serverEnds.size === 1 && clientPorts.size === 3 && upgraded === 1 && plain === 2 && echoed === 'hello') {
        report.conclusion('one listening socket served 2 HTTP connections and 1 WebSocket at the same time; all 3 share the server address and port and differ only in the client port, which is how the kernel tells them apart.');
        return true;
      }
      report.conclusion(`unexpected: ${rows.length} connections, ${serverEnds.size} server endpoint(s), ${clientPorts.size} client port(s), ${upgraded} WebSocket(s), ${plain} plain HTTP.`);
      return false;
    });
  },
};
