/**
 * The dashboard in a real browser: Debian's `chromium`, headless, driven over the DevTools protocol with
 * the project's own WebSocket client. Two pages load the dashboard from one lab; each must list its own
 * connections (HTML over HTTP, the live feed, the chat) with the same server port and different client
 * ports, matching the server's own table; then the pages chat through `/chat`.
 *
 * Skipped only when chromium is missing outside CI; under CI (`CI` set) a missing browser is a failure.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab } from '../helpers/lab.js';
import { Cdp, CdpPage } from './cdp.js';
import { requireChromium, launchChromium } from './chromium.js';

interface OwnRow { server: string; client: string; state: string; protocol: string; extensions: string | null }
type OwnRows = Record<'page' | 'feed' | 'chat', OwnRow>;

/** The rows a page marks as its own, as the user sees them — once all three are there and both sockets are upgraded. */
const OWN_ROWS = `(() => {
  const out = {};
  for (const tr of document.querySelectorAll('#conn-rows tr[data-self]')) {
    out[tr.dataset.self] = {
      server: tr.querySelector('td.server').textContent,
      client: tr.querySelector('td.client').textContent,
      state: tr.querySelector('.state').textContent,
      protocol: tr.children[3].firstChild.textContent,
      extensions: tr.children[3].title || null,
    };
  }
  // The agreed extensions reach the page with the next snapshot (at most a second after the 101).
  return out.page && out.feed && out.chat && out.feed.state === 'upgraded' && out.chat.state === 'upgraded' && out.feed.extensions && out.chat.extensions ? out : null;
})()`;

const CHAT_OPEN = `document.getElementById('chat-status').textContent.startsWith('open')`;

const say = (text: string): string => `(() => {
  document.getElementById('chat-input').value = ${JSON.stringify(text)};
  document.getElementById('chat-form').requestSubmit();
  return true;
})()`;

/** Chat lines as [from, text], once one with `text` has arrived. */
const chatLineWith = (text: string): string => `(() => {
  const lines = [...document.querySelectorAll('#chat-log li')].map((li) => [li.querySelector('.from').textContent, li.querySelector('.text').textContent]);
  return lines.some(([, t]) => t === ${JSON.stringify(text)}) ? lines : null;
})()`;

describe('the dashboard in headless chromium', () => {
  it('lists the page\'s own connections (same server port, different client ports) and chats between two pages', { timeout: 60_000 }, async (t) => {
    const executable = requireChromium(t);
    if (!executable) return;
    // A long keep-alive, so the page's own HTTP connection is still open when the test looks for its row
    // on a loaded machine (with the default 5 s the page honestly reports it closed).
    await withLab({ limits: { keepAliveTimeoutMs: 60_000 } }, async (server) => {
      const browser = await launchChromium(executable);
      let cdp: Cdp | undefined;
      try {
        cdp = await Cdp.connect(browser.wsUrl);
        const a = await CdpPage.open(cdp);
        const b = await CdpPage.open(cdp);
        await a.navigate(server.url);
        await b.navigate(server.url);

        const serverEndpoint = `127.0.0.1:${server.port}`;
        const own: OwnRows[] = [];
        for (const page of [a, b]) {
          const rows = await page.waitFor<OwnRows>(OWN_ROWS, 'the page to mark its three connections', 15_000);
          own.push(rows);
          assert.deepEqual(Object.values(rows).map((r) => r.server), [serverEndpoint, serverEndpoint, serverEndpoint], 'same server port');
          assert.deepEqual([rows.page.state, rows.page.protocol], ['http', '—'], 'the HTML came over plain HTTP');
          assert.deepEqual([rows.feed.protocol, rows.chat.protocol], ['websocket', 'websocket']);
          // Chromium offers permessage-deflate on every WebSocket; the lab agrees and the row says so (RFC 7692).
          assert.equal(rows.feed.extensions, 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
          assert.equal(rows.chat.extensions, rows.feed.extensions);
          assert.equal(rows.page.extensions, null);
          // Each row the page calls its own is a real row of the server's table, with that state.
          for (const row of Object.values(rows)) {
            const record = server.table.get(`tcp ${row.server} ${row.client}`);
            assert.ok(record, `the server has a connection ${row.client} → ${row.server}`);
            assert.equal(record.state, row.state);
          }
          const lesson = await page.evaluate<string>(`document.getElementById('lesson-line').textContent`);
          assert.match(lesson, new RegExp(`^Same server port ${server.port}, different client ports`));
          // The chat connection's accept, request and 101 reached the timeline, marked as this page's.
          const mine = await page.waitFor<string[]>(`(() => {
            const types = [...document.querySelectorAll('#timeline li.mine .type')].map((n) => n.textContent);
            return ['accept', 'request', 'upgrade'].every((t) => types.includes(t)) ? types : null;
          })()`, 'the chat connection in the timeline');
          assert.ok(mine.length >= 3);
        }
        const clients = own.flatMap((rows) => Object.values(rows).map((r) => r.client));
        assert.equal(new Set(clients).size, 6, `six connections, six client ports: ${clients.join(' ')}`);

        await a.waitFor(CHAT_OPEN, 'page A\'s chat to open');
        await b.waitFor(CHAT_OPEN, 'page B\'s chat to open');
        await a.evaluate(say('hello from A'));
        const atB = await b.waitFor<string[][]>(chatLineWith('hello from A'), 'A\'s message at B');
        assert.deepEqual(atB.find(([, text]) => text === 'hello from A'), [own[0]!.chat.client, 'hello from A'], 'B sees A\'s chat 5-tuple as the sender');
        await b.evaluate(say('hi A, B here'));
        const atA = await a.waitFor<string[][]>(chatLineWith('hi A, B here'), 'B\'s message at A');
        assert.deepEqual(atA, [['you', 'hello from A'], [own[1]!.chat.client, 'hi A, B here']]);

        const png = await a.screenshot();
        assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
        const file = join(tmpdir(), 'switchyard-dashboard.png');
        writeFileSync(file, png);
        t.diagnostic(`screenshot: ${file}`);

        assert.deepEqual([...a.problems, ...b.problems], [], 'no script errors or CSP violations in the pages');
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- chromium stderr (tail) ---\n${browser.stderrTail().slice(-4_000)}`, { cause: error });
      } finally {
        await cdp?.send('Browser.close', {}, undefined, 3_000).catch(() => {});
        cdp?.close();
        await browser.close();
      }
    });
  });
});
