/**
 * The dashboard's byte view in a real browser (issue #15): a test client opens a WebSocket to `/echo` over
 * a raw socket, sends RFC 6455 §5.7's masked "Hello" (key 37 fa 21 3d) and reads the echo; then headless
 * chromium loads the dashboard, a mouse click on that connection's row opens its bytes (fetched from
 * `GET /_lab/connections/ID/bytes`), and the panel must show the request head and the 101 with their
 * CR LF, and each frame's §5.2 fields with this frame's values. The keyboard opens a plain HTTP row (the
 * page's own), shown as a hex dump; an id the server does not have shows the route's 404 message.
 *
 * Skipped only when chromium is missing outside CI; under CI (`CI` set) a missing browser is a failure.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab } from '../helpers/lab.js';
import { RawClient } from '../helpers/raw-client.js';
import { Cdp, CdpPage } from './cdp.js';
import { requireChromium, launchChromium } from './chromium.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** RFC 6455 §5.7: a single-frame masked text message containing "Hello". */
const MASKED_HELLO = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/** The same message unmasked, as the server echoes it. */
const HELLO = Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);

interface Field { text: string; value: string; form?: string }
interface ShownFrame { direction: string; heading: string; fields: Record<string, Field>; diagram: string | null }
interface Panel { what: string; status: string; request: string; response: string; totals: string[]; frames: ShownFrame[] }

/** The byte panel as the user sees it, once it shows connection `id` with at least `frames` frames. */
const panelOf = (id: number, frames: number): string => `(() => {
  const panel = document.getElementById('bytes-panel');
  if (panel.hidden) return null;
  const what = document.getElementById('bytes-what').textContent;
  if (!what.startsWith('#' + ${id} + ' ')) return null;
  const items = [...panel.querySelectorAll('#bytes-frames li.frame')];
  if (items.length < ${frames}) return null;
  const text = (selector) => { const node = panel.querySelector(selector); return node ? node.textContent : null; };
  return {
    what,
    status: document.getElementById('bytes-status').textContent,
    request: text('pre[data-field="request"]'),
    response: text('pre[data-field="response"]'),
    totals: [...panel.querySelectorAll('.totals li')].map((li) => li.textContent),
    frames: items.map((li) => ({
      direction: li.dataset.direction,
      heading: li.querySelector('h4').textContent,
      fields: Object.fromEntries([...li.querySelectorAll('[data-field]')].filter((n) => n.tagName === 'TD').map((n) => [n.dataset.field, { text: n.textContent, value: n.dataset.value, ...(n.dataset.form ? { form: n.dataset.form } : {}) }])),
      diagram: li.querySelector('pre[data-field="diagram"]') ? li.querySelector('pre[data-field="diagram"]').textContent : null,
    })),
  };
})()`;

/** The connection row whose client port is `port`: its id, and a point inside it where a click lands on it. */
const rowByClientPort = (port: number): string => `(() => {
  for (const tr of document.querySelectorAll('#conn-rows tr[data-id]')) {
    const client = tr.querySelector('td.client .port');
    if (!client || client.textContent !== ${JSON.stringify(String(port))}) continue;
    tr.scrollIntoView({ block: 'center', inline: 'nearest' });
    // The client cell, or the state cell if the table is scrolled so that the client cell is out of sight.
    for (const td of [tr.querySelector('td.client'), tr.children[2]]) {
      const rect = td.getBoundingClientRect();
      const x = rect.left + rect.width / 2, y = rect.top + rect.height / 2;
      if (tr.contains(document.elementFromPoint(x, y))) return { id: Number(tr.dataset.id), x, y };
    }
  }
  return null;
})()`;

async function click(page: CdpPage, x: number, y: number): Promise<void> {
  for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
    await page.send('Input.dispatchMouseEvent', { type, x, y, button: type === 'mouseMoved' ? 'none' : 'left', clickCount: 1 });
  }
}

async function press(page: CdpPage, key: 'Enter' | 'Escape'): Promise<void> {
  const code = key === 'Enter' ? 13 : 27;
  await page.send('Input.dispatchKeyEvent', { type: 'keyDown', key, code: key, windowsVirtualKeyCode: code, ...(key === 'Enter' ? { text: '\r' } : {}) });
  await page.send('Input.dispatchKeyEvent', { type: 'keyUp', key, code: key, windowsVirtualKeyCode: code });
}

