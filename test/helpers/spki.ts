import { createHash, X509Certificate } from 'node:crypto';

/**
 * base64(SHA-256(SubjectPublicKeyInfo DER)): the form Chromium's `--ignore-certificate-errors-spki-list`
 * takes, to trust exactly one key (a self-signed test certificate) and nothing else.
 */
export function spkiSha256Base64(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}
