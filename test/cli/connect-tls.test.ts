import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, createServer as createTlsServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { describeSocketError, parseTarget } from '../../src/cli/upgrade-client.js';
import type { SwitchyardServer } from '../../src/server/server.js';
import { withLab } from '../helpers/lab.js';
import { run, STACK_TRACE } from '../helpers/cli.js';

/*
 * The CLI clients over TLS, against a real lab. The lab does not terminate TLS itself here: a node:tls
 * server with the test certificate (CN=localhost, SAN DNS:localhost, IP:127.0.0.1) decrypts each
 * connection and pipes it, both ways, into a lab on another port. So wss:// echo, --upgrade echo over
 * https:// and probe all see a real switchyard behind real TLS.
 */

const FIXTURES = new URL('../../../test/fixtures/tls/', import.meta.url);
const CERT = fileURLToPath(new URL('cert.pem', FIXTURES));
const KEY = fileURLToPath(new URL('key.pem', FIXTURES));
const FINGERPRINT = new X509Certificate(readFileSync(CERT)).fingerprint256;

interface TlsFront {
  readonly port: number;
  /** The ALPN protocol each connection agreed, in order. */
  readonly alpn: Array<string | false>;
  /** The SNI name each connection sent (false: none). */
  readonly servernames: Array<string | false>;
}

