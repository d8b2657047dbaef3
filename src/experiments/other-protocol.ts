import { formatEndpoint } from '../accept-loop/five-tuple.js';
import { startLab } from '../lab.js';
import { accept, type ProtocolHandler } from '../registry/plugin.js';
import { closeSocket, closeWebSocket, exchange, openWebSocket, roundTrip, waitUntil, WAIT_MS } from './clients.js';
import type { Experiment } from './experiment.js';
import { connectionTable, traced } from './report.js';

/**
 * A made-up protocol, registered next to `websocket`: after the 101 it answers every byte in upper case.
 * Nothing about Upgrade is specific to WebSocket; this is all it takes (see docs/plugins.md).
 */
const shout: ProtocolHandler = {
  token: 'shout/1',
  description: 'after the 101, every byte comes back in upper case',
  handshake: () => accept([['X-Shout', 'ready']]),
  takeover: ({ socket, head, emit }) => new Promise<void>((done) => {
    const reply = (bytes: Uint8Array): void => {
      emit({ kind: 'bytes', detail: `${bytes.length} B shouted back`, direction: 'in' });
      socket.write(Buffer.from(bytes).toString('latin1').toUpperCase());
    };
    if (head.length > 0) reply(head); // bytes that came with the request already belong to shout/1
    socket.on('data', reply).on('end', () => socket.end()).on('close', done).on('error', () => socket.destroy());
    socket.resume();
  }),
};

/**
 * Question 7. `websocket` and the custom `shout/1` upgraded on the same port, side by side; and a client
 * that offers a list the server only partly knows gets the first token it does know (RFC 9110 §7.8: the
 * client lists protocols in preference order, the server picks).
 */
export const otherProtocol: Experiment = {
  name: 'other-protocol',
  title: 'a custom token upgraded next to websocket on the same port',
  question: 'could another protocol use the same trick, Upgrade: someOtherProtocol?',
  async run(report) {
    const server = await startLab({ host: '127.0.0.1', port: 0, plugins: [shout] });
    const request = (upgrade: string): string =>
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`;
    return traced(server, async (trace) => {
      const ws = await openWebSocket(server.port, '/echo');
      const echoed = await roundTrip(ws.ws, 'hello');
      const shouted = await exchange(server.port, request('shout/1'), { trailing: Buffer.from('hello'), expectBytes: 5 });
      const picked = await exchange(server.port, request('no-such-protocol/1, shout/1'), { trailing: Buffer.from('again'), expectBytes: 5 });
      const rows = server.table.snapshot();
      const client = (port: number): string => `client ${formatEndpoint('127.0.0.1', port)}`;
      const steps = [
        `server: the lab's protocols plus shout/1, all on one port, ${formatEndpoint(server.host, server.port)}`,
        `${client(ws.clientPort)}: Upgrade: websocket → 101; sent "hello", got ${JSON.stringify(echoed)}`,
        `${client(shouted.clientPort)}: Upgrade: shout/1 → ${shouted.head.status}, Upgrade: ${shouted.head.get('upgrade')}; sent "hello" with the request, got ${JSON.stringify(shouted.data.toString())}`,
        `${client(picked.clientPort)}: Upgrade: no-such-protocol/1, shout/1 → ${picked.head.status}, Upgrade: ${picked.head.get('upgrade')}; sent "again", got ${JSON.stringify(picked.data.toString())}`,
      ];
      await closeWebSocket(ws.ws);
      await closeSocket(shouted.socket);
      await closeSocket(picked.socket);
      await waitUntil(() => server.table.size === 0, WAIT_MS, 'every connection to close');
      trace.stop();
      report.section('steps', steps);
      report.section('trace (what the server saw)', trace.lines);
      report.section('connection table (while all three were open)', connectionTable(rows));

      const protocols = rows.map((r) => r.protocol).sort().join(', ');
      if (echoed === 'hello' && shouted.data.toString() === 'HELLO' && picked.head.get('upgrade') === 'shout/1'
        && picked.data.toString() === 'AGAIN' && protocols === 'shout/1, shout/1, websocket') {
        report.conclusion('Upgrade is generic: websocket and shout/1 were switched to on the same port, and from the offer "no-such-protocol/1, shout/1" the server picked the first token it knows.');
        return true;
      }
      report.conclusion(`unexpected: protocols seen ${protocols}; shout/1 answered ${JSON.stringify(shouted.data.toString())}; the list got ${picked.head.status} ${picked.head.get('upgrade') ?? ''}.`);
      return false;
    });
  },
};
