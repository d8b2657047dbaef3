import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { run, STACK_TRACE } from '../helpers/cli.js';
import { requireCommand } from '../helpers/require-command.js';

const NAMES = ['share-port', 'early-bytes', 'second-client', 'accept-queue', 'pure-websocket', 'other-protocol', 'tls-same-port', 'one-connection', 'deflate', 'workers', 'bytes'];

/** The sections every experiment prints, in order; then exactly one conclusion, last. */
function assertShape(name: string, stdout: string): string {
  assert.match(stdout, new RegExp(`^experiment ${name}: .+\nquestion: .+\n`));
  assert.match(stdout, /^steps:$/m);
  assert.match(stdout, /^trace \(.*\):$/m);
  assert.match(stdout, /^connection table .*:\n {2}id +proto +local \(server\) +remote \(client\) +state/m);
  const conclusions = stdout.split('\n').filter((line) => line.startsWith('conclusion: '));
  assert.equal(conclusions.length, 1);
  assert.ok(stdout.trimEnd().endsWith(conclusions[0]!), 'the conclusion is the last line');
  return conclusions[0]!;
}

describe('switchyard experiment (CLI)', () => {
  it('with no name lists every experiment with its one-line title', async () => {
    const result = await run(['experiment']);
    assert.equal(result.code, 0);
    for (const name of NAMES) assert.match(result.stdout, new RegExp(`^ {2}${name} +\\S`, 'm'));
  });

  it('share-port: HTTP and a WebSocket at once, one server port, three client ports', async () => {
    const result = await run(['experiment', 'share-port']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(assertShape('share-port', result.stdout), 'conclusion: one listening socket served 2 HTTP connections and 1 WebSocket at the same time; all 3 share the server address and port and differ only in the client port, which is how the kernel tells them apart.');
    const rows = result.stdout.split('\n').filter((line) => /^ {2}#\d/.test(line));
    assert.equal(rows.length, 3);
    assert.equal(new Set(rows.map((row) => row.split(/\s+/)[3])).size, 1, 'one server endpoint');
    assert.equal(new Set(rows.map((row) => row.split(/\s+/)[4])).size, 3, 'three client endpoints');
  });

  it('early-bytes: the bytes written with the request reach the protocol', async () => {
    const result = await run(['experiment', 'early-bytes']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(assertShape('early-bytes', result.stdout), /handed them over with the socket \(11 B to echo, 22 B to websocket\)/);
    assert.match(result.stdout, /101 Switching Protocols → echo \(11 B arrived with the request\)/);
  });

  it('second-client: a second client upgrades while the first stays upgraded; the kernel shows one LISTEN socket', async () => {
    const result = await run(['experiment', 'second-client']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(assertShape('second-client', result.stdout), /the second client got a new socket and upgraded too/);
    assert.equal(result.stdout.match(/^ {2}LISTEN /gm)?.length, 1);
    assert.equal(result.stdout.match(/made by accept\(\) for client \d/g)?.length, 2);
  });

  it('accept-queue: the kernel queues completed handshakes without accept(), and the connections past the backlog wait', async () => {
    const result = await run(['experiment', 'accept-queue']);
    assert.equal(result.code, 0, result.stderr);
    const conclusion = assertShape('accept-queue', result.stdout);
    // Read, not assumed: the queued count is the kernel's Recv-Q, and every client got through in the end.
    const numbers = /the kernel completed (\d+) handshakes? on its own and queued them \(Recv-Q (\d+)\)/.exec(conclusion);
    assert.ok(numbers, conclusion);
    assert.equal(numbers[1], numbers[2]);
    assert.ok(Number(numbers[1]) >= 2, 'at least the backlog was queued');
    assert.match(conclusion, /all 5 were served once accept\(\) ran again\.$/);
    const dropped = /the SYNs of the (\d+) past the backlog were dropped and retransmitted/.exec(conclusion);
    if (dropped) assert.equal(Number(dropped[1]) + Number(numbers[1]), 5);
    assert.match(result.stdout, /LISTEN, Recv-Q \d+/);
  });

  it('pure-websocket: a plain GET gets 426 with Upgrade: websocket, the upgrade gets 101', async () => {
    const result = await run(['experiment', 'pure-websocket']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(assertShape('pure-websocket', result.stdout), /the plain GET got 426 Upgrade Required with Upgrade: websocket/);
    assert.match(result.stdout, /^ {2}< Upgrade: websocket$/m);
  });

  it('other-protocol: a custom token next to websocket, picked from the client\'s list', async () => {
    const result = await run(['experiment', 'other-protocol']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(assertShape('other-protocol', result.stdout), /the server picked the first token it knows/);
    assert.match(result.stdout, /got "HELLO"/);
  });

  it('tls-same-port: http, https, ws and wss at once on one port, told apart by their first byte', async () => {
    const result = await run(['experiment', 'tls-same-port']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(assertShape('tls-same-port', result.stdout), /told apart by their first byte before any HTTP was read: 0x16 \(a TLS handshake record\) sent https and wss to node:tls/);
    const frontDoor = result.stdout.split('\n').filter((line) => /^ {2}#\d+ +(https?|wss?):\/\//.test(line));
    assert.deepEqual(frontDoor.map((row) => row.split(/\s+/)[2]), ['http://', 'https://', 'ws://', 'wss://']);
    assert.equal(new Set(frontDoor.map((row) => row.split(/\s+/)[4])).size, 1, 'one server endpoint');
    assert.equal(new Set(frontDoor.map((row) => row.split(/\s+/)[3])).size, 4, 'four client endpoints');
    assert.match(result.stdout, /^ {2}#\d+ +https:\/\/ .* 0x16 → tls +tls +localhost +http\/1\.1 /m);
    assert.match(result.stdout, /first byte 0x47 -> http$/m);
  });

  it('workers: 20 connections on one port, accepted in turn by two worker processes, one table for both', async () => {
    const result = await run(['experiment', 'workers']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(assertShape('workers', result.stdout), /^conclusion: the 20 connections were accepted by 2 processes \(worker 1: \d+, worker 2: \d+\)/);
    const accepted = result.stdout.split('\n').filter((line) => /^ {2}\d+ +127\.0\.0\.1:\d+ +worker [12] \(pid \d+\) +#\d+$/.test(line));
    assert.equal(accepted.length, 20);
    assert.match(result.stdout, /lists 5 rows from 2 workers/);
  });

  it('deflate: the same messages compressed with and without context takeover and uncompressed, then a bomb stopped at the limit', async () => {
    const result = await run(['experiment', 'deflate']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(assertShape('deflate', result.stdout), /^conclusion: compressed, the first 1024-byte message took \d+ B on the wire and the next ones \d+ B: .* close 1009/);
    assert.match(result.stdout, /^ {4}agreed: permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=15$/m);
    assert.match(result.stdout, / websocket ← frame text fin=1 rsv1=1 len=\d+$/m);
    assert.match(result.stdout, / websocket ← message text 1024 B \(deflated to \d+ B\)$/m);
    assert.match(result.stdout, /^ {4}answer: Close 1009 "a compressed message inflates past the limit of 16777216 bytes"$/m);
  });

  it('bytes: the RFC 6455 handshake and §5.7 frames from the byte view, laid out, and tshark reading the capture', async (t) => {
    const result = await run(['experiment', 'bytes']);
    // The capture is left for the user to open in Wireshark; a test cleans up after itself.
    const kept = /^ {2}serve --pcap (\/\S+\/)lab\.pcapng /m.exec(result.stdout)?.[1];
    if (kept !== undefined) t.after(() => rmSync(kept, { recursive: true, force: true }));
    assert.equal(result.code, 0, result.stderr);
    const conclusion = assertShape('bytes', result.stdout);
    assert.match(result.stdout, /^ {2}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n$/m, 'the request line by line, CR LF shown');
    assert.match(result.stdout, /^ {2}Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\\r\\n$/m, "RFC 6455 §1.3's accept value");
    assert.match(result.stdout, /^ {2}-> text fin=1 masked=1 key=37fa213d len=5 "Hello"$/m);
    assert.match(result.stdout, /^ {5}\| masked {3}7f 9f 4d 51 58 +\|$/m, "§5.7's masked bytes in the diagram");
    assert.match(result.stdout, /^ {2}<- text fin=1 masked=0 len=5 "Hello"$/m);
    assert.match(result.stdout, /^ {2}<- close fin=1 masked=0 len=2 code=1000 reason=""$/m);
    if (!requireCommand(t, 'tshark', ['--version'])) return;
    assert.match(result.stdout, /^ {2}server -> 127\.0\.0\.1:\d+ {2}HTTP {2}HTTP\/1\.1 101 Switching Protocols$/m);
    assert.match(result.stdout, /^ {2}server -> 127\.0\.0\.1:\d+ {2}WebSocket {2}WebSocket Text \[FIN\] {2}payload "Hello"$/m);
    assert.match(conclusion, /Wireshark reads the capture the same way/);
  });

  it('one-connection: one HTTP/2 connection, one row, a GET, a WebSocket and two lab-chat/1 streams on it', async () => {
    const result = await run(['experiment', 'one-connection']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(assertShape('one-connection', result.stdout), /one row in the table, one 5-tuple, and 4 streams on it at once: .* a port is shared by connections \(5-tuples\), a connection by streams \(HTTP\/2\)/i);
    const rows = /^connection table .*:\n {2}id .*\n((?: {2}#\d.*\n)+)/m.exec(result.stdout);
    assert.equal(rows?.[1]?.trimEnd().split('\n').length, 1, 'exactly one connection');
    const streams = result.stdout.split('\n').filter((line) => /^ {2}#1 +\d+ +(GET|CONNECT) /.test(line)).map((line) => line.trim().split(/\s+/).slice(1, 5).join(' '));
    assert.deepEqual(streams, ['1 GET /healthz -', '3 CONNECT /echo websocket', '5 CONNECT / lab-chat/1', '7 CONNECT / lab-chat/1']);
    assert.match(result.stdout, /^ {2}server: .*enableConnectProtocol=true/m);
    assert.match(result.stdout, /got "hello"; close 1000$/m);
    assert.match(result.stdout, /then "msg 127\.0\.0\.1:\d+ hi from stream 5"$/m);
  });

  it('an unknown name is a usage error that lists the names', async () => {
    const result = await run(['experiment', 'no-such-experiment']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown experiment "no-such-experiment"; one of: share-port/);
    assert.doesNotMatch(result.stderr, STACK_TRACE);
    const help = await run(['help', 'experiment']);
    assert.match(help.stdout, /accept-queue/);
  });

  it('the top-level help names every command, and each command documents its exit codes', async () => {
    const top = await run(['--help']);
    assert.equal(top.code, 0);
    for (const command of ['serve', 'connect', 'probe', 'experiment']) assert.match(top.stdout, new RegExp(`^ {2}switchyard ${command}\\b`, 'm'));
    const connect = await run(['connect', '--help']);
    assert.match(connect.stdout, /^ {2}3 {2}closed abnormally after the upgrade/m);
    const viaHelp = await run(['help', 'connect']);
    assert.equal(viaHelp.stdout, connect.stdout);
  });
});
