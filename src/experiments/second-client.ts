import { formatEndpoint } from '../accept-loop/five-tuple.js';
import { startLab } from '../lab.js';
import { closeWebSocket, openWebSocket, roundTrip, waitUntil, WAIT_MS } from './clients.js';
import type { Experiment } from './experiment.js';
import { type KernelSocket, readKernelSockets } from './kernel-sockets.js';
import { connectionTable, formatColumns, traced } from './report.js';

/**
 * Question 4. One client upgrades; a second one then handshakes on the same port. The kernel's own socket
 * list shows why the first upgrade could not "take" the port: the listening socket is a separate socket
 * that never carries data, and each accept() produced a new connected socket.
 */
export const secondClient: Experiment = {
  name: 'second-client',
  title: 'after one client upgraded, a second one still handshakes on the same listening socket',
  question: 'once the first client upgraded, is the port monopolised? How does a second client handshake?',
  async run(report) {
    const server = await startLab({ host: '127.0.0.1', port: 0 });
    return traced(server, async (trace) => {
      const first = await openWebSocket(server.port, '/echo');
      const firstEcho = await roundTrip(first.ws, 'first');
      const afterFirst = server.table.snapshot();
      const second = await openWebSocket(server.port, '/echo');
      const secondEcho = await roundTrip(second.ws, 'second');
      const afterSecond = server.table.snapshot();
      const kernel = await readKernelSockets();
      const names = new Map([[first.clientPort, 'client 1'], [second.clientPort, 'client 2']]);
      const steps = [
        `client 1 (${formatEndpoint('127.0.0.1', first.clientPort)}): upgraded to websocket on /echo; sent "first", got ${JSON.stringify(firstEcho)}`,
        `client 2 (${formatEndpoint('127.0.0.1', second.clientPort)}): while client 1 stays upgraded, upgraded on the same port; sent "second", got ${JSON.stringify(secondEcho)}`,
      ];
      await closeWebSocket(first.ws);
      await closeWebSocket(second.ws);
      await waitUntil(() => server.table.size === 0, WAIT_MS, 'every connection to close');
      trace.stop();
      report.section('steps', steps);
      report.section('trace (what the server saw)', trace.lines);
      report.section('connection table after the first upgrade', connectionTable(afterFirst));
      report.section('connection table after the second client', connectionTable(afterSecond));
      const ours = kernel === undefined ? undefined : kernelView(kernel, server.port, names);
      report.section('kernel\'s view (/proc/net/tcp), every socket of this experiment', ours ?? ['(not available: this system has no /proc/net/tcp)']);

      const listeners = kernel?.filter((s) => s.state === 'LISTEN' && s.localPort === server.port).length;
      const upgraded = afterSecond.filter((r) => r.state === 'upgraded').length;
      const ports = new Set(afterSecond.map((r) => r.remote.port));
      if (afterFirst.length === 1 && upgraded === 2 && ports.size === 2 && (listeners === undefined || listeners === 1)) {
        report.conclusion('the first upgrade changed only its own connection; the listening socket went on accepting, and the second client got a new socket and upgraded too: 2 WebSockets on one server port, told apart by their client ports.');
        return true;
      }
      report.conclusion(`unexpected: ${afterFirst.length} row(s) after the first client, ${upgraded} upgraded after the second, ${ports.size} client port(s), ${listeners ?? '?'} listening socket(s).`);
      return false;
    });
  },
};

/** The listener, then the server's accepted sockets, then the clients' own: `ss -tan` filtered to us. */
function kernelView(sockets: readonly KernelSocket[], port: number, names: ReadonlyMap<number, string>): string[] {
  const listener = sockets.filter((s) => s.state === 'LISTEN' && s.localPort === port);
  const accepted = sockets.filter((s) => s.localPort === port && names.has(s.remotePort));
  const clients = sockets.filter((s) => s.remotePort === port && names.has(s.localPort));
  const byClient = (a: KernelSocket, b: KernelSocket): number => (names.get(a.remotePort) ?? names.get(a.localPort) ?? '').localeCompare(names.get(b.remotePort) ?? names.get(b.localPort) ?? '');
  const row = (s: KernelSocket, note: string): string[] => [s.state, formatEndpoint(s.localAddress, s.localPort), s.remotePort === 0 ? '*:*' : formatEndpoint(s.remoteAddress, s.remotePort), note];
  return formatColumns([
    ['state', 'local', 'peer', ''],
    ...listener.map((s) => row(s, 'the listening socket: only accepts, never carries data')),
    ...accepted.sort(byClient).map((s) => row(s, `made by accept() for ${names.get(s.remotePort)}`)),
    ...clients.sort(byClient).map((s) => row(s, `${names.get(s.localPort)}'s own socket`)),
  ]);
}
