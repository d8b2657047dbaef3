import type { Socket } from 'node:net';
import { constants, deflateRawSync } from 'node:zlib';
import { formatEndpoint } from '../accept-loop/five-tuple.js';
import { startLab } from '../lab.js';
import { CLIENT_DEFLATE_OFFER, describeDeflate } from '../protocols/websocket/deflate-negotiation.js';
import { Opcode, encodeFrame } from '../protocols/websocket/frame-codec.js';
import { buildClientHandshakeRequest, generateClientKey, verifyServerHandshake } from '../protocols/websocket/handshake.js';
import { createMaskSource } from '../protocols/websocket/mask.js';
import { DEFAULT_DEFLATE_TUNING } from '../protocols/websocket/permessage-deflate.js';
import { WebSocketProtocol, type WebSocketEvent } from '../protocols/websocket/protocol.js';
import { closeSocket, exchange, waitUntil, withTimeout, WAIT_MS } from './clients.js';
import type { Experiment } from './experiment.js';
import { connectionTable, traced } from './report.js';

/**
 * permessage-deflate (RFC 7692) with real traffic. Three clients send the server's `/echo` the same
 * 1 KiB JSON message three times: one offering the extension as browsers do, one asking the server to
 * reset its compressor after every message (server_no_context_takeover), one offering nothing. The
 * message sizes on the wire show what compression and context takeover do. Then a fourth client sends one
 * compressed frame of 64 KiB that would inflate to 64 MiB, four times the message limit.
 *
 * The clients are raw sockets driven by the sans-IO WebSocketProtocol, so every byte count is the wire's.
 */

const MESSAGES = 3;
const BOMB_INFLATED_BYTES = 64 * 1024 * 1024;

/** A chat-like JSON message of exactly 1 KiB: what compression is for. */
function jsonMessage(): string {
  const entries: string[] = [];
  for (let i = 0; entries.join(',').length < 1100; i++) entries.push(`{"from":"127.0.0.1:${50000 + i}","text":"hello room, message ${i}","time":${1700000000000 + i * 997}}`);
  return `[${entries.join(',')}]`.slice(0, 1023) + ']';
}

interface Client {
  readonly socket: Socket;
  readonly codec: WebSocketProtocol;
  readonly agreed: string;
  readonly clientPort: number;
}

async function open(port: number, offer: string | undefined): Promise<Client> {
  const key = generateClientKey();
  const plain = buildClientHandshakeRequest({ host: `127.0.0.1:${port}`, path: '/echo', key });
  // The handshake builder only makes our standard offer; the experiment needs others too.
  const request = offer === undefined ? plain : plain.replace(/\r\n\r\n$/, `\r\nSec-WebSocket-Extensions: ${offer}\r\n\r\n`);
  const { socket, head, clientPort } = await exchange(port, request, { expectBytes: 0 });
  const verdict = verifyServerHandshake(head.status, head.fields, { key, deflate: offer !== undefined });
  if (!verdict.ok) throw new Error(`the handshake failed: ${verdict.error.message}`);
  const codec = new WebSocketProtocol(verdict.deflate === undefined
    ? { role: 'client' }
    : { role: 'client', deflate: { params: verdict.deflate, ...DEFAULT_DEFLATE_TUNING } });
  socket.on('data', (chunk: Buffer) => codec.receive(chunk));
  return { socket, codec, agreed: verdict.deflate === undefined ? 'no extension' : describeDeflate(verdict.deflate), clientPort };
}

/** The next message or close from the server, with the wire size of what came. */
async function next(client: Client): Promise<WebSocketEvent> {
  const { codec, socket } = client;
  let event = codec.next();
  if (event.type !== 'need-data') return event;
  await withTimeout(new Promise<void>((resolve, reject) => {
    const check = (): void => {
      event = codec.next();
      if (event.type === 'need-data') return;
      socket.off('data', check);
      resolve();
    };
    socket.on('data', check);
    socket.once('close', () => reject(new Error('the connection closed')));
    socket.resume();
  }), WAIT_MS, 'the echo');
  return event;
}

async function goodbye(client: Client): Promise<void> {
  client.socket.write(Buffer.concat(client.codec.close(1000)));
  await next(client);
  await closeSocket(client.socket);
}

