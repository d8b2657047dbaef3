import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { encodeChunk, encodeChunkHeader, encodeLastChunk, encodeResponseHead, reasonPhrase } from '../../src/http/response.js';
import { text } from '../helpers/split.js';

describe('response encoding', () => {
  it('encodes the exact bytes of a head', () => {
    const bytes = encodeResponseHead({
      status: 101,
      headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=']],
    });
    assert.ok(bytes instanceof Uint8Array);
    assert.equal(
      text(bytes),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
    );
  });

  it('takes a custom reason, any iterable of headers, and latin1 values', () => {
    const headers = new Map([['X-Name', 'caf\xe9'], ['Content-Length', '0']]);
    assert.equal(
      text(encodeResponseHead({ status: 200, reason: 'Fine', headers })),
      'HTTP/1.1 200 Fine\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n',
    );
    assert.equal(text(encodeResponseHead({ status: 299, headers: [] })), 'HTTP/1.1 299 \r\n\r\n');
    assert.equal(text(encodeResponseHead({ status: 204, reason: '', headers: [] })), 'HTTP/1.1 204 \r\n\r\n');
  });

  it('refuses CR, LF and NUL in a value (response splitting)', () => {
    for (const value of ['a\r\nSet-Cookie: x=1', 'a\nb', 'a\rb', 'a\0b', 'a\x1fb', 'a\x7fb', 'snow\u2603man']) {
      assert.throws(
        () => encodeResponseHead({ status: 200, headers: [['X', value]] }),
        (error: unknown) => error instanceof UsageError && error.code === 'ERR_INVALID_HEADER_VALUE',
        JSON.stringify(value),
      );
    }
    // HTAB is allowed in a value.
    assert.equal(text(encodeResponseHead({ status: 200, headers: [['X', 'a\tb']] })), 'HTTP/1.1 200 OK\r\nX: a\tb\r\n\r\n');
  });

  it('refuses a header name that is not a token', () => {
    for (const name of ['', 'Bad Name', 'X:', 'X\r\nY', 'caf\xe9']) {
      assert.throws(
        () => encodeResponseHead({ status: 200, headers: [[name, 'v']] }),
        (error: unknown) => error instanceof UsageError && error.code === 'ERR_INVALID_HEADER_NAME',
        JSON.stringify(name),
      );
    }
  });

  it('refuses a bad status or a reason with control characters', () => {
    for (const status of [99, 1000, 200.5, Number.NaN]) {
      assert.throws(() => encodeResponseHead({ status, headers: [] }), /status/);
    }
    assert.throws(
      () => encodeResponseHead({ status: 200, reason: 'OK\r\nX: y', headers: [] }),
      (error: unknown) => error instanceof UsageError && error.code === 'ERR_INVALID_REASON',
    );
  });

  it('reasonPhrase knows the statuses the server sends', () => {
    const expected: Record<number, string> = {
      100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 400: 'Bad Request', 403: 'Forbidden',
      404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 413: 'Content Too Large',
      414: 'URI Too Long', 417: 'Expectation Failed', 426: 'Upgrade Required',
      431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented',
      503: 'Service Unavailable', 505: 'HTTP Version Not Supported',
    };
    for (const [status, reason] of Object.entries(expected)) assert.equal(reasonPhrase(Number(status)), reason);
    assert.equal(reasonPhrase(299), '');
  });

  it('encodes chunks, the last chunk and trailers (RFC 9112 §7.1)', () => {
    assert.equal(text(encodeChunk(Buffer.from('hello'))), '5\r\nhello\r\n');
    assert.equal(text(encodeChunk(new Uint8Array(300))).slice(0, 5), '12c\r\n');
    assert.equal(encodeChunk(new Uint8Array(300)).length, 3 + 2 + 300 + 2);
    assert.equal(encodeChunk(new Uint8Array(0)).length, 0, 'an empty chunk must not end the body');
    assert.equal(text(encodeChunkHeader(26)), '1a\r\n');
    assert.throws(() => encodeChunkHeader(0), UsageError);
    assert.equal(text(encodeLastChunk()), '0\r\n\r\n');
    assert.equal(text(encodeLastChunk([['Checksum', 'abc']])), '0\r\nChecksum: abc\r\n\r\n');
    assert.throws(() => encodeLastChunk([['X', 'a\nb']]), UsageError);
  });
});