describe('the dashboard\'s byte view in headless chromium', () => {
  it('opens a WebSocket connection\'s bytes on a click: both heads with their CR LF, each frame\'s §5.2 fields', { timeout: 60_000 }, async (t) => {
    const executable = requireChromium(t);
    if (!executable) return;
    // A long keep-alive, so the page's own HTTP connection is still there when the keyboard opens its row.
    await withLab({ limits: { keepAliveTimeoutMs: 60_000 } }, async (server) => {
      const ws = await RawClient.open(server.port);
      ws.write(`GET /echo HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      const head = await ws.waitFor((text) => text.includes('\r\n\r\n'), 5_000, 'the 101');
      assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      const headLength = head.indexOf('\r\n\r\n') + 4;
      ws.write(MASKED_HELLO);
      await ws.waitForBytes(headLength + HELLO.length);
      assert.deepEqual(ws.received.subarray(headLength), HELLO, 'the echo, unmasked');
      const clientPort = ws.socket.localPort!;

      const browser = await launchChromium(executable);
      let cdp: Cdp | undefined;
      try {
        cdp = await Cdp.connect(browser.wsUrl);
        const page = await CdpPage.open(cdp);
        await page.navigate(server.url);

        // A real mouse click on the row (on its client port, away from the # button).
        const row = await page.waitFor<{ id: number; x: number; y: number }>(rowByClientPort(clientPort), `the row of client port ${clientPort}`, 15_000);
        await click(page, row.x, row.y);
        const shown = await page.waitFor<Panel>(panelOf(row.id, 2), 'the byte panel with both frames', 10_000);

        assert.match(shown.what, new RegExp(`^#${row.id} · .*:${clientPort}\\b.* · tcp · websocket$`));
        assert.match(shown.status, /^as of /);
        // The heads as text, each line end shown as the \r\n it is, the empty line that ends the head too.
        assert.match(shown.request, /^GET \/echo HTTP\/1\.1\\r\\n\n/);
        assert.match(shown.request, /\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\n/);
        assert.match(shown.request, /\\r\\n\n\\r\\n\n$/);
        assert.match(shown.response, /^HTTP\/1\.1 101 Switching Protocols\\r\\n\n/);
        assert.match(shown.response, /\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\\r\\n\n/);
        assert.match(shown.totals[0]!, /^client → server: kept (\d+) of \1 bytes$/);
        assert.match(shown.totals[1]!, /^server → client: kept (\d+) of \1 bytes$/);

        const [sent, echoed] = shown.frames;
        assert.equal(sent!.direction, 'in');
        assert.match(sent!.heading, /^1\. client → server {2}text, 5 bytes of payload/);
        const f = sent!.fields;
        assert.equal(f.fin!.text, '1');
        assert.deepEqual([f.rsv1!.text, f.rsv2!.text, f.rsv3!.text], ['0', '0', '0']);
        assert.equal(f.opcode!.text, '0x1 (0001) text');
        assert.equal(f.opcode!.value, '1');
        assert.equal(f.mask!.text, '1');
        assert.deepEqual(f['payload-len'], { text: '5', value: '5', form: '7-bit' });
        assert.equal(f['extended-length']!.value, '', 'no extended length in the 7-bit form');
        assert.match(f['masking-key']!.text, /^[0-9a-f]{8}$/);
        assert.equal(f['masking-key']!.text, '37fa213d');
        assert.equal(f['masked-payload']!.text, '7f 9f 4d 51 58');
        assert.equal(f.payload!.text, '48 65 6c 6c 6f');
        assert.equal(f.text!.text, 'Hello');
        assert.match(sent!.diagram ?? '', /Payload len[\s\S]*Masking-key/, 'the §5.2 diagram, filled in');

        assert.equal(echoed!.direction, 'out');
        assert.match(echoed!.heading, /^2\. server → client {2}text, 5 bytes of payload/);
        const e = echoed!.fields;
        assert.deepEqual([e.fin!.text, e.opcode!.text, e.mask!.text, e['payload-len']!.text], ['1', '0x1 (0001) text', '0', '5']);
        assert.equal(e['masking-key']!.value, '', 'a server frame has no masking key');
        assert.equal(e['masked-payload']!.value, '');
        assert.equal(e.payload!.text, '48 65 6c 6c 6f');
        assert.equal(e.text!.text, 'Hello');

        const png = await page.screenshot();
        assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
        const file = join(tmpdir(), 'switchyard-byte-view.png');
        writeFileSync(file, png);
        t.diagnostic(`screenshot: ${file}`);

        // Escape closes the panel and gives the keyboard back to the row's button.
        await press(page, 'Escape');
        assert.equal(await page.evaluate(`document.getElementById('bytes-panel').hidden && document.activeElement.dataset.id`), String(row.id));

        // The keyboard alone: the # button of the page's own HTML connection, then Enter. Plain HTTP: a hex dump.
        const pageId = await page.waitFor<number>(`(() => {
          const tr = document.querySelector('#conn-rows tr[data-self="page"]');
          if (!tr) return null;
          tr.querySelector('button.open-bytes').focus();
          return Number(tr.dataset.id);
        })()`, 'the page\'s own row');
        await press(page, 'Enter');
        const dump = await page.waitFor<{ request: string; dump: string; frames: boolean }>(`(() => {
          const panel = document.getElementById('bytes-panel');
          const dump = panel.querySelector('pre[data-field="dump-in"]');
          if (panel.hidden || !document.getElementById('bytes-what').textContent.startsWith('#${pageId} ') || !dump) return null;
          return { request: panel.querySelector('pre[data-field="request"]').textContent, dump: dump.textContent, frames: !!panel.querySelector('#bytes-frames') };
        })()`, 'the hex dump of the page\'s own connection');
        assert.match(dump.request, /^GET \/ HTTP\/1\.1\\r\\n\n/);
        assert.match(dump.dump, /^00000000 {2}47 45 54 20 2f 20 48 54 {2}54 50 2f 31 2e 31 0d 0a {2}\|GET \/ HTTP\/1\.1\.\.\|\n/);
        assert.equal(dump.frames, false, 'no frames for plain HTTP');

        assert.deepEqual(page.problems, [], 'no script errors or CSP violations in the page');

        // An id the server does not have: the route's 404 message, in the panel.
        await page.evaluate('window.switchyardLab.openBytes(987654), true');
        const missing = await page.waitFor<string>(`(() => {
          const status = document.getElementById('bytes-status');
          return status.classList.contains('error') ? status.textContent : null;
        })()`, 'the 404 message');
        assert.match(missing, /^#987654: 404 \S/);

        // Chromium logs the 404 itself as a failed resource load: that one is expected, nothing else.
        assert.deepEqual(page.problems.filter((p) => !/status of 404 \(Not Found\)/.test(p)), [], 'no script errors or CSP violations in the page');
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- chromium stderr (tail) ---\n${browser.stderrTail().slice(-4_000)}`, { cause: error });
      } finally {
        ws.close();
        await cdp?.send('Browser.close', {}, undefined, 3_000).catch(() => {});
        cdp?.close();
        await browser.close();
      }
    });
  });
});
