/**
 * `switchyard serve` with TLS on its port, from the command line, as the README tells a user to start it:
 * its two commands (`npm start -- --tls-self-signed --tls-export-cert lab.pem`, then
 * `curl --cacert lab.pem https://localhost:8080/healthz`) are read from the README and run here against
 * `dist/cli.js` on port 0, so the README cannot drift from what works. Then the certificate and key files
 * `--tls-cert`/`--tls-key` must refuse, each with exit code 2 and a line naming the file.
 *
 * Not repeated here: the refusals test/plugins/cli-plugins.test.ts already checks (--tls-cert without
 * --tls-key, an unreadable --tls-cert, a key file given as the certificate), and the certificate's own
 * profile, which test/accept-loop/tls/self-signed-certificate.test.ts takes apart field by field.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { finish, runCli, STACK_TRACE } from '../helpers/cli.js';
import { type Served, startServe, stopServe } from '../helpers/serve.js';
import { requireCommand } from '../helpers/require-command.js';
import { REPO } from '../plugins/paths.js';

const FIXTURE_CERT = join(REPO, 'test/fixtures/tls/cert.pem');
const FIXTURE_KEY = join(REPO, 'test/fixtures/tls/key.pem');
const DAY_MS = 24 * 60 * 60 * 1000;
const FINGERPRINT = /^tls: sha256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})(.*)$/m;

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The README's TLS quick start: the flags after `npm start --`, and the curl line that follows it. */
function readmeQuickStart(): { serveArgs: string[]; curlArgs: string[] } {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = /^npm ci && npm start -- (.+?)\s*(?:#.*)?$/m.exec(readme);
  assert.ok(start, 'the README shows "npm ci && npm start -- <serve flags>"');
  const curl = /^curl (--cacert \S+ https:\/\/localhost:8080\/healthz)\s*(?:#.*)?$/m.exec(readme);
  assert.ok(curl, 'the README shows "curl --cacert FILE https://localhost:8080/healthz"');
  return { serveArgs: start[1]!.split(/\s+/), curlArgs: curl[1]!.split(/\s+/) };
}

interface Ran { code: number | null; stdout: string; stderr: string }

/** Run a command to its end; killed, and the wait failed, after `ms`. */
function runCommand(command: string, args: readonly string[], ms = 30_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${command} ${args.join(' ')} did not exit within ${ms} ms: ${stderr}`)); }, ms);
    child.once('error', (error) => { clearTimeout(timer); reject(error); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** `serve ARGS` must refuse to start: exit 2, one `switchyard: …` line on stderr, never a listening socket. */
async function refused(args: string[]): Promise<string> {
  const result = await finish(runCli(['serve', '--port', '0', ...args]));
  assert.equal(result.code, 2, `serve ${args.join(' ')}: exit 2, got ${result.code}; stderr: ${result.stderr}`);
  assert.doesNotMatch(result.stdout, /listening on/, 'it refused before listening');
  assert.match(result.stderr, /^switchyard: [^\n]+\n$/, 'one line');
  assert.doesNotMatch(result.stderr, STACK_TRACE);
  return result.stderr;
}

describe('switchyard serve with TLS (CLI)', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-serve-tls-'));
  const pem = join(dir, 'lab.pem');
  let served: Served | undefined;

  before(async () => {
    const { serveArgs } = readmeQuickStart();
    // The README's flags as they are, with its lab.pem in a temporary directory and port 0 for 8080.
    served = await startServe(['--port', '0', ...serveArgs.map((arg) => (arg === 'lab.pem' ? pem : arg))]);
  });

  after(async () => {
    if (served !== undefined) assert.equal(await stopServe(served.child), 0, 'a graceful exit on SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the README\'s "npm start -- FLAGS" are serve\'s flags: the start script ends in "serve"', () => {
    const { serveArgs } = readmeQuickStart();
    assert.deepEqual(serveArgs, ['--tls-self-signed', '--tls-export-cert', 'lab.pem']);
    const { scripts } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    // npm appends what follows "--" to the end of the script, so it lands after "serve".
    assert.match(scripts.start!, /(?:^|&& )node dist\/cli\.js serve$/);
  });

  it('prints the https:// URL and a fingerprint that is the exported certificate\'s SHA-256', () => {
    const { stdout, port } = served!;
    assert.match(stdout, new RegExp(`^switchyard listening on https://127\\.0\\.0\\.1:${port}/ \\(TLS and cleartext on the same port`, 'm'));
    const printed = FINGERPRINT.exec(stdout);
    assert.ok(printed, `a "tls: sha256 XX:…" line:\n${stdout}`);
    assert.equal(printed[2], ' (self-signed, made at start)');
    assert.match(stdout, new RegExp(`^tls: certificate written to ${escape(pem)}$`, 'm'));
    const text = readFileSync(pem, 'utf8');
    assert.match(text, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/, 'one PEM certificate, nothing else');
    assert.doesNotMatch(text, /PRIVATE KEY/, 'the key is never written');
    assert.equal(printed[1], new X509Certificate(text).fingerprint256);
    assert.match(stdout, /^protocols: .*\bTLS\/1\.0\b/m, 'the same certificate offers RFC 2817\'s TLS/1.0');
  });

  it('the exported PEM is good for localhost, 127.0.0.1 and ::1 only, for at most 7 days from now', () => {
    const cert = new X509Certificate(readFileSync(pem));
    assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkHost('example.com'), undefined);
    assert.equal(cert.checkIP('10.0.0.1'), undefined);
    // Self-signed: the one certificate is the anchor curl is given and the leaf the server presents.
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.verify(cert.publicKey), true);
    const now = Date.now();
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    assert.ok(Number.isFinite(from) && Number.isFinite(to), `${cert.validFrom} – ${cert.validTo}`);
    assert.ok(from <= now, `valid already (from ${cert.validFrom})`);
    assert.ok(to - now <= 7 * DAY_MS + 60_000, `short-lived: valid to ${cert.validTo}`);
    assert.ok(to - now > 6 * DAY_MS, `valid for days, not minutes: to ${cert.validTo}`);
    assert.ok(to - from < 8 * DAY_MS, `${cert.validFrom} – ${cert.validTo}`);
  });

  it('the certificate the port presents is the exported one, verified with that file as the only CA', async () => {
    const ca = readFileSync(pem, 'utf8');
    const socket = tlsConnect({ host: '127.0.0.1', port: served!.port, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] });
    try {
      await once(socket, 'secureConnect');
      assert.equal(socket.authorized, true);
      assert.equal(socket.getPeerCertificate().fingerprint256, FINGERPRINT.exec(served!.stdout)![1]);
      assert.equal(socket.alpnProtocol, 'http/1.1');
    } finally {
      socket.destroy();
    }
  });

  it('curl --cacert FILE https://localhost:PORT/healthz, as the README shows it, trusts it', async (t) => {
    if (!requireCommand(t, 'curl', ['--version'])) return;
    const port = served!.port;
    const { curlArgs } = readmeQuickStart();
    const args = curlArgs.map((arg) => (arg === 'lab.pem' ? pem : arg.replace('localhost:8080', `localhost:${port}`)));
    // -q first: no ~/.curlrc; -sS: quiet but errors shown; a deadline of its own.
    const curl = (...more: string[]): Promise<Ran> => runCommand('curl', ['-q', '-sS', '--max-time', '10', ...more]);
    const trusted = await curl('-w', '\n%{scheme} %{http_code} %{ssl_verify_result}', ...args);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal(trusted.stdout.toLowerCase(), 'ok\n\nhttps 200 0', 'the body, over https, with the certificate verified (0)');
    // Without the file curl has only the system's CAs, which know nothing of this certificate.
    const untrusted = await curl(`https://localhost:${port}/healthz`);
    assert.equal(untrusted.code, 60, `curl's "peer certificate cannot be authenticated": ${untrusted.stderr}`);
    // And cleartext still works on the same port.
    const plain = await curl(`http://127.0.0.1:${port}/healthz`);
    assert.equal(plain.stdout, 'ok\n');
  });

  it('--tls-cert and --tls-key: prints the certificate\'s fingerprint, not "self-signed", and writes nothing', async () => {
    const banner = await startServe(['--port', '0', '--tls-cert', FIXTURE_CERT, '--tls-key', FIXTURE_KEY]);
    try {
      const printed = FINGERPRINT.exec(banner.stdout);
      assert.ok(printed, banner.stdout);
      assert.equal(printed[1], new X509Certificate(readFileSync(FIXTURE_CERT)).fingerprint256);
      assert.equal(printed[2], '');
      assert.doesNotMatch(banner.stdout, /certificate written/);
    } finally {
      assert.equal(await stopServe(banner.child), 0);
    }
  });

  describe('certificate and key files it refuses, exit 2, naming the file', () => {
    let otherKey: KeyObject;
    before(() => { otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey; });

    it('a key that is not the certificate\'s (another RSA key)', async () => {
      const keyFile = join(dir, 'other-key.pem');
      writeFileSync(keyFile, otherKey.export({ type: 'pkcs8', format: 'pem' }));
      const stderr = await refused(['--tls-cert', FIXTURE_CERT, '--tls-key', keyFile]);
      assert.equal(stderr, `switchyard: --tls-key ${keyFile} does not match the certificate in --tls-cert ${FIXTURE_CERT}\n`);
    });

    it('a key file that does not exist', async () => {
      const keyFile = join(dir, 'no-such-key.pem');
      const stderr = await refused(['--tls-cert', FIXTURE_CERT, '--tls-key', keyFile]);
      assert.match(stderr, new RegExp(`cannot read --tls-key ${escape(keyFile)} \\(ENOENT\\)`));
    });

    it('a key file that is not a PEM private key: text, DER, an encrypted key, the certificate itself', async () => {
      const cases: Array<[string, string | Buffer]> = [
        ['text.pem', 'this is not a key\n'],
        ['key.der', otherKey.export({ type: 'pkcs8', format: 'der' })],
        ['encrypted.pem', otherKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })],
        ['cert-as-key.pem', readFileSync(FIXTURE_CERT)],
      ];
      for (const [name, content] of cases) {
        const keyFile = join(dir, name);
        writeFileSync(keyFile, content);
        const stderr = await refused(['--tls-cert', FIXTURE_CERT, '--tls-key', keyFile]);
        assert.match(stderr, new RegExp(`--tls-key ${escape(keyFile)} holds no usable private key \\(expected an unencrypted PEM key`), name);
      }
    });

    it('an export file that cannot be written', async () => {
      const exportFile = join(dir, 'no-such-dir', 'lab.pem');
      const stderr = await refused(['--tls-self-signed', '--tls-export-cert', exportFile]);
      assert.match(stderr, new RegExp(`cannot write --tls-export-cert ${escape(exportFile)} \\(ENOENT\\)`));
    });
  });

  it('the top-level help lists the TLS flags on serve\'s usage lines', async () => {
    const help = await finish(runCli(['--help']));
    assert.equal(help.code, 0);
    const usage = /^ {2}switchyard serve [^]*?(?=^ {2}switchyard connect)/m.exec(help.stdout)?.[0] ?? '';
    for (const flag of ['--tls-cert FILE', '--tls-key FILE', '--tls-self-signed', '--tls-export-cert FILE']) assert.ok(usage.includes(flag), flag);
  });
});
