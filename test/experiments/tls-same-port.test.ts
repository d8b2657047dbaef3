import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionSnapshot } from '../../src/accept-loop/connection-table.js';
import { Report } from '../../src/experiments/report.js';
import {
  contradictions, observeTlsSamePort, type Scheme, tlsSamePort, type TlsSamePortObservation,
} from '../../src/experiments/tls-same-port.js';

describe('experiment tls-same-port', () => {
  let observation: TlsSamePortObservation;
  /** The server's row for each client, found by the client's own port. */
  const rowOf = (scheme: Scheme): ConnectionSnapshot => {
    const client = observation.clients.find((c) => c.scheme === scheme)!;
    const row = observation.rows.find((r) => r.remote.port === client.clientPort);
    assert.ok(row, `a row for the ${scheme}:// client (port ${client.clientPort})`);
    return row;
  };

  before(async () => {
    observation = await observeTlsSamePort();
  });

  it('has four rows at once, one per client, all on the one server port and each with its own client port', () => {
    assert.deepEqual(observation.clients.map((c) => c.scheme), ['http', 'https', 'ws', 'wss']);
    assert.equal(observation.rows.length, 4, 'the table was taken while all four were connected');
    for (const row of observation.rows) {
      assert.equal(row.local.address, '127.0.0.1');
      assert.equal(row.local.port, observation.serverPort);
      assert.equal(row.remote.address, '127.0.0.1');
    }
    const clientPorts = observation.rows.map((r) => r.remote.port);
    assert.equal(new Set(clientPorts).size, 4, 'four distinct client ports');
    assert.deepEqual([...clientPorts].sort(), observation.clients.map((c) => c.clientPort).sort(), 'the rows are exactly our clients');
  });

  it('decided each connection by its first byte: 0x16 for TLS, the request line\'s letter for cleartext', () => {
    for (const scheme of ['https', 'wss'] as const) {
      assert.equal(rowOf(scheme).firstByte, '0x16', scheme);
      assert.equal(rowOf(scheme).transport, 'tls', scheme);
    }
    for (const scheme of ['http', 'ws'] as const) {
      assert.equal(rowOf(scheme).firstByte, '0x47', `${scheme}: 'G' of GET`);
      assert.equal(rowOf(scheme).transport, 'tcp', scheme);
      assert.equal(rowOf(scheme).tls, undefined, scheme);
    }
  });

  it('read SNI and the ALPN offer from the ClientHello, then agreed on ALPN http/1.1', () => {
    const https = rowOf('https').tls!;
    const wss = rowOf('wss').tls!;
    assert.equal(https.sni, 'localhost', 'the https client sent SNI localhost');
    assert.equal(wss.sni, null, 'the wss client dialled an IP address: no SNI (RFC 6066 §3)');
    for (const tls of [https, wss]) {
      assert.deepEqual(tls.offeredAlpn, ['http/1.1']);
      assert.equal(tls.alpn, 'http/1.1');
      assert.match(tls.version ?? '', /^TLSv1\.[23]$/);
      assert.ok(tls.cipher, 'a cipher was agreed');
    }
    // The client saw the same session the server describes.
    for (const client of observation.clients.filter((c) => c.tls !== undefined)) {
      assert.equal(client.tls!.version, rowOf(client.scheme).tls!.version);
      assert.equal(client.tls!.alpn, 'http/1.1');
    }
  });

  it('served every connection inside: two HTTP/1.1 answers and two WebSocket echoes', () => {
    assert.equal(rowOf('http').state, 'http');
    assert.equal(rowOf('https').state, 'http');
    assert.equal(rowOf('ws').protocol, 'websocket');
    assert.equal(rowOf('wss').protocol, 'websocket');
    for (const client of observation.clients) {
      assert.match(client.outcome, client.scheme.startsWith('ws') ? /got "hello"$/ : /→ 200 ok$/, client.scheme);
    }
    assert.deepEqual(contradictions(observation), []);
  });

  it('traced one sniff per connection and a clear-text client-hello for each TLS one', () => {
    const sniffs = observation.trace.filter((line) => / sniff +#\d/.test(line));
    assert.equal(sniffs.length, 4);
    assert.equal(sniffs.filter((line) => line.endsWith('first byte 0x16 -> tls')).length, 2);
    assert.equal(sniffs.filter((line) => line.endsWith('first byte 0x47 -> http')).length, 2);
    const hellos = observation.trace.filter((line) => /client-hello SNI/.test(line));
    assert.deepEqual(hellos.map((line) => /client-hello (SNI [^,]+),/.exec(line)![1]), ['SNI localhost', 'SNI (none)']);
  });

  it('reports what contradicts the conclusion instead of claiming it', () => {
    const rows = observation.rows.map((r) => (r.transport === 'tls' ? { ...r, firstByte: '0x47', tls: { ...r.tls!, alpn: null } } : r));
    const wrong = contradictions({ ...observation, rows: rows.slice(0, 3) });
    assert.ok(wrong.some((line) => line.startsWith('3 connection(s) in the table')), wrong.join('\n'));
    assert.ok(wrong.some((line) => /the https:\/\/ connection's first byte was 0x47, not 0x16/.test(line)), wrong.join('\n'));
    assert.ok(wrong.some((line) => /ALPN for https:\/\/: offered http\/1.1, agreed \(none\)/.test(line)), wrong.join('\n'));
    assert.ok(wrong.some((line) => /no row for the wss:\/\/ client/.test(line)), wrong.join('\n'));
  });

  it('prints the steps, the trace, both tables and a conclusion drawn from them', async () => {
    let text = '';
    const report = new Report((chunk) => { text += chunk; });
    report.header(tlsSamePort);
    assert.equal(await tlsSamePort.run(report), true, text);
    assert.match(text, /^experiment tls-same-port: .+\nquestion: .+\n/);
    const frontDoor = /^the front door, per connection \(while all four were open\):\n((?: {2}.*\n)+)/m.exec(text);
    assert.ok(frontDoor, text);
    const lines = frontDoor[1]!.trimEnd().split('\n');
    assert.match(lines[0]!, /^ {2}id +client +client end +server end +first byte +transport +SNI \(clear\) +ALPN offered \(clear\) +TLS +ALPN agreed +then speaks$/);
    assert.match(lines[1]!, /^ {2}#\d+ +http:\/\/ +127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +0x47 'G' → http +tcp +- +- +- +- +HTTP\/1\.1$/);
    assert.match(lines[2]!, /^ {2}#\d+ +https:\/\/ +127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +0x16 → tls +tls +localhost +http\/1\.1 +TLSv1\.[23] +http\/1\.1 +HTTP\/1\.1$/);
    assert.match(lines[3]!, /^ {2}#\d+ +ws:\/\/ +.* +0x47 'G' → http +tcp +.* +websocket$/);
    assert.match(lines[4]!, /^ {2}#\d+ +wss:\/\/ +.* +0x16 → tls +tls +\(none\) +http\/1\.1 +TLSv1\.[23] +http\/1\.1 +websocket$/);
    assert.equal(new Set(lines.slice(1).map((line) => line.trim().split(/\s+/)[3])).size, 1, 'one server end');
    assert.equal(new Set(lines.slice(1).map((line) => line.trim().split(/\s+/)[2])).size, 4, 'four client ends');
    assert.match(text, /^connection table \(while all four were open\):\n {2}id +proto +local \(server\)/m);
    const conclusion = text.trimEnd().split('\n').at(-1)!;
    assert.match(conclusion, /^conclusion: one listening socket, 4 accepted sockets at once on the same server port, told apart by their first byte before any HTTP was read: 0x16 \(a TLS handshake record\) sent https and wss to node:tls, 0x47 'G' \(a request line's first letter\) sent http and ws straight to HTTP\/1\.1; the SNI name \(localhost\) and the ALPN offer \(http\/1\.1\) were read from the ClientHello in clear text/);
  });
});