/** A lab behind a TLS terminator on 127.0.0.1:0; both stopped after `body`. */
async function withTlsLab(body: (front: TlsFront, lab: SwitchyardServer) => Promise<void>): Promise<void> {
  await withLab({}, async (lab) => {
    const sockets = new Set<Socket>();
    const alpn: Array<string | false> = [];
    const servernames: Array<string | false> = [];
    // allowHalfOpen: the client's FIN (end of stdin) must reach the lab without ending our answer early.
    const server = createTlsServer({ cert: readFileSync(CERT), key: readFileSync(KEY), ALPNProtocols: ['http/1.1'], allowHalfOpen: true }, (tls) => {
      alpn.push(tls.alpnProtocol ?? false);
      servernames.push((tls as { servername?: string | false }).servername ?? false);
      const plain = netConnect({ host: '127.0.0.1', port: lab.port, allowHalfOpen: true });
      for (const s of [tls, plain]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      }
      tls.on('error', () => plain.destroy());
      plain.on('error', () => tls.destroy());
      tls.on('close', () => plain.destroy());
      plain.on('close', () => tls.destroy());
      tls.pipe(plain);
      plain.pipe(tls);
    });
    // A client that rejects our certificate aborts the handshake: that is the point of some tests. With
    // allowHalfOpen its TCP socket would stay half-open and hold server.close() forever, so track them all.
    server.on('tlsClientError', (_error, tls) => tls.destroy());
    server.on('connection', (raw: Socket) => {
      sockets.add(raw);
      raw.on('close', () => sockets.delete(raw));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      await body({ port: (server.address() as { port: number }).port, alpn, servernames }, lab);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
}

const WARNING = "switchyard: WARNING --insecure: the server's certificate is not verified; anyone on the path can read and change this connection";

describe('switchyard connect wss:// and https:// (CLI, TLS)', () => {
  it('echo hi | connect --cacert cert.pem wss://localhost/echo prints hi and exits 0, with SNI and ALPN http/1.1', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['connect', '--cacert', CERT, `wss://localhost:${front.port}/echo`], 'hi\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'hi\n');
      assert.equal(result.stderr, '');
      assert.deepEqual(front.alpn, ['http/1.1']);
      assert.deepEqual(front.servernames, ['localhost']);
    });
  });

  it('sends no SNI for an IP address, and the certificate verifies by its IP SAN', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['connect', '--cacert', CERT, `wss://127.0.0.1:${front.port}/echo`], 'by address\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'by address\n');
      assert.deepEqual(front.servernames, [false]);
    });
  });

  it('without --cacert: exit 1, saying the certificate is self-signed and how to fix it', async () => {
    await withTlsLab(async (front, lab) => {
      const result = await run(['connect', `wss://localhost:${front.port}/echo`], 'hi\n');
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr,
        `switchyard: TLS with localhost:${front.port} failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT); ` +
        'trust it with --cacert FILE, or skip verification with --insecure\n');
      assert.equal([...lab.table.records()].length, 0, 'nothing reached the lab');
    });
  });

  it('--insecure connects, and says loudly on stderr that nothing was verified', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['connect', '--insecure', `wss://localhost:${front.port}/echo`], 'unverified\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'unverified\n');
      assert.equal(result.stderr, WARNING + '\n');
    });
  });

  it('-k --verbose shows the certificate anyway: subject, issuer, fingerprint and the error Node reported', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['connect', '-k', '--verbose', `wss://localhost:${front.port}/echo`], 'hi\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr.split('\n')[0], WARNING);
      const line = result.stderr.split('\n').find((l) => l.startsWith('* tls: certificate NOT verified'));
      assert.ok(line, result.stderr);
      assert.equal(line,
        `* tls: certificate NOT verified (--insecure): subject CN=localhost, issuer CN=localhost, sha256 ${FINGERPRINT}; ` +
        'Node reported DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)');
    });
  });

  it('--verbose prints the tls line right after the connected line: version, cipher, alpn http/1.1, CN and fingerprint', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['connect', '--verbose', '--cacert', CERT, `wss://localhost:${front.port}/echo`], 'hi\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'hi\n');
      const lines = result.stderr.split('\n');
      const at = lines.findIndex((l) => l.startsWith('* connected: tcp 127.0.0.1:'));
      assert.ok(at >= 0, result.stderr);
      assert.match(lines[at + 1]!, /^\* tls: TLSv1\.[23] TLS_\w+|^\* tls: TLSv1\.[23] [A-Z0-9-]+/);
      assert.ok(lines[at + 1]!.endsWith(`, alpn http/1.1, server certificate CN=localhost (sha256 ${FINGERPRINT})`), lines[at + 1]);
      assert.equal(lines[at + 2], '> GET /echo HTTP/1.1', 'a verified certificate needs no second line');
      assert.doesNotMatch(result.stderr, /NOT verified|WARNING/);
    });
  });

  it('--upgrade echo https://… pipes raw bytes through TLS, half-closes, and prints the echo', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['connect', '--upgrade', 'echo', '--cacert', CERT, `https://localhost:${front.port}/`], 'hello raw\nsecond line\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'hello raw\nsecond line\n');
      assert.deepEqual(front.alpn, ['http/1.1']);
    });
  });

  it('--upgrade echo -k --verbose over https shows the tls lines too', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['connect', '--upgrade', 'echo', '-k', '--verbose', `https://127.0.0.1:${front.port}/`], 'x\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'x\n');
      assert.match(result.stderr, /^\* tls: .*, alpn http\/1\.1, server certificate CN=localhost \(sha256 [0-9A-F:]{95}\)$/m);
      assert.match(result.stderr, /^\* tls: certificate NOT verified \(--insecure\): .*DEPTH_ZERO_SELF_SIGNED_CERT/m);
    });
  });

  it('a plain server behind wss://: exit 1 saying it does not speak TLS', async () => {
    await withLab({}, async (lab) => {
      const result = await run(['connect', '--cacert', CERT, `wss://127.0.0.1:${lab.port}/echo`], 'hi\n');
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`^switchyard: .*127\\.0\\.0\\.1:${lab.port}.*(TLS|tls).*ws:// or http://`));
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    });
  });

  it('exit 2 for --cacert and --insecure misuse, each one line naming the problem', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['connect', '--cacert', '/no/such/ca.pem', 'wss://127.0.0.1:1/echo'], /cannot read --cacert file "\/no\/such\/ca\.pem": no such file/],
      [['connect', '--cacert', KEY, 'wss://127.0.0.1:1/echo'], new RegExp(`--cacert file "${KEY.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" holds no PEM certificate`)],
      [['connect', '--cacert', CERT, 'ws://127.0.0.1:1/echo'], /--cacert is for https:\/\/ and wss:\/\/ URLs; ws:\/\/127\.0\.0\.1:1\/echo is not encrypted/],
      [['connect', '--insecure', 'ws://127.0.0.1:1/echo'], /--insecure is for https:\/\/ and wss:\/\/ URLs/],
      [['connect', '--upgrade', 'echo', '-k', 'http://127.0.0.1:1/'], /--insecure is for https:\/\/ and wss:\/\/ URLs/],
      [['connect', '--cacert', CERT, '-k', 'wss://127.0.0.1:1/echo'], /--cacert and --insecure contradict each other/],
      [['probe', '--cacert', '/no/such/ca.pem', 'wss://127.0.0.1:1/echo'], /cannot read --cacert file "\/no\/such\/ca\.pem"/],
      [['probe', '--insecure', 'http://127.0.0.1:1/'], /--insecure is for https:\/\/ and wss:\/\/ URLs/],
    ];
    for (const [args, message] of cases) {
      const result = await run(args, 'hi\n');
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.doesNotMatch(result.stderr, STACK_TRACE);
      assert.doesNotMatch(result.stderr, /WARNING/, 'no warning for a connection that never happens');
    }
  });
});

