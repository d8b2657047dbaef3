/**
 * TLS on the shared port, against real clients nobody here wrote: curl, Python's `websockets`, headless
 * Chromium and `openssl s_client`. All of them talk to ONE `switchyard serve --tls-self-signed
 * --tls-export-cert FILE` child on one port (port 0, read from its stdout), and trust exactly the
 * certificate it exported — no client is told to skip verification. The same port must keep serving
 * cleartext HTTP beside TLS, and the server's own `/connections` must agree with what each client saw.
 *
 * Each peer's test skips when its binary is missing, except under CI (`CI=true`), where it fails
 * (test/helpers/require-command.ts). Every child process and every wait has a deadline.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cdp, CdpPage, type CdpEvent } from '../browser/cdp.js';
import { requireChromium, launchChromium } from '../browser/chromium.js';
import { type Served, startServe, stopServe } from '../helpers/serve.js';
import { spkiSha256Base64 } from '../helpers/spki.js';
import { requireCommand } from '../helpers/require-command.js';
import { runCommand as run, type Ran } from '../helpers/run-command.js';

/** Debian's Python, which has python3-websockets; `python3` on PATH may be a pyenv shim without it. */
const PYTHON = '/usr/bin/python3';
const PEER_TIMEOUT_MS = 30_000;

/** Run `command` with `input` on stdin; killed, and the wait failed, after `timeoutMs`. */
const runCommand = (command: string, args: readonly string[], input = '', timeoutMs = PEER_TIMEOUT_MS): Promise<Ran> => run(command, args, timeoutMs, input);

/** `curl` with no ~/.curlrc (-q must come first), quiet but showing errors, and its own deadline. */
const curl = (...args: string[]): Promise<Ran> => runCommand('curl', ['-q', '-sS', '--max-time', '10', ...args]);
const WRITE_OUT = '\n%{http_version} %{http_code} %{scheme} %{ssl_verify_result}';

interface Serve extends Served {
  readonly pem: string;
  readonly dir: string;
}

/** `serve --tls-self-signed` on port 0, its certificate exported to a fresh directory. */
async function startTlsServe(): Promise<Serve> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-tls-peers-'));
  const pem = join(dir, 'exported.pem');
  // A long keep-alive: the browser's page connection must still be open when its row is looked for.
  const served = await startServe(['--port', '0', '--tls-self-signed', '--tls-export-cert', pem, '--limit', 'keepAliveTimeoutMs=60000']);
  return { ...served, stderr: served.stderr, pem, dir };
}

