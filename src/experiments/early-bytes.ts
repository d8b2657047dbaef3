import { formatEndpoint } from '../accept-loop/five-tuple.js';
import type { LabEvent } from '../accept-loop/lab-events.js';
import { startLab } from '../lab.js';
import { buildClientHandshakeRequest, generateClientKey, verifyServerHandshake } from '../protocols/websocket/handshake.js';
import { WebSocketProtocol } from '../protocols/websocket/protocol.js';
import { closeSocket, exchange, waitUntil, WAIT_MS } from './clients.js';
import type { Experiment } from './experiment.js';
import { connectionTable, traced } from './report.js';

/**
 * The bytes that arrive with the handshake. A client may send the new protocol's first bytes right behind
 * the upgrade request, in the same write, without waiting for the 101; they then reach the server in the
 * same read as the request. The HTTP parser must stop at the end of the request head and hand whatever
 * follows to the protocol (the handover's `head`). Losing those bytes is this field's most reported bug.
 */
export const earlyBytes: Experiment = {
  name: 'early-bytes',
  title: 'the upgrade request and the new protocol\'s first bytes in one write',
  question: 'what happens to bytes that arrive together with the upgrade request?',
  async run(report) {
    const server = await startLab({ host: '127.0.0.1', port: 0 });
    const upgrades: Array<Extract<LabEvent, { type: 'upgrade' }>> = [];
    const stopUpgrades = server.events.subscribe((event) => { if (event.type === 'upgrade') upgrades.push(event); });
    return traced(server, async (trace) => {
      const echoRequest = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`;
      const echoBytes = Buffer.from('hello, echo');
      const echo = await exchange(server.port, echoRequest, { trailing: echoBytes, expectBytes: echoBytes.length });

      // A WebSocket text frame, masked as a client must (RFC 6455 §5.3), glued to the handshake request.
      const key = generateClientKey();
      const wsRequest = buildClientHandshakeRequest({ host: `127.0.0.1:${server.port}`, path: '/echo', key });
      const codec = new WebSocketProtocol({ role: 'client' });
      const frame = Buffer.concat(codec.sendText('hello, websocket'));
      // The echo comes back unmasked (§5.1): a 2-byte header and the 16-byte payload.
      const ws = await exchange(server.port, wsRequest, { trailing: frame, expectBytes: 2 + 16 });
      const verdict = verifyServerHandshake(ws.head.status, ws.head.fields, { key });
      codec.receive(ws.data);
      const reply = codec.next();
      const rows = server.table.snapshot();

      const steps = [
        `client ${formatEndpoint('127.0.0.1', echo.clientPort)}: one write of ${echoRequest.length + echoBytes.length} B = an Upgrade: echo request (${echoRequest.length} B) + "hello, echo" (${echoBytes.length} B)`,
        `  answer: ${echo.head.status} ${echo.head.reason}, then ${JSON.stringify(echo.data.toString())}: the bytes behind the request reached echo`,
        `client ${formatEndpoint('127.0.0.1', ws.clientPort)}: one write of ${wsRequest.length + frame.length} B = a WebSocket handshake (${wsRequest.length} B) + a masked text frame "hello, websocket" (${frame.length} B)`,
        `  answer: ${ws.head.status} ${ws.head.reason}${verdict.ok ? ' (Sec-WebSocket-Accept checks out)' : ` (invalid: ${verdict.error.message})`}, then a frame of ${ws.data.length} B: ${reply.type === 'text' ? `text ${JSON.stringify(reply.text)}` : reply.type}`,
      ];
      for (const frames of codec.close(1000)) ws.socket.write(frames);
      await closeSocket(echo.socket);
      await closeSocket(ws.socket);
      await waitUntil(() => server.table.size === 0, WAIT_MS, 'every connection to close');
      trace.stop();
      report.section('steps', steps);
      report.section('trace (what the server saw; note "arrived with the request")', trace.lines);
      report.section('connection table (while both were open)', connectionTable(rows));

      const handed = upgrades.map((u) => `${u.protocol} ${u.headBytes} B`).join(', ');
      if (echo.data.toString() === 'hello, echo' && reply.type === 'text' && reply.text === 'hello, websocket' && verdict.ok
        && handed === `echo ${echoBytes.length} B, websocket ${frame.length} B`) {
        report.conclusion(`bytes sent in the same write as the upgrade request already belong to the new protocol: the server handed them over with the socket (${echoBytes.length} B to echo, ${frame.length} B to websocket) and both answered them; nothing was lost or read as HTTP.`);
        return true;
      }
      report.conclusion(`unexpected: handed over ${handed || 'nothing'}; echo answered ${JSON.stringify(echo.data.toString())}; websocket answered ${reply.type}.`);
      return false;
    }).finally(stopUpgrades);
  },
};
