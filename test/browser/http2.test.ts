/**
 * HTTP/2 in a real browser: headless Chromium loads the dashboard over https:// from a lab started with
 * TLS (the fixture certificate, trusted by its SPKI hash and nothing else). ALPN agrees on h2, so the page
 * is one stream of one connection; the server announces SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (RFC 8441 §3),
 * so Chromium opens the page's wss:// feed (and the chat) as extended CONNECT streams (`:protocol
 * websocket`, RFC 8441 §5) of that SAME connection instead of a new TCP connection with an Upgrade.
 *
 * Checked from both sides: the server's table has one HTTP/2 row for the browser whose streams include
 * the feed (protocol websocket, upgraded), and the dashboard nests that stream under the page's row.
 *
 * Skipped only when chromium is missing outside CI; under CI (`CI` set) a missing browser is a failure.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ConnectionSnapshot } from '../../src/accept-loop/connection-table.js';
import { withLab } from '../helpers/lab.js';
import { spkiSha256Base64 } from '../helpers/spki.js';
import { Cdp, CdpPage, type CdpEvent } from './cdp.js';
import { requireChromium, launchChromium } from './chromium.js';

/** test/fixtures/tls, from the source tree (the compiled test runs elsewhere). */
function fixture(name: string): string {
  const here = fileURLToPath(import.meta.url);
  const root = here.slice(0, here.lastIndexOf('/test/browser/'));
  const candidates = [`${root}/test/fixtures/tls/${name}`, `${root.replace(/\/[^/]*$/, '')}/test/fixtures/tls/${name}`, `${process.cwd()}/test/fixtures/tls/${name}`];
  for (const file of candidates) {
    try { return readFileSync(file, 'utf8'); } catch { /* next */ }
  }
  throw new Error(`fixture ${name} not found in ${candidates.join(', ')}`);
}


/** The page's own identities, once the feed said hello (null until then). */
const FEED_LIVE = `(() => {
  const lab = window.switchyardLab;
  if (!lab || lab.feedState !== 'live' || !lab.feed || !lab.page) return null;
  return { page: lab.page, feed: lab.feed, chat: lab.chat, protocol: location.protocol };
})()`;

/** The feed as the dashboard shows it: a stream row nested under its connection's row. */
const NESTED_FEED = `(() => {
  const tr = document.querySelector('#conn-rows tr.stream[data-self="feed"]');
  if (!tr) return null;
  const owner = document.querySelector('#conn-rows tr[data-id="' + tr.dataset.connection + '"]');
  return {
    stream: Number(tr.dataset.stream), connection: Number(tr.dataset.connection),
    state: tr.querySelector('.state').textContent, protocol: tr.querySelector('td.sproto').firstChild.textContent,
    target: tr.querySelector('td.spath').textContent,
    ownerSelf: owner ? owner.dataset.self : null, ownerProtocol: owner ? owner.children[3].textContent : null,
    ownerTransport: owner ? owner.querySelector('td.transport').textContent : null,
    nextToOwner: !!owner && [...document.querySelectorAll('#conn-rows tr')].indexOf(tr) > [...document.querySelectorAll('#conn-rows tr')].indexOf(owner),
  };
})()`;

interface Identity { id: number; fiveTuple: string; http: '1.1' | '2'; stream?: number }
interface FeedLive { page: Identity; feed: Identity; chat: Identity | null; protocol: string }
interface NestedFeed {
  stream: number; connection: number; state: string; protocol: string; target: string;
  ownerSelf: string | null; ownerProtocol: string | null; ownerTransport: string | null; nextToOwner: boolean;
}