describe('switchyard probe wss:// and https:// (CLI, TLS)', () => {
  it('probe --cacert wss://…/echo shows the TLS line, the verification and the 101, and exits 0', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['probe', '--cacert', CERT, `wss://localhost:${front.port}/echo`]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(result.stderr, '');
      const lines = result.stdout.split('\n');
      const at = lines.findIndex((l) => l.startsWith('connected: tcp 127.0.0.1:'));
      assert.ok(at >= 0, result.stdout);
      assert.match(lines[at + 1]!, /^tls: TLSv1\.[23] /);
      assert.ok(lines[at + 1]!.endsWith(`, alpn http/1.1, server certificate CN=localhost (sha256 ${FINGERPRINT})`), lines[at + 1]);
      assert.equal(lines[at + 2], `  ✓ certificate verified against the CA in --cacert ${CERT}`);
      assert.match(result.stdout, /^ {2}< HTTP\/1\.1 101 Switching Protocols\s+✓ 101/m);
      assert.match(result.stdout, /^verdict: ✓ upgraded to websocket; every check passed$/m);
    });
  });

  it('probe -k https:// --upgrade echo marks the certificate as not verified and still probes', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['probe', '-k', '--upgrade', 'echo', `https://localhost:${front.port}/`]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(result.stderr, WARNING + '\n');
      assert.match(result.stdout, /^ {2}✗ certificate NOT verified \(--insecure\): subject CN=localhost, issuer CN=localhost, .*DEPTH_ZERO_SELF_SIGNED_CERT/m);
      assert.match(result.stdout, /^verdict: ✓ upgraded to echo; every check passed$/m);
    });
  });

  it('probe wss:// without --cacert: exit 1 with the TLS reason and the hint', async () => {
    await withTlsLab(async (front) => {
      const result = await run(['probe', `wss://localhost:${front.port}/echo`]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /failed: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\); trust it with --cacert FILE, or skip verification with --insecure$/m);
    });
  });
});

describe('TLS failure messages', () => {
  it('a certificate for another host names the host, the certificate\'s names and the fixes', () => {
    const target = parseTarget('wss://example.com:8443/echo', ['wss:']);
    const cert = new X509Certificate(readFileSync(CERT)).toLegacyObject();
    // Node's own check, as tls.connect runs it: a real ERR_TLS_CERT_ALTNAME_INVALID.
    const error = checkServerIdentity('example.com', cert);
    assert.ok(error);
    assert.equal(describeSocketError(error, target, { kind: 'cacert', file: CERT, certificates: [] }),
      'TLS with example.com:8443 failed: the certificate is not for host name example.com (ERR_TLS_CERT_ALTNAME_INVALID); ' +
      "it names DNS:localhost, IP Address:127.0.0.1; connect by one of its names, or skip verification with --insecure");
  });

  it('with --cacert, an unverifiable certificate says the given CA did not sign it', () => {
    const target = parseTarget('wss://localhost:8443/', ['wss:']);
    const error = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    assert.equal(describeSocketError(error, target, { kind: 'cacert', file: 'ca.pem', certificates: [] }),
      'TLS with localhost:8443 failed: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE); ' +
      "the CA in --cacert ca.pem did not sign this certificate; give its issuer's certificate, or skip verification with --insecure");
  });
});
