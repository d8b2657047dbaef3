/**
 * A self-signed X.509 v3 certificate made in process, with no openssl binary: node:crypto makes the
 * ECDSA P-256 key and signs, `der.ts` writes the certificate around them. It backs
 * `switchyard serve --tls-self-signed`, and is meant to be trusted explicitly by whoever connects
 * (`curl --cacert`, Python's `cafile`, Node's `ca`, Chromium's `--ignore-certificate-errors-spki-list`
 * with `spkiSha256Base64`), not by any public root.
 *
 * How this works. RFC 5280 §4.1: a Certificate is the to-be-signed part (TBSCertificate), the signature
 * algorithm again, and the signature over the DER of the TBSCertificate. The TBSCertificate is built
 * bottom-up from `der.ts` calls that follow the ASN.1 field by field; the SubjectPublicKeyInfo is
 * node:crypto's own SPKI export, used byte for byte, so the key in the certificate is exactly the key
 * node:crypto holds. The profile is that of Go's crypto/x509 `generate_cert` for a leaf that is not a
 * CA: serverAuth only, digitalSignature only, CA:FALSE, the names in subjectAltName. Since issuer and
 * subject are the same name and the signature verifies with the certificate's own key, the one
 * certificate is both the trust anchor a client is given and the leaf the server presents.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import { UsageError } from '../../errors.js';
import {
  bitString,
  boolean,
  DerTag,
  explicit,
  implicit,
  ia5String,
  integer,
  namedBits,
  objectIdentifier,
  octetString,
  readChildren,
  readElement,
  sequence,
  set,
  utf8String,
  x509Time,
} from './der.js';

export interface SelfSignedCertificateOptions {
  /**
   * The names the certificate is good for, all in subjectAltName; the first is also the subject's CN.
   * An entry `net.isIP` accepts is an iPAddress, any other a dNSName. Default: localhost, 127.0.0.1, ::1.
   */
  readonly names?: readonly string[];
  /** How long from `now` until notAfter. Default: 7 days. */
  readonly validForMs?: number;
  /** The time the certificate is made at. Default: the current time. */
  readonly now?: Date;
}

export interface SelfSignedCertificate {
  /** The certificate as PEM (`-----BEGIN CERTIFICATE-----`): what a client is told to trust. */
  readonly certPem: string;
  /** The private key as unencrypted PKCS #8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  readonly keyPem: string;
  /** The certificate's DER. */
  readonly der: Uint8Array;
  /** SHA-256 of the DER as `AB:CD:…`, uppercase, the way `X509Certificate.fingerprint256` prints it. */
  readonly fingerprint256: string;
  /** Base64 SHA-256 of the DER SubjectPublicKeyInfo: what Chromium's `--ignore-certificate-errors-spki-list` takes. */
  readonly spkiSha256Base64: string;
  /** The validity period as written in the certificate (whole seconds). */
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const DEFAULT_NAMES = ['localhost', '127.0.0.1', '::1'] as const;
const DEFAULT_VALID_FOR_MS = 7 * 24 * 60 * 60 * 1000;
/** Clients whose clock runs a little behind ours would otherwise see a certificate "not yet valid". */
const CLOCK_SKEW_MS = 60 * 60 * 1000;

const OID = {
  /** RFC 5758 §3.2. */
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** KeyUsage bit numbers (RFC 5280 §4.2.1.3). */
const KEY_USAGE_DIGITAL_SIGNATURE = 0;

/** GeneralName's context tags (RFC 5280 §4.2.1.6). */
const GENERAL_NAME_DNS = 2;
const GENERAL_NAME_IP = 7;

/** Makes a fresh key and a certificate for it, signed by itself. */
export function createSelfSignedCertificate(options: SelfSignedCertificateOptions = {}): SelfSignedCertificate {
  const names = options.names ?? DEFAULT_NAMES;
  if (names.length === 0) throw new UsageError('ERR_BAD_CERTIFICATE_OPTIONS', 'a certificate needs at least one name');
  const validForMs = options.validForMs ?? DEFAULT_VALID_FOR_MS;
  if (!Number.isFinite(validForMs) || validForMs <= 0) {
    throw new UsageError('ERR_BAD_CERTIFICATE_OPTIONS', `validForMs must be a positive number, got ${String(validForMs)}`);
  }
  const now = options.now ?? new Date();
  if (Number.isNaN(now.getTime())) throw new UsageError('ERR_BAD_CERTIFICATE_OPTIONS', 'now is an invalid Date');
  // RFC 5280 §4.1.2.5.1/2: the times carry whole seconds, so the dates handed back are cut the same way.
  const notBefore = wholeSeconds(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = wholeSeconds(now.getTime() + validForMs);
  const alternativeNames = names.map(generalName);

  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  // RFC 5280 §4.2.1.2, method (1): the key identifier is the SHA-1 of the subjectPublicKey BIT STRING's
  // value (without tag, length and unused-bits octet), so any tool can recompute it from the key.
  const keyIdentifier = sha(1, subjectPublicKeyBits(spki));

  // RFC 5758 §3.2: for ecdsa-with-SHA256 the parameters field MUST be absent (not NULL).
  const signatureAlgorithm = sequence(objectIdentifier(OID.ecdsaWithSha256));
  // RFC 5280 §4.1.2.4/§4.1.2.6: issuer and subject are the same Name in a self-signed certificate, and
  // a path builder matches them byte for byte, so both come from the one encoding. UTF8String is the
  // DirectoryString §4.1.2.4 asks new certificates to use.
  const name = sequence(set(sequence(objectIdentifier(OID.commonName), utf8String(names[0]!))));

  const tbsCertificate = sequence(
    explicit(0, integer(2n)), // RFC 5280 §4.1.2.1: v3 (value 2), since the certificate has extensions.
    integer(serialNumber()),
    signatureAlgorithm, // RFC 5280 §4.1.2.3: MUST equal the outer signatureAlgorithm.
    name,
    sequence(x509Time(notBefore), x509Time(notAfter)),
    name,
    spki,
    explicit(3, sequence(
      // RFC 5280 §4.2.1.3: an ECDSA key only signs (the handshake); critical, so no one uses it otherwise.
      extension(OID.keyUsage, true, namedBits([KEY_USAGE_DIGITAL_SIGNATURE])),
      // RFC 5280 §4.2.1.12: a TLS server certificate and nothing else (not client auth, not code signing).
      extension(OID.extKeyUsage, false, sequence(objectIdentifier(OID.serverAuth))),
      // RFC 5280 §4.2.1.9: cA defaults to FALSE and DER omits a default, so the SEQUENCE is empty; the
      // extension is critical so that no verifier treats this certificate as able to issue others.
      extension(OID.basicConstraints, true, sequence()),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier)),
      // RFC 5280 §4.2.1.6: the names clients check (RFC 6125 no longer looks at the CN); not critical
      // because the subject is not empty. authorityKeyIdentifier is left out, as Go does for a
      // self-signed certificate: §4.2.1.1 makes it optional exactly there.
      extension(OID.subjectAltName, false, sequence(...alternativeNames)),
    )),
  );
  // node:crypto's ECDSA signature is already the DER ECDSA-Sig-Value RFC 5758 §3.2 asks for.
  const signature = new Uint8Array(sign('sha256', tbsCertificate, privateKey));
  const der = sequence(tbsCertificate, signatureAlgorithm, bitString(signature));

  return {
    certPem: pem('CERTIFICATE', der),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    der,
    fingerprint256: colonHex(sha(256, der)),
    spkiSha256Base64: Buffer.from(sha(256, spki)).toString('base64'),
    notBefore,
    notAfter,
  };
}

/**
 * RFC 5280 §4.1.2.2: positive, at most 20 octets, unique per issuer. Sixteen random octets make a
 * repeat as unlikely as a key collision (a browser that once saw another certificate with the same
 * issuer and serial may refuse this one); the top bit is cleared so the INTEGER stays positive in 16
 * octets, and zero, which some verifiers reject, is drawn again.
 */
function serialNumber(): Uint8Array {
  for (;;) {
    const bytes = new Uint8Array(randomBytes(16));
    bytes[0] &= 0x7f;
    if (bytes.some((byte) => byte !== 0)) return bytes;
  }
}

/** `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }` (§4.1). */
function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  // X.690 §11.5: DER leaves out a field equal to its DEFAULT, so `critical` is written only when true.
  return critical
    ? sequence(objectIdentifier(oid), boolean(true), octetString(value))
    : sequence(objectIdentifier(oid), octetString(value));
}

