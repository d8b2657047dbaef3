import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatEndpoint } from '../accept-loop/five-tuple.js';
import type { ConnectionBytesView } from '../lab/bytes-route.js';
import { startLab } from '../lab.js';
import { formatFrameLayout } from '../protocols/websocket/frame-layout.js';
import type { ConnectionSnapshot } from '../accept-loop/connection-table.js';
import { closeSocket, exchange, httpGet, readAtLeast, waitUntil, WAIT_MS } from './clients.js';
import { connectionTable, traced } from './report.js';
import type { Experiment } from './experiment.js';

/** RFC 6455 §1.3's handshake, byte for byte (the path is the lab's echo endpoint). */
const REQUEST = 'GET /echo HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
  + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Version: 13\r\n\r\n';
/** RFC 6455 §5.7: "A single-frame masked text message", Hello under the masking key 37 fa 21 3d. */
const MASKED_HELLO = Buffer.from('818537fa213d7f9f4d5158', 'hex');
/** A close frame with code 1000 under the same key: 0x03e8 XOR 0x37fa = 0x3412. */
const MASKED_CLOSE = Buffer.from('888237fa213d3412', 'hex');

/**
 * See the bytes. The upgrade is bytes on a TCP connection like any other: a request head, a 101 head,
 * then frames whose every bit RFC 6455 §5.2 names. The lab records the first bytes of each connection both
 * ways (its byte view, `/_lab/connections/ID/bytes`) and, with `serve --pcap`, writes them as a pcapng file
 * with synthesized TCP on the real ports, which Wireshark (here tshark, when installed) reads back.
 */
export const bytes: Experiment = {
  name: 'bytes',
  title: "RFC 6455's own handshake and frames, as the server read and wrote them, and as Wireshark sees them",
  question: 'what exactly crosses the wire during a WebSocket upgrade, and can Wireshark show it?',
  async run(report) {
    const file = join(mkdtempSync(join(tmpdir(), 'switchyard-bytes-')), 'lab.pcapng');
    const server = await startLab({ host: '127.0.0.1', port: 0, capture: { pcap: file } });
    const port = server.port;
    let view: ConnectionBytesView | undefined;
    let clientPort = 0;
    let rows: ConnectionSnapshot[] = [];
    try {
      await traced(server, async (trace) => {
        const ws = await exchange(port, REQUEST, { trailing: MASKED_HELLO, expectBytes: 7 });
        clientPort = ws.clientPort;
        rows = server.table.snapshot();
        const id = rows.find((row) => row.remote.port === clientPort)?.id ?? 0;
        ws.socket.write(MASKED_CLOSE);
        await readAtLeast(ws.socket, ws.data, 7 + 4);
        await closeSocket(ws.socket);
        await waitUntil(() => server.table.size === 0, WAIT_MS, 'the connection to close');
        trace.stop();
        // Closed by now: the lab keeps the bytes of the last few closed connections, as the dashboard does.
        const asked = await httpGet(port, `/_lab/connections/${id}/bytes`);
        await closeSocket(asked.socket);
        view = JSON.parse(asked.data.toString()) as ConnectionBytesView;
        report.section('steps', [
          `serve --pcap ${file} (this experiment's own lab)`,
          `client ${formatEndpoint('127.0.0.1', clientPort)}: one write: RFC 6455 §1.3's handshake + §5.7's masked "Hello" (masking key 37 fa 21 3d)`,
          'then a masked close frame, code 1000; the server echoed "Hello" and answered the close',
          `GET /_lab/connections/${id}/bytes: the bytes the server kept of that connection (${view.in.keptBytes} in, ${view.out.keptBytes} out)`,
        ]);
        report.section('trace (what the server saw)', trace.lines);
      });
    } finally {
      // Closing the lab flushes the capture to its file.
      await server.close();
    }
    report.section('connection table (while the WebSocket was open)', connectionTable(rows));
    if (view === undefined) return false;
    report.section('the request head as the server read it (each line ends in CR LF, shown as \\r\\n)', crlfLines(view.request ?? ''));
    report.section('the 101 as the server wrote it', crlfLines(view.response ?? ''));
    report.section('the frames after it, each laid out like RFC 6455 §5.2 (-> client to server, <- server to client)',
      (view.frames ?? []).flatMap((frame) => [...formatFrameLayout(frame, frame.direction === 'in' ? '->' : '<-').split('\n'), '']));
    const seen = tsharkSees(file, port, clientPort);
    report.section('tshark (Wireshark without the window) reading the capture of that connection', seen.lines);
    const frames = view.frames ?? [];
    const viewed = view.request === REQUEST
      && /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/.test(view.response ?? '')
      && frames.length === 4 && frames[0]!.maskedHex === '7f 9f 4d 51 58' && frames[0]!.text === 'Hello' && frames[1]!.text === 'Hello'
      && frames[1]!.masked === false && frames[2]!.closeCode === 1000 && frames[3]!.closeCode === 1000;
    const dissected = !seen.ran || (seen.lines.some((line) => line.includes('101 Switching Protocols')) && seen.lines.filter((line) => line.includes('status code 1000')).length === 2);
    if (!viewed || !dissected) {
      report.conclusion(`unexpected: the byte view showed ${frames.length} frames (request as sent: ${view.request === REQUEST}); tshark ${dissected ? 'agreed' : 'did not find the 101 and both close frames'}.`);
      return false;
    }
    report.conclusion('an upgrade is nothing but bytes on one TCP connection: a request head and a 101 head, each line ending in CR LF and each head in an empty line, then frames, the client\'s masked (MASK 1, a 4-byte key, the payload XORed with it), the server\'s not; '
      + (seen.ran
        ? 'Wireshark reads the capture the same way, except the client\'s first frame: it came in the request\'s own segment, and until a dissector has seen the 101 those bytes look like more HTTP ("Continuation").'
        : `the capture is in ${file}: open it in Wireshark (tshark is not installed here: apt-get install tshark).`));
    return true;
  },
};

function crlfLines(head: string): string[] {
  return head.split('\r\n').slice(0, -1).map((line) => `${line}\\r\\n`);
}

/** What tshark finds in the capture of that one connection: a line per packet it dissects as HTTP or WebSocket. */
function tsharkSees(file: string, serverPort: number, clientPort: number): { ran: boolean; lines: string[] } {
  const filter = `(http || websocket) && tcp.port == ${clientPort}`;
  const ran = spawnSync('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-E', 'separator=|',
    '-e', 'tcp.srcport', '-e', '_ws.col.Protocol', '-e', '_ws.col.Info', '-e', 'websocket.payload.text', '-e', 'websocket.payload.close.status_code'], { encoding: 'utf8', timeout: WAIT_MS });
  if (ran.error !== undefined || ran.status !== 0) return { ran: false, lines: [`(tshark is not installed: apt-get install tshark, then: tshark -r ${file} -Y websocket)`] };
  const client = formatEndpoint('127.0.0.1', clientPort);
  const lines = ran.stdout.trim().split('\n').filter(Boolean).map((line) => {
    const [src, protocol, info, text, code] = line.split('|');
    const who = Number(src) === serverPort ? `server -> ${client}` : `${client} -> server`;
    return `${who}  ${protocol}  ${info!.trim()}${text ? `  payload "${text}"` : ''}${code ? `  status code ${code}` : ''}`;
  });
  return { ran: true, lines: [`tshark -r ${file} -Y '${filter}'`, ...lines] };
}
