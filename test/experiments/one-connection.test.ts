import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { contradictions, observeOneConnection, oneConnection, type OneConnectionObservation } from '../../src/experiments/one-connection.js';
import { Report } from '../../src/experiments/report.js';

describe('experiment one-connection', () => {
  let observation: OneConnectionObservation;

  before(async () => {
    observation = await observeOneConnection();
  });

  it('has exactly one row: one 5-tuple, speaking HTTP/2, whose client port is the session\'s', () => {
    assert.equal(observation.rows.length, 1);
    const row = observation.rows[0]!;
    assert.equal(row.http, '2');
    assert.equal(row.state, 'http2');
    assert.equal(row.local.port, observation.serverPort);
    assert.equal(row.remote.port, observation.clientPort);
    assert.equal(row.requests, 4);
  });

  it('carries at least three streams at once, with the right protocols, on that row', () => {
    const streams = observation.rows[0]!.streams ?? [];
    const live = streams.filter((s) => s.state !== 'closed');
    assert.ok(live.length >= 3, JSON.stringify(streams));
    const shape = live.map((s) => `${s.id} ${s.method} ${s.path} ${s.protocol ?? '-'} ${s.state}`);
    assert.deepEqual(shape, [
      '1 GET /healthz - open',
      '3 CONNECT /echo websocket upgraded',
      '5 CONNECT / lab-chat/1 upgraded',
      '7 CONNECT / lab-chat/1 upgraded',
    ]);
    for (const s of live.filter((s) => s.protocol !== null)) assert.equal(s.status, 200, `stream ${s.id}: RFC 8441 accepts with :status 200`);
    assert.ok(live.find((s) => s.protocol === 'websocket')!.bytesIn > 0, 'the masked frame counted on its stream');
  });

  it('echoed the messages: 200 ok, the WebSocket "hello", the chat line from one member to the other', () => {
    assert.deepEqual(observation.healthz, { status: 200, body: 'ok\n' });
    assert.equal(observation.wsEcho, 'hello');
    assert.equal(observation.wsCloseCode, 1000);
    const name = `127.0.0.1:${observation.clientPort}`;
    assert.deepEqual(observation.chatHellos, [`hello ${name} 0`, `hello ${name} 1`], 'both members have the one connection\'s 5-tuple as name');
    assert.equal(observation.chatDelivered, `msg ${name} hi from stream 5`);
  });

  it('recorded both SETTINGS; the server\'s include enableConnectProtocol (RFC 8441 §3)', () => {
    const settings = observation.rows[0]!.settings!;
    assert.equal(settings.server?.['enableConnectProtocol'], true);
    assert.ok(settings.client, 'the client\'s SETTINGS were recorded');
    assert.equal(observation.clientSawServerSettings['enableConnectProtocol'], true);
    assert.equal(observation.trace.filter((line) => / settings +#1 /.test(line)).length, 2);
    assert.equal(observation.trace.filter((line) => / stream +#1 .* stream \d+ open /.test(line)).length, 4);
    assert.deepEqual(contradictions(observation), []);
  });

  it('reports what contradicts the conclusion instead of claiming it', () => {
    const row = observation.rows[0]!;
    const wrong = contradictions({ ...observation, rows: [row, row], wsEcho: 'nope' });
    assert.ok(wrong.some((line) => line.startsWith('2 connection(s) in the table')), wrong.join('\n'));
    assert.ok(wrong.some((line) => line.includes('echoed "nope"')), wrong.join('\n'));
  });

  it('prints the row, its streams nested, both SETTINGS and the conclusion', async () => {
    let text = '';
    const report = new Report((chunk) => { text += chunk; });
    report.header(oneConnection);
    assert.equal(await oneConnection.run(report), true, text);
    assert.equal(text.match(/^connection table \(while all four streams were open\):\n {2}id .*\n {2}#1 +tcp .* http2 /m)?.length, 1, text);
    assert.match(text, /^ {2}#1 +3 +CONNECT +\/echo +websocket +upgraded +200 /m);
    assert.match(text, /^ {2}server: .*enableConnectProtocol=true/m);
    assert.match(text, /^ {2}client: headerTableSize=/m);
    assert.match(text.trimEnd().split('\n').at(-1)!, /^conclusion: one row in the table, one 5-tuple, and 4 streams on it at once: .* a connection by streams \(HTTP\/2\)/);
  });
});