export const deflate: Experiment = {
  name: 'deflate',
  title: 'permessage-deflate: the same messages with and without compression, and a decompression bomb',
  question: 'what does permessage-deflate change on the wire, and what stops a message that inflates to gigabytes?',
  async run(report) {
    const server = await startLab({ host: '127.0.0.1', port: 0 });
    return traced(server, async (trace) => {
      const message = jsonMessage();
      const steps: string[] = [];
      const sizes: number[][] = [];
      const offers: Array<[string, string | undefined]> = [
        ['as browsers do', CLIENT_DEFLATE_OFFER],
        ['asking the server to reset its compressor after every message', 'permessage-deflate; server_no_context_takeover'],
        ['offering no extension', undefined],
      ];
      const clients: Client[] = [];
      let echoed = true;
      for (const [why, offer] of offers) {
        const client = await open(server.port, offer);
        clients.push(client);
        steps.push(`client ${formatEndpoint('127.0.0.1', client.clientPort)} ${why}: ${offer === undefined ? 'no Sec-WebSocket-Extensions' : `"${offer}"`}`);
        steps.push(`  agreed: ${client.agreed}`);
        const row: number[] = [];
        for (let i = 1; i <= MESSAGES; i++) {
          client.socket.write(Buffer.concat(client.codec.sendText(message)));
          const sent = client.codec.lastMessageWireBytes;
          const reply = await next(client);
          const received = client.codec.lastMessageWireBytes;
          echoed &&= reply.type === 'text' && reply.text === message;
          row.push(sent, received);
          steps.push(`  message ${i}: ${message.length} B of JSON; on the wire ${sent} B to the server, ${received} B back`);
        }
        sizes.push(row);
      }
      const rows = server.table.snapshot();
      for (const client of clients) await goodbye(client);

      // The bomb: 16 MiB of zeros deflate to 16 KiB that end on a byte boundary (sync flush) and refer
      // only backwards within themselves, so four copies in a row are one valid stream of 64 MiB.
      const block = deflateRawSync(Buffer.alloc(BOMB_INFLATED_BYTES / 4), { finishFlush: constants.Z_SYNC_FLUSH });
      const bomb = Buffer.concat([block, block, block, block]);
      const attacker = await open(server.port, CLIENT_DEFLATE_OFFER);
      const mask = createMaskSource()();
      attacker.socket.write(Buffer.concat(encodeFrame({ opcode: Opcode.Binary, payload: bomb, mask, rsv1: true })));
      const answer = await next(attacker);
      await closeSocket(attacker.socket);
      await waitUntil(() => server.table.size === 0, WAIT_MS, 'every connection to close');
      trace.stop();
      steps.push(`client ${formatEndpoint('127.0.0.1', attacker.clientPort)}: one compressed binary frame of ${bomb.length} B that would inflate to ${BOMB_INFLATED_BYTES} B`);
      steps.push(`  answer: ${answer.type === 'close' ? `Close ${answer.code} "${answer.reason}"` : answer.type}`);

      report.section('steps', steps);
      report.section('trace (what the server saw: frames with rsv1=1 are compressed, messages show their size on the wire)', trace.lines);
      report.section('connection table (after the three clients\' messages: bytes as the wire counted them)', connectionTable(rows));

      const [browser, reset, plain] = sizes as [number[], number[], number[]];
      const takeoverWorks = browser[2]! < browser[0]! / 4 && browser[3]! < browser[1]! / 4;
      const resetWorks = reset[3] === reset[1] && reset[5] === reset[1] && reset[2]! < reset[0]! / 4;
      const plainWorks = plain.every((size) => size === message.length);
      if (echoed && takeoverWorks && resetWorks && plainWorks && answer.type === 'close' && answer.code === 1009) {
        report.conclusion(
          `compressed, the first ${message.length}-byte message took ${browser[0]} B on the wire and the next ones ${browser[2]} B: with context takeover each message `
          + `may refer back into the ones before (RFC 7692 §7.1.1). With server_no_context_takeover the server's echoes stayed at ${reset[1]} B each, while the client, `
          + `which kept its window, still sent ${reset[2]} B; without the extension every message took all ${message.length} B. The bomb was stopped while inflating, `
          + 'at the 16 MiB message limit: close 1009, and the connection is gone.',
        );
        return true;
      }
      report.conclusion(`unexpected: echoed ${echoed}; wire sizes ${JSON.stringify(sizes)}; the bomb's answer ${answer.type === 'close' ? answer.code : answer.type}.`);
      return false;
    });
  },
};
