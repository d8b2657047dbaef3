import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestParser } from '../../src/http/request-parser.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { bytesOf as ascii, limitsWith, threeWays } from './drive.js';

/** Small limits so the limit cases stay short enough to split at every offset. */
const limits = { requestLineBytes: 64, headerBytes: 256, bodyBytes: 100, chunkLineBytes: 32 };

const GET = 'GET / HTTP/1.1\r\nHost: h\r\n';
const CHUNKED = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n';

/** [name, input, code, status] — each must give exactly this error however it is chunked. */
const cases: ReadonlyArray<readonly [string, string, string, number]> = [
  // request-line (RFC 9112 §3)
  ['double space after the method', 'GET  / HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_REQUEST_LINE', 400],
  ['double space before the version', 'GET /  HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_VERSION', 400],
  ['tab instead of space', 'GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_REQUEST_LINE', 400],
  ['leading space', ' GET / HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_REQUEST_LINE', 400],
  ['method not a token', 'G(T / HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_REQUEST_LINE', 400],
  ['no version', 'GET /\r\nHost: h\r\n\r\n', 'ERR_INVALID_REQUEST_LINE', 400],
  ['trailing space after the version', 'GET / HTTP/1.1 \r\nHost: h\r\n\r\n', 'ERR_INVALID_VERSION', 400],
  ['lowercase http/1.1', 'GET / http/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_VERSION', 400],
  ['version without minor', 'GET / HTTP/1\r\nHost: h\r\n\r\n', 'ERR_INVALID_VERSION', 400],
  ['garbage version', 'GET / HTTP/x.y\r\nHost: h\r\n\r\n', 'ERR_INVALID_VERSION', 400],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: h\r\n\r\n', 'ERR_VERSION_NOT_SUPPORTED', 505],
  ['HTTP/0.9', 'GET / HTTP/0.9\r\n\r\n', 'ERR_VERSION_NOT_SUPPORTED', 505],
  ['HTTP/3.0', 'GET / HTTP/3.0\r\nHost: h\r\n\r\n', 'ERR_VERSION_NOT_SUPPORTED', 505],
  ['HTTP/1.10 (one digit per part)', 'GET / HTTP/1.10\r\nHost: h\r\n\r\n', 'ERR_INVALID_VERSION', 400],
  ['HTTP/1.2 is 1.1 (RFC 9110 §2.5), so it needs Host', 'GET / HTTP/1.2\r\n\r\n', 'ERR_MISSING_HOST', 400],
  ['request-line too long', `GET /${'a'.repeat(60)} HTTP/1.1\r\nHost: h\r\n\r\n`, 'ERR_REQUEST_LINE_TOO_LONG', 414],
  ['request-line too long, no CRLF yet', `GET /${'a'.repeat(60)}`, 'ERR_REQUEST_LINE_TOO_LONG', 414],
  // request-target (RFC 9112 §3.2)
  ['asterisk form with GET', 'GET * HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['CONNECT with origin form', 'CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['CONNECT without port', 'CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['authority form with GET', 'GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['absolute form with another scheme', 'GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['absolute form with empty host', 'GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['absolute form with userinfo', 'GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['fragment in target', 'GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['bad percent-encoding', 'GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['quote in path', 'GET /a"b HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['non-ASCII byte in target', 'GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  ['NUL in target', 'GET /a\x00 HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_INVALID_TARGET', 400],
  // line endings (RFC 9112 §2.2)
  ['bare LF ending the request-line', 'GET / HTTP/1.1\nHost: h\r\n\r\n', 'ERR_BARE_LF', 400],
  ['bare LF ending a field line', `${GET}X: y\n\r\n\r\n`, 'ERR_BARE_LF', 400],
  ['bare LF, head not finished', `${GET}X: y\nZ`, 'ERR_BARE_LF', 400],
  ['bare LF only', 'GET / HTTP/1.1\n\n', 'ERR_BARE_LF', 400],
  ['bare LF before the request-line', '\nGET / HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_BARE_LF', 400],
  ['bare CR before the request-line', '\rGET / HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_BARE_CR', 400],
  ['bare CR in the target', 'GET /\r HTTP/1.1\r\nHost: h\r\n\r\n', 'ERR_BARE_CR', 400],
  ['bare CR after the version', 'GET / HTTP/1.1\r\r\nHost: h\r\n\r\n', 'ERR_BARE_CR', 400],
  ['bare CR in a value', `${GET}X: a\rb\r\n\r\n`, 'ERR_BARE_CR', 400],
  ['bare CR in a name', `${GET}X\r: a\r\n\r\n`, 'ERR_BARE_CR', 400],
  // field lines (RFC 9112 §5)
  ['obs-fold', `${GET}X: a\r\n b\r\n\r\n`, 'ERR_OBS_FOLD', 400],
  ['obs-fold with tab', `${GET}X: a\r\n\tb\r\n\r\n`, 'ERR_OBS_FOLD', 400],
  ['whitespace before the first field', 'GET / HTTP/1.1\r\n Host: h\r\n\r\n', 'ERR_OBS_FOLD', 400],
  ['space before colon', 'GET / HTTP/1.1\r\nHost : h\r\n\r\n', 'ERR_SPACE_BEFORE_COLON', 400],
  ['tab before colon', `${GET}X\t: y\r\n\r\n`, 'ERR_SPACE_BEFORE_COLON', 400],
  ['empty field name', `${GET}: y\r\n\r\n`, 'ERR_INVALID_FIELD_NAME', 400],
  ['no colon', `${GET}Xy\r\n\r\n`, 'ERR_INVALID_FIELD_NAME', 400],
  ['name not a token', `${GET}X(y): z\r\n\r\n`, 'ERR_INVALID_FIELD_NAME', 400],
  ['NUL in value', `${GET}X: a\x00b\r\n\r\n`, 'ERR_INVALID_FIELD_VALUE', 400],
  ['control character in value', `${GET}X: a\x01b\r\n\r\n`, 'ERR_INVALID_FIELD_VALUE', 400],
  ['DEL in value', `${GET}X: a\x7fb\r\n\r\n`, 'ERR_INVALID_FIELD_VALUE', 400],
  ['tiny fields adding up past headerBytes', `${GET}${'a:\r\n'.repeat(62)}\r\n`, 'ERR_HEADER_SECTION_TOO_LARGE', 431],
  ['field section too large', `${GET}X: ${'v'.repeat(260)}\r\n\r\n`, 'ERR_HEADER_SECTION_TOO_LARGE', 431],
  ['field section too large, not finished', `${GET}X: ${'v'.repeat(260)}`, 'ERR_HEADER_SECTION_TOO_LARGE', 431],
  ['too large, but an earlier line is bad first', `${GET}X : y\r\nZ: ${'v'.repeat(260)}`, 'ERR_SPACE_BEFORE_COLON', 400],
  // Host (RFC 9112 §3.2)
  ['missing Host', 'GET / HTTP/1.1\r\n\r\n', 'ERR_MISSING_HOST', 400],
  ['missing Host with absolute form', 'GET http://h/ HTTP/1.1\r\n\r\n', 'ERR_MISSING_HOST', 400],
  ['two Host lines', `${GET}Host: h\r\n\r\n`, 'ERR_DUPLICATE_HOST', 400],
  ['two Host lines in 1.0', 'GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n', 'ERR_DUPLICATE_HOST', 400],
  ['Host "a b"', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 'ERR_INVALID_HOST', 400],
  ['Host with port over 65535', 'GET / HTTP/1.1\r\nHost: h:65536\r\n\r\n', 'ERR_INVALID_HOST', 400],
  ['Host with a non-numeric port', 'GET / HTTP/1.1\r\nHost: h:8o\r\n\r\n', 'ERR_INVALID_HOST', 400],
  ['Host with userinfo', 'GET / HTTP/1.1\r\nHost: u@h\r\n\r\n', 'ERR_INVALID_HOST', 400],
  ['Host with an unclosed IPv6 literal', 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n', 'ERR_INVALID_HOST', 400],
  ['Host with a bad IPv6 literal', 'GET / HTTP/1.1\r\nHost: [1::2::3]\r\n\r\n', 'ERR_INVALID_HOST', 400],
  ['Host as a list', 'GET / HTTP/1.1\r\nHost: a, b\r\n\r\n', 'ERR_INVALID_HOST', 400],
  // framing and smuggling (RFC 9112 §6)
  ['Content-Length and Transfer-Encoding', `${GET}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 'ERR_CONTENT_LENGTH_WITH_TRANSFER_ENCODING', 400],
  ['Transfer-Encoding and Content-Length', `${GET}Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n`, 'ERR_CONTENT_LENGTH_WITH_TRANSFER_ENCODING', 400],
  ['differing Content-Length lines', `${GET}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['differing Content-Length list', `${GET}Content-Length: 5, 6\r\n\r\nhello!`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['Content-Length with sign', `${GET}Content-Length: +5\r\n\r\nhello`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['negative Content-Length', `${GET}Content-Length: -1\r\n\r\n`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['empty Content-Length', `${GET}Content-Length: \r\n\r\n`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['Content-Length with an empty list element', `${GET}Content-Length: 5,\r\n\r\nhello`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['hex Content-Length', `${GET}Content-Length: 0x5\r\n\r\nhello`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['Content-Length with inner space', `${GET}Content-Length: 1 2\r\n\r\n`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['Content-Length overflow', `${GET}Content-Length: 99999999999999999999\r\n\r\n`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['Content-Length just past MAX_SAFE_INTEGER', `${GET}Content-Length: 9007199254740992\r\n\r\n`, 'ERR_INVALID_CONTENT_LENGTH', 400],
  ['Content-Length over bodyBytes', `${GET}Content-Length: 101\r\n\r\n`, 'ERR_BODY_TOO_LARGE', 413],
  ['Transfer-Encoding: chunked, gzip', `${GET}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, 'ERR_INVALID_TRANSFER_ENCODING', 400],
  ['Transfer-Encoding: gzip', `${GET}Transfer-Encoding: gzip\r\n\r\n`, 'ERR_INVALID_TRANSFER_ENCODING', 400],
  ['Transfer-Encoding: foo', `${GET}Transfer-Encoding: foo\r\n\r\n`, 'ERR_UNSUPPORTED_TRANSFER_CODING', 501],
  ['Transfer-Encoding: foo, chunked', `${GET}Transfer-Encoding: foo, chunked\r\n\r\n`, 'ERR_UNSUPPORTED_TRANSFER_CODING', 501],
  ['Transfer-Encoding: chunked, foo', `${GET}Transfer-Encoding: chunked, foo\r\n\r\n`, 'ERR_UNSUPPORTED_TRANSFER_CODING', 501],
  // RFC 9112 §6.1: a coding we know but do not decode, under chunked → 501 (its body would reach the route encoded)
  ['Transfer-Encoding: gzip, chunked', `${GET}Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 'ERR_UNSUPPORTED_TRANSFER_CODING', 501],
  ['Transfer-Encoding: GZIP, Chunked', `${GET}Transfer-Encoding: GZIP, Chunked\r\n\r\n0\r\n\r\n`, 'ERR_UNSUPPORTED_TRANSFER_CODING', 501],
  ['gzip and chunked on two lines', `${GET}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 'ERR_UNSUPPORTED_TRANSFER_CODING', 501],
  ['Transfer-Encoding: deflate;q=1, chunked', `${GET}Transfer-Encoding: deflate;q=1, chunked\r\n\r\n0\r\n\r\n`, 'ERR_UNSUPPORTED_TRANSFER_CODING', 501],
  ['Transfer-Encoding: x-gzip, chunked', `${GET}Transfer-Encoding: x-gzip, chunked\r\n\r\n0\r\n\r\n`, 'ERR_UNSUPPORTED_TRANSFER_CODING', 501],
  ['Transfer-Encoding: identity, chunked', `${GET}Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n`, 'ERR_UNSUPPORTED_TRANSFER_CODING', 501],
  // ... but where chunked is not last the length is unknown: 400 first (RFC 9112 §6.3 item 4)
  ['Transfer-Encoding: gzip, chunked, gzip', `${GET}Transfer-Encoding: gzip, chunked, gzip\r\n\r\n`, 'ERR_INVALID_TRANSFER_ENCODING', 400],
  ['Transfer-Encoding: identity', `${GET}Transfer-Encoding: identity\r\n\r\n`, 'ERR_INVALID_TRANSFER_ENCODING', 400],
  ['Transfer-Encoding: chunked, identity', `${GET}Transfer-Encoding: chunked, identity\r\n\r\n`, 'ERR_INVALID_TRANSFER_ENCODING', 400],
  ['gzip, chunked with Content-Length', `${GET}Content-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\n`, 'ERR_CONTENT_LENGTH_WITH_TRANSFER_ENCODING', 400],
  ['gzip, chunked in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 'ERR_TRANSFER_ENCODING_IN_HTTP_1_0', 400],
  ['chunked twice in one line', `${GET}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, 'ERR_INVALID_TRANSFER_ENCODING', 400],
  ['chunked twice in two lines', `${GET}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 'ERR_INVALID_TRANSFER_ENCODING', 400],
  ['empty Transfer-Encoding', `${GET}Transfer-Encoding: \r\n\r\n`, 'ERR_INVALID_TRANSFER_ENCODING', 400],
  ['Transfer-Encoding with a non-token', `${GET}Transfer-Encoding: chun"ked\r\n\r\n`, 'ERR_INVALID_TRANSFER_ENCODING', 400],
  ['chunked in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'ERR_TRANSFER_ENCODING_IN_HTTP_1_0', 400],
  // chunked body (RFC 9112 §7.1)
  ['chunk size overflow', `${CHUNKED}ffffffffffffffffff\r\n`, 'ERR_CHUNK_SIZE_OVERFLOW', 400],
  ['chunk size with 14 significant digits', `${CHUNKED}10000000000000\r\n`, 'ERR_CHUNK_SIZE_OVERFLOW', 400],
  ['chunk size not hex', `${CHUNKED}zz\r\n`, 'ERR_INVALID_CHUNK_SIZE', 400],
  ['chunk size missing', `${CHUNKED}\r\n`, 'ERR_INVALID_CHUNK_SIZE', 400],
  ['negative chunk size', `${CHUNKED}-1\r\n`, 'ERR_INVALID_CHUNK_SIZE', 400],
  ['chunk size with 0x', `${CHUNKED}0x5\r\nhello\r\n0\r\n\r\n`, 'ERR_INVALID_CHUNK_EXTENSION', 400],
  ['whitespace after the chunk size', `${CHUNKED}5 \r\nhello\r\n0\r\n\r\n`, 'ERR_INVALID_CHUNK_EXTENSION', 400],
  ['empty chunk extension', `${CHUNKED}5;\r\nhello\r\n0\r\n\r\n`, 'ERR_INVALID_CHUNK_EXTENSION', 400],
  ['chunk extension value missing', `${CHUNKED}5;a=\r\nhello\r\n0\r\n\r\n`, 'ERR_INVALID_CHUNK_EXTENSION', 400],
  ['unterminated quoted chunk extension', `${CHUNKED}5;a="x\r\nhello\r\n0\r\n\r\n`, 'ERR_INVALID_CHUNK_EXTENSION', 400],
  ['bare CR in a chunk line', `${CHUNKED}5;a\rb\r\nhello\r\n0\r\n\r\n`, 'ERR_BARE_CR', 400],
  ['bare LF ending a chunk line', `${CHUNKED}5\nhello\r\n0\r\n\r\n`, 'ERR_BARE_LF', 400],
  ['chunk line too long', `${CHUNKED}5;${'e'.repeat(40)}\r\nhello\r\n0\r\n\r\n`, 'ERR_CHUNK_LINE_TOO_LONG', 400],
  ['chunk line too long, no CRLF yet', `${CHUNKED}5;${'e'.repeat(40)}`, 'ERR_CHUNK_LINE_TOO_LONG', 400],
  ['missing CRLF after chunk data', `${CHUNKED}5\r\nhelloX\r\n0\r\n\r\n`, 'ERR_MISSING_CHUNK_CRLF', 400],
  ['CR then not LF after chunk data', `${CHUNKED}5\r\nhello\rX0\r\n\r\n`, 'ERR_MISSING_CHUNK_CRLF', 400],
  ['LF alone after chunk data', `${CHUNKED}5\r\nhello\n0\r\n\r\n`, 'ERR_MISSING_CHUNK_CRLF', 400],
  ['chunk larger than bodyBytes', `${CHUNKED}65\r\n`, 'ERR_BODY_TOO_LARGE', 413],
  ['chunks adding up past bodyBytes', `${CHUNKED}3c\r\n${'x'.repeat(60)}\r\n29\r\n`, 'ERR_BODY_TOO_LARGE', 413],
  ['obs-fold in trailers', `${CHUNKED}0\r\nX: a\r\n b\r\n\r\n`, 'ERR_OBS_FOLD', 400],
  ['space before colon in trailers', `${CHUNKED}0\r\nX : a\r\n\r\n`, 'ERR_SPACE_BEFORE_COLON', 400],
  ['bare LF in trailers', `${CHUNKED}0\r\nX: a\nZ`, 'ERR_BARE_LF', 400],
  ['bare LF ending the trailers', `${CHUNKED}0\r\n\n`, 'ERR_BARE_LF', 400],
  ['bare CR after the last chunk', `${CHUNKED}0\r\n\rX\r\n\r\n`, 'ERR_BARE_CR', 400],
  ['tiny trailers adding up past headerBytes', `${CHUNKED}0\r\n${'a:\r\n'.repeat(64)}\r\n`, 'ERR_HEADER_SECTION_TOO_LARGE', 431],
  ['trailer section too large', `${CHUNKED}0\r\nX: ${'v'.repeat(260)}`, 'ERR_HEADER_SECTION_TOO_LARGE', 431],
  // Connection, Expect
  ['Connection option not a token', `${GET}Connection: a b\r\n\r\n`, 'ERR_INVALID_CONNECTION', 400],
  ['Expect other than 100-continue', `${GET}Expect: foo\r\n\r\n`, 'ERR_EXPECTATION_FAILED', 417],
  ['Expect with 100-continue and another', `${GET}Expect: 100-continue, bar\r\n\r\n`, 'ERR_EXPECTATION_FAILED', 417],
];

describe('RequestParser: malformed and smuggling requests get the same error however they are chunked', () => {
  for (const [name, input, code, status] of cases) {
    it(`${name} → ${status} ${code}`, () => {
      threeWays(ascii(input), (s) => {
        assert.deepEqual(s.error, { code, status });
      }, { limits });
    });
  }
});

describe('RequestParser: limits decide without waiting for more bytes', () => {
  it(`a request-line of requestLineBytes+1 bytes with no CRLF gets 414 after only that many bytes`, () => {
    const R = DEFAULT_LIMITS.requestLineBytes;
    const bytes = ascii(`GET /${'a'.repeat(R - 4)}`);
    assert.equal(bytes.length, R + 1);
    // One byte short: still waiting.
    const parser = new RequestParser(limitsWith());
    parser.receive(bytes.subarray(0, R));
    assert.equal(parser.next().type, 'need-data');
    parser.receive(bytes.subarray(R));
    const event = parser.next();
    assert.equal(event.type, 'error');
    assert.equal(event.type === 'error' && event.error.status, 414);
    assert.equal(event.type === 'error' && event.error.code, 'ERR_REQUEST_LINE_TOO_LONG');
    threeWays(bytes, (s) => assert.deepEqual(s.error, { code: 'ERR_REQUEST_LINE_TOO_LONG', status: 414 }), { everyOffset: false });
  });

  it('a request-line of requestLineBytes ending in CR waits for the LF', () => {
    const R = DEFAULT_LIMITS.requestLineBytes;
    const line = `GET /${'a'.repeat(R - 14)} HTTP/1.1`;
    assert.equal(line.length, R);
    const parser = new RequestParser(limitsWith());
    parser.receive(ascii(`${line}\r`));
    assert.equal(parser.next().type, 'need-data');
    parser.receive(ascii('\nHost: h\r\n\r\n'));
    assert.equal(parser.next().type, 'request');
  });

  it('tiny fields are refused by bytes, not by count: 431 once they pass 16 KiB with the default limits', () => {
    // 4,094 "a:" lines plus Host and the final CRLF: 16,387 bytes, just over 16 KiB (one line fewer fits).
    const section = `Host: h\r\n${'a:\r\n'.repeat(4094)}\r\n`;
    assert.ok(section.length > 16 * 1024 && section.length - 4 <= 16 * 1024);
    threeWays(`GET / HTTP/1.1\r\n${section}`, (s) => {
      assert.deepEqual(s.error, { code: 'ERR_HEADER_SECTION_TOO_LARGE', status: 431 });
    }, { everyOffset: false });
  });

  it('a header section one byte over 16 KiB → 431 with the default limits', () => {
    const big = `Host: h\r\nX: ${'v'.repeat(16 * 1024 + 1 - 'Host: h\r\nX: \r\n\r\n'.length)}\r\n\r\n`;
    assert.equal(big.length, 16 * 1024 + 1);
    threeWays(`GET / HTTP/1.1\r\n${big}`, (s) => {
      assert.deepEqual(s.error, { code: 'ERR_HEADER_SECTION_TOO_LARGE', status: 431 });
    }, { everyOffset: false });
  });

  it('a header section that never ends is refused once headerBytes have arrived, not later', () => {
    const parser = new RequestParser(limitsWith({ headerBytes: 100 }));
    parser.receive(ascii('GET / HTTP/1.1\r\n'));
    parser.receive(ascii(`X: ${'v'.repeat(96)}`));
    assert.equal(parser.next().type, 'need-data');
    parser.receive(ascii('v'));
    const event = parser.next();
    assert.equal(event.type === 'error' && event.error.status, 431);
  });

  it('Content-Length over the limit is refused before any body byte arrives', () => {
    const parser = new RequestParser(limitsWith());
    parser.receive(ascii(`POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${DEFAULT_LIMITS.bodyBytes + 1}\r\n\r\n`));
    const event = parser.next();
    assert.equal(event.type === 'error' && event.error.status, 413);
  });
});