describe('the dashboard over HTTP/2 in headless chromium', () => {
  it('loads over h2 and opens its wss:// feed as an RFC 8441 stream of the page\'s own connection', { timeout: 90_000 }, async (t) => {
    const executable = requireChromium(t);
    if (!executable) return;
    const cert = fixture('cert.pem');
    const key = fixture('key.pem');
    await withLab({ tls: { cert, key }, limits: { keepAliveTimeoutMs: 60_000 } }, async (server) => {
      const browser = await launchChromium(executable, 15_000, [`--ignore-certificate-errors-spki-list=${spkiSha256Base64(cert)}`]);
      let cdp: Cdp | undefined;
      const started = Date.now();
      try {
        cdp = await Cdp.connect(browser.wsUrl);
        const page = await CdpPage.open(cdp);
        const events: CdpEvent[] = [];
        cdp.on((event) => { if (event.sessionId === page.sessionId && event.method.startsWith('Network.')) events.push(event); });
        await page.send('Network.enable');
        const url = `https://localhost:${server.port}/`;
        await page.navigate(url, 20_000);

        const document = events.find((e) => e.method === 'Network.responseReceived' && e.params.type === 'Document');
        assert.ok(document, 'the document\'s response was seen');
        assert.equal(document.params.response.status, 200);
        assert.equal(document.params.response.protocol, 'h2', 'ALPN h2: the page came over HTTP/2');

        const live = await page.waitFor<FeedLive>(FEED_LIVE, 'the live feed\'s hello', 20_000);
        assert.equal(live.protocol, 'https:');
        assert.equal(live.page.http, '2', 'the page\'s connection speaks HTTP/2');
        const created = events.filter((e) => e.method === 'Network.webSocketCreated').map((e) => e.params.url as string);
        assert.ok(created.includes(`wss://localhost:${server.port}/_lab/events`), `the feed on wss://: ${created.join(' ')}`);
        if (live.feed.stream === undefined) {
          // Chromium opened the feed on a connection of its own (HTTP/1.1 Upgrade): say exactly what it did.
          const rows = [...server.table.records()].map((r) => r.toJSON());
          assert.fail(`Chromium did not use RFC 8441 for the feed: it is ${live.feed.fiveTuple} (http ${live.feed.http}), ` +
            `the page ${live.page.fiveTuple}; server rows: ${JSON.stringify(rows.map((r) => ({ id: r.id, http: r.http, state: r.state, protocol: r.protocol, alpn: r.tls?.alpn, offered: r.tls?.offeredAlpn, settings: r.settings })))}`);
        }
        assert.equal(live.feed.fiveTuple, live.page.fiveTuple, 'the feed is on the page\'s own connection');
        assert.equal(live.feed.id, live.page.id);

        // The server's side: one HTTP/2 row for this browser, and the feed among its streams.
        const row = server.table.get(live.page.fiveTuple)?.toJSON() as ConnectionSnapshot | undefined;
        assert.ok(row, `the server lists ${live.page.fiveTuple}`);
        assert.deepEqual([row.http, row.transport, row.tls?.alpn, row.state], ['2', 'tls', 'h2', 'http2']);
        assert.equal(row.settings?.server?.enableConnectProtocol, true, 'the server announced SETTINGS_ENABLE_CONNECT_PROTOCOL=1');
        const feedStream = row.streams?.find((s) => s.id === live.feed.stream);
        assert.ok(feedStream, `stream ${live.feed.stream} in ${JSON.stringify(row.streams)}`);
        assert.deepEqual([feedStream.method, feedStream.path, feedStream.protocol, feedStream.state, feedStream.status],
          ['CONNECT', '/_lab/events', 'websocket', 'upgraded', 200]);
        const pageStream = row.streams?.find((s) => s.method === 'GET' && s.path === '/');
        assert.ok(pageStream === undefined || pageStream.status === 200, 'the page\'s own GET / stream answered 200 (if still kept)');
        const records = [...server.table.records()].map((r) => r.toJSON());
        const http2Rows = records.filter((r) => r.http === '2');
        assert.equal(http2Rows.length, 1, `one HTTP/2 connection: ${JSON.stringify(records.map((r) => [r.id, r.http, r.state, r.protocol]))}`);
        assert.equal(records.filter((r) => r.protocol === 'websocket').length, 0, 'no WebSocket took a TCP connection of its own');

        // The dashboard's side: the feed nested under the page's row, and that row marked h2.
        const nested = await page.waitFor<NestedFeed>(NESTED_FEED, 'the feed as a nested stream row', 10_000);
        assert.deepEqual([nested.stream, nested.connection, nested.state, nested.protocol], [live.feed.stream, live.page.id, 'upgraded', 'websocket']);
        assert.match(nested.target, /^CONNECT \/_lab\/events/);
        assert.equal(nested.ownerSelf, 'page');
        assert.match(nested.ownerProtocol ?? '', /^h2 \d+ streams?$/);
        assert.match(nested.ownerTransport ?? '', /ALPN h2 .*· h2$/);
        assert.ok(nested.nextToOwner, 'the stream row follows its connection\'s row');
        // The new event types reach the timeline (the SETTINGS exchange happened before the feed subscribed,
        // so it is in the table, not the timeline; the chat's stream opened after it).
        await page.waitFor(`[...document.querySelectorAll('#timeline li.ev-stream')].some((li) => li.textContent.includes('stream ')) || null`, 'stream events in the timeline', 10_000);
        assert.deepEqual(page.problems, [], 'no script errors or CSP violations');
        t.diagnostic(`h2 page + RFC 8441 feed verified in ${Date.now() - started} ms`);
      } catch (error) {
        const rows = [...server.table.records()].map((r) => r.toJSON());
        throw new Error(`${(error as Error).message}\n--- server rows ---\n${JSON.stringify(rows).slice(0, 3_000)}\n--- chromium stderr (tail) ---\n${browser.stderrTail().slice(-3_000)}`, { cause: error });
      } finally {
        await cdp?.send('Browser.close', {}, undefined, 3_000).catch(() => {});
        cdp?.close();
        await browser.close();
      }
    });
  });
});