async function stopTlsServe(serve: Serve): Promise<void> {
  await stopServe(serve.child);
  rmSync(serve.dir, { recursive: true, force: true });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

interface Row {
  id: number;
  transport: 'tcp' | 'tls';
  firstByte?: string;
  tls?: { sni: string | null; offeredAlpn: string[]; version: string | null; cipher: string | null; alpn: string | null };
  remote: { address: string; port: number };
  fiveTuple: string;
  state: string;
  protocol: string | null;
  http?: '1.1' | '2';
  streams?: Array<{ id: number; method: string; path: string; protocol: string | null; state: string; status: number | null }>;
  self?: true;
}
interface Table {
  connections: Row[];
  frontDoor: { http: number; tls: number; unknown: number; tlsNotClientHello: number; tlsHandshakeFailed: number; tlsHandshakeTimeout: number };
}

/** The server's table, asked for over verified TLS with curl. */
async function connections(serve: Serve): Promise<Table> {
  const result = await curl('--cacert', serve.pem, `https://localhost:${serve.port}/connections`);
  assert.equal(result.code, 0, `${result.stderr}\n--- serve stderr ---\n${serve.stderr()}`);
  return JSON.parse(result.stdout) as Table;
}

async function eventuallyAsync<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Python `websockets` (asyncio client) over wss:// to /echo with a default SSL context trusting only the
 * exported certificate. While the WebSocket is open it asks /connections with urllib (Python's own HTTPS
 * client) for the server's row of that very connection, found by the client's local port.
 */
const PYTHON_PEER = String.raw`
import asyncio, json, ssl, sys, urllib.request
import websockets

async def main(base, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    async with websockets.connect(base.replace('https://', 'wss://') + '/echo', ssl=ctx, open_timeout=10, close_timeout=5) as ws:
        await ws.send('hello from python websockets')
        text = await asyncio.wait_for(ws.recv(), 10)
        await ws.send(bytes([0, 1, 254, 255]))
        binary = await asyncio.wait_for(ws.recv(), 10)
        tls = ws.transport.get_extra_info('ssl_object')
        local = ws.local_address
        loop = asyncio.get_running_loop()
        table = await loop.run_in_executor(None, lambda: json.load(urllib.request.urlopen(base + '/connections', context=ctx, timeout=10)))
        row = next((r for r in table['connections'] if r['remote']['port'] == local[1]), None)
        out = {
            'websockets': websockets.__version__, 'text': text, 'binary': binary.hex(),
            'tlsVersion': tls.version(), 'alpn': tls.selected_alpn_protocol(),
            'san': [list(x) for x in tls.getpeercert()['subjectAltName']],
            'offeredExtensions': ws.request_headers.get('Sec-WebSocket-Extensions'),
            'upgradeHeaders': {k.lower(): v for k, v in ws.response_headers.raw_items()},
            'local': list(local), 'serverRow': row,
        }
    out['closeCode'] = ws.close_code
    print(json.dumps(out))

asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), 20))
`;

/** The rows the dashboard marks as its own, once the page's and the feed's are there and the feed is live. */
const OWN_ROWS = `(() => {
  const lab = window.switchyardLab;
  const out = {};
  for (const tr of document.querySelectorAll('#conn-rows tr[data-self]')) {
    // An HTTP/2 stream row (RFC 8441) shares its connection's 5-tuple: take the ends from that row.
    const owner = tr.classList.contains('stream') ? document.querySelector('#conn-rows tr[data-id="' + tr.dataset.connection + '"]') : tr;
    if (!owner) continue;
    out[tr.dataset.self] = {
      state: tr.querySelector('.state').textContent,
      protocol: tr.classList.contains('stream') ? tr.querySelector('td.sproto').firstChild.textContent : tr.children[3].firstChild.textContent,
      transport: owner.querySelector('td.transport').textContent,
      server: owner.querySelector('td.server').textContent,
      client: owner.querySelector('td.client').textContent,
    };
  }
  if (!lab || lab.feedState !== 'live' || !lab.feed || !out.page || !out.feed || out.feed.state !== 'upgraded') return null;
  return { rows: out, href: location.href, protocol: location.protocol, isSecureContext, pageTuple: lab.page.fiveTuple, feedTuple: lab.feed.fiveTuple };
})()`;

interface PageState {
  rows: Record<string, { state: string; protocol: string; transport: string; server: string; client: string }>;
  href: string;
  protocol: string;
  isSecureContext: boolean;
  pageTuple: string;
  feedTuple: string;
}

describe('real TLS peers against one serve --tls-self-signed port', () => {
  let serve: Serve;

  before(async () => { serve = await startTlsServe(); });
  after(async () => { if (serve) await stopTlsServe(serve); });

  it('prints the fingerprint of the certificate it exported, for localhost, 127.0.0.1 and ::1', () => {
    const certificate = new X509Certificate(readFileSync(serve.pem));
    assert.match(serve.stdout, new RegExp(`^tls: sha256 ${certificate.fingerprint256} \\(self-signed, made at start\\)$`, 'm'));
    assert.match(serve.stdout, new RegExp(`^switchyard listening on https://127\\.0\\.0\\.1:${serve.port}/ `, 'm'));
    assert.equal(certificate.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  });

  it('curl: https:// with --cacert and http:// on the same port; without --cacert, exit 60', async (t) => {
    if (!requireCommand(t, 'curl', ['--version'])) return;
    const health = await curl('--cacert', serve.pem, '-w', WRITE_OUT, `https://localhost:${serve.port}/healthz`);
    assert.equal(health.code, 0, health.stderr);
    assert.equal(health.stdout, 'ok\n\n2 200 HTTPS 0', 'HTTP/2 over verified TLS: curl offers h2 first and the server prefers it');

    const protocols = await curl('--cacert', serve.pem, '-w', WRITE_OUT, `https://localhost:${serve.port}/protocols`);
    assert.equal(protocols.code, 0, protocols.stderr);
    const [json, status] = [protocols.stdout.slice(0, protocols.stdout.lastIndexOf('\n')), protocols.stdout.slice(protocols.stdout.lastIndexOf('\n') + 1)];
    assert.equal(status, '2 200 HTTPS 0');
    const tokens = (JSON.parse(json) as { protocols: Array<{ token: string }> }).protocols.map((p) => p.token);
    assert.equal(`protocols: ${tokens.join(', ')}`, /^protocols: .*$/m.exec(serve.stdout)![0], 'the same list serve printed');
    assert.ok(tokens.includes('websocket') && tokens.includes('TLS/1.0'), tokens.join(', '));

    const plain = await curl('-w', WRITE_OUT, `http://127.0.0.1:${serve.port}/healthz`);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, 'ok\n\n1.1 200 HTTP 0', 'cleartext HTTP/1.1 on the TLS port');

    const before = (await connections(serve)).frontDoor;
    const unverified = await curl(`https://localhost:${serve.port}/healthz`);
    assert.equal(unverified.code, 60, `curl: peer certificate cannot be authenticated with known CA certificates\n${unverified.stderr}`);
    assert.match(unverified.stderr, /self-signed certificate/);
    assert.equal(unverified.stdout, '');
    // curl aborts the handshake with an alert; the front door counts it as a failed handshake.
    const failed = await eventuallyAsync(async () => {
      const now = (await connections(serve)).frontDoor;
      return now.tlsHandshakeFailed > before.tlsHandshakeFailed ? now : undefined;
    }, 5_000, 'the refused handshake in frontDoor.tlsHandshakeFailed');
    assert.equal(failed.tlsHandshakeFailed, before.tlsHandshakeFailed + 1);

    // curl's own row, as the server saw its ClientHello (SNI, ALPN offers) and the handshake's outcome.
    const table = await connections(serve);
    const self = table.connections.find((row) => row.self);
    assert.ok(self, JSON.stringify(table));
    assert.equal(self.transport, 'tls');
    assert.equal(self.firstByte, '0x16');
    assert.equal(self.tls?.sni, 'localhost');
    assert.deepEqual(self.tls?.offeredAlpn, ['h2', 'http/1.1'], 'curl built with nghttp2 offers h2 first');
    assert.equal(self.tls?.alpn, 'h2', 'the server offers h2 and http/1.1 and prefers h2');
    assert.equal(self.http, '2');
    assert.match(self.tls?.version ?? '', /^TLSv1\.[23]$/);
    assert.ok(table.frontDoor.http >= 1 && table.frontDoor.tls >= 4, JSON.stringify(table.frontDoor));
  });

  it('Python websockets: wss://localhost/echo trusting the exported certificate echoes text and binary', async (t) => {
    if (!requireCommand(t, PYTHON, ['-c', 'import websockets'])) return;
    const result = await runCommand(PYTHON, ['-c', PYTHON_PEER, `https://localhost:${serve.port}`, serve.pem]);
    assert.equal(result.code, 0, result.stderr);
    const seen = JSON.parse(result.stdout);
    t.diagnostic(`python websockets ${seen.websockets}, ${seen.tlsVersion}`);
    assert.equal(seen.text, 'hello from python websockets');
    assert.equal(seen.binary, '0001feff');
    assert.equal(seen.closeCode, 1000, 'a clean close');
    assert.match(seen.tlsVersion, /^TLSv1\.[23]$/);
    assert.equal(seen.alpn, null, "Python's default context offers no ALPN, and TLS works without it");
    assert.deepEqual(seen.san, [['DNS', 'localhost'], ['IP Address', '127.0.0.1'], ['IP Address', '0:0:0:0:0:0:0:1']]);
    assert.equal(seen.upgradeHeaders.upgrade, 'websocket');
    // websockets offers permessage-deflate (with client_max_window_bits); the server agrees, within its
    // default 12-bit windows (RFC 7692 §7.1.2), and the echo above went both ways compressed.
    assert.match(seen.offeredExtensions ?? '', /permessage-deflate; client_max_window_bits/);
    assert.equal(seen.upgradeHeaders['sec-websocket-extensions'], 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
    const row = seen.serverRow as Row | null;
    assert.ok(row, `the server lists the client's connection (local port ${seen.local[1]})`);
    assert.equal(row.fiveTuple, `tcp 127.0.0.1:${serve.port} ${seen.local[0]}:${seen.local[1]}`);
    assert.deepEqual([row.transport, row.state, row.protocol], ['tls', 'upgraded', 'websocket']);
    assert.deepEqual(row.tls && { sni: row.tls.sni, offeredAlpn: row.tls.offeredAlpn, alpn: row.tls.alpn, version: row.tls.version },
      { sni: 'localhost', offeredAlpn: [], alpn: null, version: seen.tlsVersion });
  });

  it('Chromium: the dashboard over https://localhost and its live feed over wss:// on the same port', { timeout: 90_000 }, async (t) => {
    const executable = requireChromium(t);
    if (!executable) return;
    if (!requireCommand(t, 'curl', ['--version'])) return;
    const url = `https://localhost:${serve.port}/`;

    // First without trusting anything: the self-signed certificate must be refused, or the check below proves nothing.
    await withBrowser(executable, [], async (_cdp, page) => {
      const result = await page.send<{ errorText?: string }>('Page.navigate', { url }, 15_000);
      assert.equal(result.errorText, 'net::ERR_CERT_AUTHORITY_INVALID');
    });

    // Trust exactly this key. Chromium honours --ignore-certificate-errors-spki-list only when --user-data-dir
    // is given too (content::MaybeWrapCertVerifier, content/public/browser/ignore_errors_cert_verifier_utils.h),
    // and launchChromium always passes a fresh one, so no policy is needed. Unlike --ignore-certificate-errors
    // it still refuses every certificate whose key is not in the list (checked: a wrong hash gives
    // ERR_CERT_AUTHORITY_INVALID, as the browser above without the flag does).
    const spki = spkiSha256Base64(readFileSync(serve.pem, 'utf8'));
    await withBrowser(executable, [`--ignore-certificate-errors-spki-list=${spki}`], async (cdp, page) => {
      const events: CdpEvent[] = [];
      const off = cdp.on((event) => { if (event.sessionId === page.sessionId && event.method.startsWith('Network.')) events.push(event); });
      await page.send('Network.enable');
      await page.navigate(url, 15_000);
      const state = await page.waitFor<PageState>(OWN_ROWS, 'the page\'s live feed and its own rows', 20_000);
      off();

      assert.equal(state.href, url);
      assert.equal(state.protocol, 'https:');
      assert.equal(state.isSecureContext, true);
      const server = `127.0.0.1:${serve.port}`;
      assert.deepEqual([state.rows.page!.server, state.rows.feed!.server], [server, server], 'one port for the page and the feed');
      assert.deepEqual([state.rows.feed!.state, state.rows.feed!.protocol], ['upgraded', 'websocket']);
      // The page came over h2; the feed is either an RFC 8441 stream of that connection or (a browser that
      // does not use extended CONNECT) a connection of its own, which Chromium offers http/1.1 only.
      const feedOnH2 = state.feedTuple === state.pageTuple;
      assert.match(state.rows.page!.transport, /^tls first byte 0x16 decided tls · TLSv1\.[23] .*· ALPN h2 · SNI localhost · h2$/, `page row: ${state.rows.page!.transport}`);
      if (!feedOnH2) assert.match(state.rows.feed!.transport, /^tls first byte 0x16 decided tls · TLSv1\.[23] .*· ALPN http\/1\.1 · SNI localhost$/, `feed row: ${state.rows.feed!.transport}`);

      const document = events.find((e) => e.method === 'Network.responseReceived' && e.params.type === 'Document');
      assert.ok(document, 'the document\'s response was seen');
      assert.equal(document.params.response.url, url);
      assert.equal(document.params.response.status, 200);
      assert.equal(document.params.response.protocol, 'h2');
      const security = document.params.response.securityDetails;
      assert.ok(security, 'the document came over TLS');
      assert.match(security.protocol, /^TLS 1\.[23]$/);
      assert.equal(security.subjectName, 'localhost');
      assert.deepEqual(security.sanList, ['localhost', '127.0.0.1', '::1']);
      const created = events.find((e) => e.method === 'Network.webSocketCreated' && e.params.url === `wss://localhost:${serve.port}/_lab/events`);
      assert.ok(created, `the feed opened on wss://: ${events.filter((e) => e.method === 'Network.webSocketCreated').map((e) => e.params.url).join(' ')}`);
      const handshake = events.find((e) => e.method === 'Network.webSocketHandshakeResponseReceived' && e.params.requestId === created.params.requestId);
      // Over RFC 8441 the handshake is a 200 to an extended CONNECT; over HTTP/1.1 a 101.
      assert.equal(handshake?.params.response.status, feedOnH2 ? 200 : 101);

      // The server's table agrees: the page's and the feed's connections are TLS rows from Chromium.
      const table = await connections(serve);
      const feed = table.connections.find((row) => row.fiveTuple === state.feedTuple);
      assert.ok(feed, `the server lists the feed ${state.feedTuple}`);
      if (feedOnH2) {
        assert.deepEqual([feed.transport, feed.http, feed.tls?.alpn], ['tls', '2', 'h2']);
        assert.ok(feed.streams?.some((s) => s.path === '/_lab/events' && s.protocol === 'websocket' && s.state === 'upgraded'), JSON.stringify(feed.streams));
      } else {
        assert.deepEqual([feed.transport, feed.state, feed.protocol, feed.tls?.sni, feed.tls?.alpn], ['tls', 'upgraded', 'websocket', 'localhost', 'http/1.1']);
        assert.deepEqual(feed.tls?.offeredAlpn, ['http/1.1'], 'Chromium offers only http/1.1 for a WebSocket of its own');
      }
      t.diagnostic(`chromium feed: ${feedOnH2 ? 'RFC 8441 stream of the page\'s h2 connection' : 'its own HTTP/1.1 connection'}`);
      const pageRow = table.connections.find((row) => row.fiveTuple === state.pageTuple);
      assert.ok(pageRow, `the server lists the page's connection ${state.pageTuple}`);
      assert.deepEqual([pageRow.transport, pageRow.tls?.sni, pageRow.tls?.alpn, pageRow.http], ['tls', 'localhost', 'h2', '2']);
      assert.deepEqual(pageRow.tls?.offeredAlpn, ['h2', 'http/1.1']);
      assert.deepEqual(page.problems, [], 'no script errors or CSP violations');
    });
  });

  it('openssl s_client: ALPN http/1.1 (and h2 when asked), certificate verified for localhost, and a GET answered 200', async (t) => {
    if (!requireCommand(t, 'openssl', ['version'])) return;
    const args = ['s_client', '-connect', `127.0.0.1:${serve.port}`, '-servername', 'localhost', '-alpn', 'http/1.1',
      '-CAfile', serve.pem, '-verify_hostname', 'localhost', '-verify_return_error'];
    // stdin at its end at once: the handshake, the session summary, then DONE.
    const handshake = await runCommand('openssl', args, '');
    assert.equal(handshake.code, 0, handshake.stdout + handshake.stderr);
    assert.match(handshake.stdout, /^ALPN protocol: http\/1\.1$/m);
    assert.match(handshake.stdout, /^\s*Verify return code: 0 \(ok\)$/m);
    assert.match(handshake.stdout, /^New, TLSv1\.[23], Cipher is \S+$/m);

    // One request through it; -ign_eof keeps reading after stdin ends, until the server closes.
    const request = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
    const get = await runCommand('openssl', [...args, '-ign_eof'], request);
    assert.equal(get.code, 0, get.stdout + get.stderr);
    assert.match(get.stdout, /^HTTP\/1\.1 200 OK\r?$/m);
    assert.match(get.stdout, /^Content-Length: 3\r?$/m);
    assert.match(get.stdout, /\r\n\r\nok\n/);

    // The server offers h2 too now: a client asking for h2 alone gets it.
    const h2 = await runCommand('openssl', ['s_client', '-connect', `127.0.0.1:${serve.port}`, '-servername', 'localhost', '-alpn', 'h2', '-CAfile', serve.pem], '');
    assert.equal(h2.code, 0, h2.stdout + h2.stderr);
    assert.match(h2.stdout, /^ALPN protocol: h2$/m);

    // No protocol in common: RFC 7301 §3.2 says refuse with no_application_protocol, and so does the server.
    const none = await runCommand('openssl', ['s_client', '-connect', `127.0.0.1:${serve.port}`, '-servername', 'localhost', '-alpn', 'spdy/3', '-CAfile', serve.pem], '');
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /no application protocol/);
  });
});

/** A fresh headless Chromium with `extraArgs` and one attached page; always closed afterwards. */
async function withBrowser(executable: string, extraArgs: readonly string[], body: (cdp: Cdp, page: CdpPage) => Promise<void>): Promise<void> {
  const browser = await launchChromium(executable, 15_000, extraArgs);
  let cdp: Cdp | undefined;
  try {
    cdp = await Cdp.connect(browser.wsUrl);
    await body(cdp, await CdpPage.open(cdp));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- chromium stderr (tail) ---\n${browser.stderrTail().slice(-4_000)}`, { cause: error });
  } finally {
    await cdp?.send('Browser.close', {}, undefined, 3_000).catch(() => {});
    cdp?.close();
    await browser.close();
  }
}
