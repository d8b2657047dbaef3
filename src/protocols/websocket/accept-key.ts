import { Buffer } from 'node:buffer';
import * as crypto from 'node:crypto';
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { UsageError } from '../../errors.js';

/**
 * The handshake's key and its proof of receipt (RFC 6455 §4.2.2 item 5.4, §1.3): the server
 * concatenates the client's `Sec-WebSocket-Key` (as sent, base64 text) with this GUID, takes the SHA-1
 * and returns it base64-encoded as `Sec-WebSocket-Accept`.
 */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The only version there is (§4.1 item 9, §4.4). */
export const WEBSOCKET_VERSION = '13';

/** Node ≥ 20.12's one-shot digest: no Hash object per handshake (2-3 % of a handshake-bound profile). */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;

export function computeAcceptKey(key: string): string {
  // A valid key is base64 (ASCII), so hashing its UTF-8 and its latin1 bytes is the same thing.
  if (oneShotHash !== undefined && isAscii(key)) return oneShotHash('sha1', key + WEBSOCKET_GUID, 'base64');
  return createHash('sha1').update(key + WEBSOCKET_GUID, 'latin1').digest('base64');
}

const isAscii = (text: string): boolean => /^[\x00-\x7f]*$/.test(text);

/**
 * §4.1: the key is "a randomly selected 16-byte value that has been base64-encoded", and §4.2.1 item 5
 * requires the server to check that it "when decoded, is 16 bytes in length". 16 bytes are always 24
 * characters ending in "==", and the 22nd character carries 2 data bits and 4 zero padding bits, so it
 * is one of A, Q, g, w. Requiring that canonical form is what "strict base64" means here: a decoder
 * like Buffer's silently accepts other lengths, stray characters and non-zero padding bits.
 */
const CLIENT_KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

export function isValidClientKey(key: string): boolean {
  return CLIENT_KEY.test(key);
}

/** A fresh client key (§4.1: "MUST be selected randomly for each connection"). */
export function generateClientKey(randomBytes: (size: number) => Uint8Array = cryptoRandomBytes): string {
  const nonce = randomBytes(16);
  if (nonce.length !== 16) throw new UsageError('ERR_INVALID_NONCE', 'the random source must return 16 bytes');
  return Buffer.from(nonce.buffer, nonce.byteOffset, 16).toString('base64');
}