/**
 * One GeneralName. RFC 5280 §4.2.1.6: an iPAddress is the address in network byte order, 4 octets for
 * IPv4 and 16 for IPv6; a dNSName is an IA5String. A literal IP written as a dNSName would match nothing,
 * since clients compare IPs only against iPAddress entries.
 */
function generalName(name: string): Uint8Array {
  const family = isIP(name);
  if (family === 4) return implicit(GENERAL_NAME_IP, octetString(Uint8Array.from(name.split('.'), Number)));
  if (family === 6) return implicit(GENERAL_NAME_IP, octetString(ipv6Bytes(name)));
  if (name.length === 0) throw new UsageError('ERR_BAD_CERTIFICATE_OPTIONS', 'a certificate name cannot be empty');
  return implicit(GENERAL_NAME_DNS, ia5String(name));
}

/** The 16 octets of an IPv6 address `net.isIP` has accepted: `::` and a dotted IPv4 tail included. */
function ipv6Bytes(address: string): Uint8Array {
  if (address.includes('%')) {
    throw new UsageError('ERR_BAD_CERTIFICATE_OPTIONS', `"${address}": a zone index has no meaning outside this host`);
  }
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(Number.parseInt(piece, 16));
      }
    }
    return out;
  };
  const gap = address.indexOf('::');
  const head = groups(gap === -1 ? address : address.slice(0, gap));
  const tail = gap === -1 ? [] : groups(address.slice(gap + 2));
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** The value of SubjectPublicKeyInfo's `subjectPublicKey` BIT STRING, without its unused-bits octet. */
function subjectPublicKeyBits(spki: Uint8Array): Uint8Array {
  const outer = readElement(spki);
  const fields = outer.type === 'element' ? readChildren(outer.element.contents) : undefined;
  const bits = fields?.type === 'children' ? fields.children[1] : undefined;
  // node:crypto wrote this SPKI a moment ago; anything else is a bug, not input to answer.
  if (bits === undefined || bits.tag !== DerTag.BitString || bits.contents[0] !== 0) {
    throw new Error('node:crypto exported an SPKI that is not SEQUENCE { AlgorithmIdentifier, BIT STRING }');
  }
  return bits.contents.subarray(1);
}

function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function sha(bits: 1 | 256, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(bits === 1 ? 'sha1' : 'sha256').update(bytes).digest());
}

function colonHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

/** RFC 7468 §2: base64 in lines of 64 characters between the BEGIN and END lines. */
function pem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
