/**
 * The self-signed certificate, judged by others than its writer: node:crypto's X509Certificate, the
 * openssl binary (text dump and `verify`), real handshakes with node:tls on 127.0.0.1 and ::1, curl, and
 * Python's ssl. The DER is also taken apart with our reader and put back together, which only gives the
 * same bytes if every length and field was written the one way DER allows.
 *
 * openssl and curl: missing ones skip these tests locally and fail them under CI=true (the CI script
 * installs both). python3 is optional and only ever skips.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { concat, type DerElement, encodeIdentifier, readChildren, readElement, tlv } from '../../../src/accept-loop/tls/der.js';
import { createSelfSignedCertificate, type SelfSignedCertificate } from '../../../src/accept-loop/tls/self-signed-certificate.js';
import { UsageError } from '../../../src/errors.js';
import { requireCommand } from '../../helpers/require-command.js';

const run = promisify(execFile);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** One certificate with the defaults for most tests; making a key is cheap, but one is enough. */
const made = createSelfSignedCertificate();
const x509 = new X509Certificate(made.certPem);

let dir: string;
let certFile: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-x509-'));
  certFile = join(dir, 'cert.pem');
  await writeFile(certFile, made.certPem);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('X509Certificate reads it as asked', () => {
  it('subject and issuer are CN=localhost', () => {
    assert.equal(x509.subject, 'CN=localhost');
    assert.equal(x509.issuer, 'CN=localhost');
  });

  it('subjectAltName holds the DNS name and both loopback IPs, in order', () => {
    assert.equal(x509.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  });

  it('the names check out, and others do not', () => {
    assert.equal(x509.checkHost('localhost'), 'localhost');
    assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x509.checkIP('::1'), '::1');
    assert.equal(x509.checkHost('example.com'), undefined);
    assert.equal(x509.checkIP('127.0.0.2'), undefined);
  });

  it('it is signed by its own key, and the key PEM is that key', () => {
    assert.equal(x509.verify(x509.publicKey), true);
    assert.equal(x509.checkPrivateKey(createPrivateKey(made.keyPem)), true);
    // OpenSSL's X509_check_issued also asks that the issuer may sign certificates (keyUsage keyCertSign),
    // which a leaf may not: the certificate is trusted because the client is handed it as the anchor.
    assert.equal(x509.checkIssued(x509), false);
    assert.equal(x509.publicKey.asymmetricKeyType, 'ec');
    assert.equal(x509.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.match(made.keyPem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
  });

  it('not a CA, and for serverAuth only', () => {
    assert.equal(x509.ca, false);
    assert.deepEqual(x509.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  });

  it('fingerprint256, DER and PEM agree with node:crypto', () => {
    assert.equal(made.fingerprint256, x509.fingerprint256);
    assert.match(made.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.deepEqual(new Uint8Array(x509.raw), made.der);
    assert.match(made.certPem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/);
  });

  it('spkiSha256Base64 is the SHA-256 of the SPKI node:crypto reads out of the certificate', () => {
    const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
    assert.equal(made.spkiSha256Base64, createHash('sha256').update(spki).digest('base64'));
    assert.match(made.spkiSha256Base64, /^[A-Za-z0-9+/]{43}=$/);
  });

  it('the serial is positive, at most 16 octets, and differs between certificates', () => {
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const serial = new X509Certificate(createSelfSignedCertificate().certPem).serialNumber;
      assert.ok(serial.length <= 32 && /^[0-9A-F]+$/.test(serial), serial);
      assert.ok(Number.parseInt(serial.padStart(32, '0')[0]!, 16) < 8, `high bit set in ${serial}`);
      assert.notEqual(BigInt(`0x${serial}`), 0n);
      serials.add(serial);
    }
    assert.equal(serials.size, 20);
  });

  it('each call makes a new key', () => {
    assert.notEqual(createSelfSignedCertificate().spkiSha256Base64, made.spkiSha256Base64);
  });
});

describe('validity', () => {
  it('defaults: from an hour before now, for 7 days; milliseconds cut, as the DER has whole seconds', () => {
    const now = new Date('2030-03-04T05:06:07.890Z');
    const cert = createSelfSignedCertificate({ now });
    const read = new X509Certificate(cert.certPem);
    assert.equal(read.validFrom, 'Mar  4 04:06:07 2030 GMT');
    assert.equal(read.validTo, 'Mar 11 05:06:07 2030 GMT');
    assert.deepEqual(cert.notBefore, new Date('2030-03-04T04:06:07Z'));
    assert.deepEqual(cert.notAfter, new Date('2030-03-11T05:06:07Z'));
  });

  it('the default now is the current time', () => {
    const before = Date.now();
    assert.ok(made.notBefore.getTime() <= before - HOUR && made.notBefore.getTime() > before - HOUR - 60_000);
    assert.equal(made.notAfter.getTime() - made.notBefore.getTime(), 7 * DAY + HOUR);
    assert.equal(new Date(x509.validFrom).getTime(), made.notBefore.getTime());
    assert.equal(new Date(x509.validTo).getTime(), made.notAfter.getTime());
  });

  it('validForMs sets notAfter', () => {
    const now = new Date('2031-01-01T00:00:00Z');
    const cert = createSelfSignedCertificate({ now, validForMs: 90 * 60 * 1000 });
    assert.equal(new X509Certificate(cert.certPem).validTo, 'Jan  1 01:30:00 2031 GMT');
  });

  it('across 2050: notBefore as UTCTime, notAfter as GeneralizedTime, both read right (RFC 5280 §4.1.2.5)', () => {
    const cert = createSelfSignedCertificate({ now: new Date('2049-12-30T00:00:00Z') });
    const read = new X509Certificate(cert.certPem);
    assert.equal(read.validFrom, 'Dec 29 23:00:00 2049 GMT');
    assert.equal(read.validTo, 'Jan  6 00:00:00 2050 GMT');
    const validity = field(cert.der, [0, 4]);
    const [notBefore, notAfter] = childrenOf(validity);
    assert.equal(notBefore!.tag, 0x17);
    assert.equal(notAfter!.tag, 0x18);
  });
});

describe('other names', () => {
  it('IPs of both families go in as iPAddress, everything else as dNSName; the first name is the CN', () => {
    const cert = createSelfSignedCertificate({ names: ['lab.test', '10.0.0.1', '*.lab.test', '2001:db8::1', '::ffff:192.0.2.1', 'fe80::'] });
    const read = new X509Certificate(cert.certPem);
    assert.equal(read.subject, 'CN=lab.test');
    assert.equal(read.issuer, 'CN=lab.test');
    assert.equal(read.subjectAltName, 'DNS:lab.test, IP Address:10.0.0.1, DNS:*.lab.test, IP Address:2001:DB8:0:0:0:0:0:1, '
      + 'IP Address:0:0:0:0:0:FFFF:C000:201, IP Address:FE80:0:0:0:0:0:0:0');
    assert.equal(read.checkHost('lab.test'), 'lab.test');
    assert.equal(read.checkHost('a.lab.test'), '*.lab.test'); // Node answers with the name that matched
    assert.equal(read.checkIP('2001:db8::1'), '2001:db8::1');
    assert.equal(read.checkIP('10.0.0.1'), '10.0.0.1');
    assert.equal(read.checkHost('localhost'), undefined);
    assert.equal(read.verify(read.publicKey), true);
  });

  it('bad options are a UsageError', () => {
    const bad = (code: string) => (error: unknown): boolean => error instanceof UsageError && error.code === code;
    assert.throws(() => createSelfSignedCertificate({ names: [] }), bad('ERR_BAD_CERTIFICATE_OPTIONS'));
    assert.throws(() => createSelfSignedCertificate({ names: [''] }), bad('ERR_BAD_CERTIFICATE_OPTIONS'));
    assert.throws(() => createSelfSignedCertificate({ names: ['fe80::1%eth0'] }), bad('ERR_BAD_CERTIFICATE_OPTIONS'));
    assert.throws(() => createSelfSignedCertificate({ validForMs: 0 }), bad('ERR_BAD_CERTIFICATE_OPTIONS'));
    assert.throws(() => createSelfSignedCertificate({ validForMs: Number.NaN }), bad('ERR_BAD_CERTIFICATE_OPTIONS'));
    assert.throws(() => createSelfSignedCertificate({ now: new Date(Number.NaN) }), bad('ERR_BAD_CERTIFICATE_OPTIONS'));
    assert.throws(() => createSelfSignedCertificate({ names: ['bücher.example'] }), bad('ERR_DER_BAD_STRING'));
  });
});

describe('the DER, taken apart', () => {
  it('is canonical: re-encoding every element from its parts gives the same bytes', () => {
    const top = element(made.der, 0);
    assert.equal(top.end, made.der.length);
    assert.deepEqual(reencode(top), made.der);
  });

  it('has the fields RFC 5280 §4.1 lists, in order, with v3 and ecdsa-with-SHA256 (no parameters)', () => {
    const [tbs, algorithm, signature] = childrenOf(element(made.der, 0));
    assert.deepEqual(childrenOf(tbs!).map((child) => child.tag), [0xa0, 0x02, 0x30, 0x30, 0x30, 0x30, 0x30, 0xa3]);
    assert.equal(hex(field(made.der, [0, 0]).contents), '020102');
    const ecdsaWithSha256 = '06082A8648CE3D040302';
    assert.equal(hex(algorithm!.contents), ecdsaWithSha256);
    assert.equal(hex(field(made.der, [0, 2]).contents), ecdsaWithSha256);
    assert.equal(signature!.tag, 0x03);
    assert.equal(signature!.contents[0], 0);
  });

  it('extensions: which, in what order, critical where Go marks them; SKI is the SHA-1 of the key bits', () => {
    const extensions = childrenOf(childrenOf(field(made.der, [0, 7]))[0]!).map((ext) => {
      const parts = childrenOf(ext);
      return { oid: hex(parts[0]!.contents), critical: parts.length === 3, value: parts[parts.length - 1]!.contents };
    });
    assert.deepEqual(extensions.map(({ oid, critical }) => [oid, critical]), [
      ['551D0F', true], // keyUsage
      ['551D25', false], // extKeyUsage
      ['551D13', true], // basicConstraints
      ['551D0E', false], // subjectKeyIdentifier
      ['551D11', false], // subjectAltName
    ]);
    assert.equal(hex(extensions[0]!.value), '03020780'); // digitalSignature only
    assert.equal(hex(extensions[2]!.value), '3000'); // CA:FALSE by default, so nothing in the SEQUENCE
    const { x, y } = x509.publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.of(4), Buffer.from(x!, 'base64url'), Buffer.from(y!, 'base64url')]);
    assert.equal(hex(extensions[3]!.value), `0414${createHash('sha1').update(point).digest('hex').toUpperCase()}`);
  });
});

describe('openssl', () => {
  it('x509 -noout -text parses it and shows the profile', (t) => {
    if (!requireCommand(t, 'openssl', ['version'])) return;
    const dump = runSync('openssl', ['x509', '-noout', '-text', '-in', certFile]);
    for (const line of [
      'Version: 3 (0x2)',
      'Signature Algorithm: ecdsa-with-SHA256',
      'Issuer: CN = localhost',
      'Subject: CN = localhost',
      'NIST CURVE: P-256',
      'X509v3 Key Usage: critical',
      'Digital Signature',
      'TLS Web Server Authentication',
      'X509v3 Basic Constraints: critical',
      'CA:FALSE',
      'X509v3 Subject Key Identifier',
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    ]) assert.ok(dump.includes(line), `no "${line}" in:\n${dump}`);
  });

  it('verify -CAfile cert.pem cert.pem says OK', (t) => {
    if (!requireCommand(t, 'openssl', ['version'])) return;
    assert.equal(runSync('openssl', ['verify', '-CAfile', certFile, certFile]).trim(), `${certFile}: OK`);
  });

  it('verify says OK with -x509_strict, as a TLS server, for localhost and 127.0.0.1', (t) => {
    if (!requireCommand(t, 'openssl', ['version'])) return;
    const out = runSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-verify_hostname', 'localhost',
      '-verify_ip', '127.0.0.1', '-CAfile', certFile, certFile]);
    assert.equal(out.trim(), `${certFile}: OK`);
  });

  it('verify also takes a certificate whose notAfter is a GeneralizedTime (after 2049)', async (t) => {
    if (!requireCommand(t, 'openssl', ['version'])) return;
    const cert = createSelfSignedCertificate({ now: new Date('2049-12-30T00:00:00Z') });
    const file = join(dir, 'cert-2050.pem');
    await writeFile(file, cert.certPem);
    const at = String(Date.parse('2050-01-02T00:00:00Z') / 1000);
    assert.equal(runSync('openssl', ['verify', '-x509_strict', '-attime', at, '-CAfile', file, file]).trim(), `${file}: OK`);
  });
});

describe('real handshakes', () => {
  it('node:tls on 127.0.0.1 authorizes it for servername localhost, and for the IP itself', { timeout: 20_000 }, async () => {
    const server = await tlsServer('127.0.0.1');
    try {
      const port = (server.address() as AddressInfo).port;
      const named = await handshake({ port, host: '127.0.0.1', servername: 'localhost', ca: made.certPem });
      assert.equal(named.authorized, true);
      assert.equal(named.greeting, 'hello over tls\n');
      const byIp = await handshake({ port, host: '127.0.0.1', ca: made.certPem });
      assert.equal(byIp.authorized, true);
    } finally {
      server.close();
    }
  });

  it('node:tls refuses it for a name it does not hold, and without it as a CA', { timeout: 20_000 }, async () => {
    const server = await tlsServer('127.0.0.1');
    try {
      const port = (server.address() as AddressInfo).port;
      await assert.rejects(handshake({ port, host: '127.0.0.1', servername: 'example.com', ca: made.certPem }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      await assert.rejects(handshake({ port, host: '127.0.0.1', servername: 'localhost', ca: createSelfSignedCertificate().certPem }),
        { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    } finally {
      server.close();
    }
  });

  it('node:tls on ::1 authorizes it too (skipped if IPv6 loopback cannot be bound)', { timeout: 20_000 }, async (t) => {
    let server: Awaited<ReturnType<typeof tlsServer>>;
    try {
      server = await tlsServer('::1');
    } catch (error) {
      t.skip(`cannot listen on ::1 (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      return;
    }
    try {
      const port = (server.address() as AddressInfo).port;
      assert.equal((await handshake({ port, host: '::1', servername: 'localhost', ca: made.certPem })).authorized, true);
      assert.equal((await handshake({ port, host: '::1', ca: made.certPem })).authorized, true);
    } finally {
      server.close();
    }
  });

  it('curl --cacert FILE https://localhost:PORT/ gets the body (and https://127.0.0.1:PORT/)', { timeout: 30_000 }, async (t) => {
    if (!requireCommand(t, 'curl', ['--version'])) return;
    const server = createHttpsServer({ cert: made.certPem, key: made.keyPem }, (_request, response) => response.end('hello from switchyard\n'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      // --resolve pins localhost to the address listened on; the name checked stays "localhost".
      const byName = await run('curl', ['--silent', '--show-error', '--fail', '--max-time', '10', '--cacert', certFile,
        '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/`]);
      assert.equal(byName.stdout, 'hello from switchyard\n');
      const byIp = await run('curl', ['--silent', '--show-error', '--fail', '--max-time', '10', '--cacert', certFile, `https://127.0.0.1:${port}/`]);
      assert.equal(byIp.stdout, 'hello from switchyard\n');
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });

  it("Python's ssl, with the PEM as cafile, completes the handshake for localhost (skipped without python3)", { timeout: 30_000 }, async (t) => {
    const probe = spawnSync('python3', ['--version'], { stdio: 'ignore' });
    if (probe.error !== undefined || probe.status !== 0) {
      t.skip('python3 is not installed');
      return;
    }
    const server = await tlsServer('127.0.0.1');
    try {
      const port = (server.address() as AddressInfo).port;
      const script = [
        'import socket, ssl, sys',
        'context = ssl.create_default_context(cafile=sys.argv[1])',
        'with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10) as raw:',
        '    with context.wrap_socket(raw, server_hostname="localhost") as tls:',
        '        print(dict(x[0] for x in tls.getpeercert()["subject"])["commonName"], tls.recv(100).decode(), end="")',
      ].join('\n');
      const { stdout } = await run('python3', ['-c', script, certFile, String(port)]);
      assert.equal(stdout, 'localhost hello over tls\n');
    } finally {
      server.close();
    }
  });
});

// ── helpers ──────────────────────────────────────────────────────────────────────────────────────────

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();

function element(bytes: Uint8Array, offset: number): DerElement {
  const read = readElement(bytes, offset);
  assert.equal(read.type, 'element', JSON.stringify(read));
  return (read as { element: DerElement }).element;
}

function childrenOf(parent: DerElement): readonly DerElement[] {
  const walked = readChildren(parent.contents);
  assert.equal(walked.type, 'children', JSON.stringify(walked));
  return (walked as { children: readonly DerElement[] }).children;
}

/** The element reached from the Certificate by child indexes, e.g. [0, 4] for tbsCertificate.validity. */
function field(der: Uint8Array, path: readonly number[]): DerElement {
  let at = element(der, 0);
  for (const index of path) at = childrenOf(at)[index]!;
  return at;
}

/** Rebuilds an element from its parts; constructed ones from their rebuilt children, so every length is redone. */
function reencode(found: DerElement): Uint8Array {
  const contents = found.constructed ? concat(childrenOf(found).map(reencode)) : found.contents;
  return tlv(encodeIdentifier(found.tagClass, found.constructed, found.tagNumber), contents);
}


function runSync(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** A TLS server with the default certificate that greets each client and closes. */
async function tlsServer(host: string): Promise<ReturnType<typeof createTlsServer>> {
  const server = createTlsServer({ cert: made.certPem, key: made.keyPem }, (socket) => {
    socket.on('error', () => {});
    socket.end('hello over tls\n');
  });
  server.on('tlsClientError', () => {});
  server.listen(0, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => { throw error; })]);
  return server;
}

/** Connects, waits for the greeting, and says whether the peer was authorized; rejects on a verification error. */
async function handshake(options: ConnectionOptions): Promise<{ authorized: boolean; greeting: string }> {
  const socket: TLSSocket = tlsConnect(options);
  try {
    await once(socket, 'secureConnect');
    const authorized = socket.authorized;
    let greeting = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => { greeting += chunk; });
    await once(socket, 'end');
    return { authorized, greeting };
  } finally {
    socket.destroy();
  }
}
