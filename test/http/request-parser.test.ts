import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestParser } from '../../src/http/request-parser.js';
import { text } from '../helpers/split.js';
import { bytesOf as ascii, limitsWith, run, threeWays } from './drive.js';

describe('RequestParser: well-formed requests, each fed whole, at every offset, byte by byte, and with trailing bytes', () => {
  it('simple GET', () => {
    threeWays('GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n', (s) => {
      assert.equal(s.error, undefined);
      assert.equal(s.requests.length, 1);
      const r = s.requests[0]!;
      assert.equal(r.method, 'GET');
      assert.equal(r.target, '/index.html');
      assert.equal(r.targetForm, 'origin');
      assert.equal(r.path, '/index.html');
      assert.equal(r.query, '');
      assert.equal(r.version, '1.1');
      assert.deepEqual(r.fields, [['Host', 'example.com'], ['User-Agent', 'test']]);
      assert.equal(r.host, 'example.com');
      assert.equal(r.keepAlive, true);
      assert.deepEqual(r.connectionTokens, []);
      assert.equal(r.expectContinue, false);
      assert.deepEqual(r.body, { kind: 'none' });
      assert.equal(r.bodyText, '');
      assert.deepEqual(r.trailers, []);
    });
  });

  it('path and query, OWS trimmed from values, field name case kept, obs-text allowed in values', () => {
    threeWays('GET /a/b%20c?x=1&y=/?z HTTP/1.1\r\nhOsT:\t  example.com:8080 \t\r\nX-Empty:\r\nX-Latin: caf\xe9\r\n\r\n', (s) => {
      const r = s.requests[0]!;
      assert.equal(r.path, '/a/b%20c');
      assert.equal(r.query, '?x=1&y=/?z');
      assert.deepEqual(r.fields, [['hOsT', 'example.com:8080'], ['X-Empty', ''], ['X-Latin', 'caf\xe9']]);
      assert.equal(r.host, 'example.com:8080');
    });
  });

  it('queries with brackets, braces, pipes and quotes as browsers and curl send them are accepted', () => {
    threeWays('GET /search?a[]=1&b={"x":1}&c=a|b^`<>\\ HTTP/1.1\r\nHost: lab\r\n\r\n', (s) => {
      assert.equal(s.requests[0]!.query, '?a[]=1&b={"x":1}&c=a|b^`<>\\');
    });
  });

  it('get/getAll/has look names up case-insensitively and join repeated lines with ", "', () => {
    const parser = new RequestParser(limitsWith());
    parser.receive(ascii('GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\naccept: b\r\nX: 1\r\n\r\n'));
    const event = parser.next();
    assert.equal(event.type, 'request');
    if (event.type !== 'request') return;
    const head = event.head;
    assert.equal(head.get('ACCEPT'), 'a, b');
    assert.deepEqual(head.getAll('accept'), ['a', 'b']);
    assert.equal(head.has('x'), true);
    assert.equal(head.has('y'), false);
    assert.equal(head.get('y'), undefined);
    assert.deepEqual(head.getAll('y'), []);
  });

  it('POST with Content-Length', () => {
    threeWays('POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world', (s) => {
      assert.equal(s.error, undefined);
      const r = s.requests[0]!;
      assert.equal(r.method, 'POST');
      assert.deepEqual(r.body, { kind: 'length', length: 11 });
      assert.equal(r.bodyText, 'hello world');
      assert.deepEqual(r.trailers, []);
    });
  });

  it('Content-Length: 0 goes straight from request to end', () => {
    threeWays('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n', (s) => {
      assert.deepEqual(s.requests[0]!.body, { kind: 'length', length: 0 });
      assert.equal(s.requests[0]!.bodyText, '');
    });
  });

  it('identical Content-Length values, as repeated lines or a list, count as one (RFC 9112 §6.3)', () => {
    threeWays('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc', (s) => {
      assert.equal(s.error, undefined);
      assert.equal(s.requests[0]!.bodyText, 'abc');
    });
  });

  it('chunked (any case) with extensions and trailers', () => {
    const input =
      'POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n' +
      '5;name=value;flag\r\nhello\r\n' +
      '6 ; q="a \\"quoted\\" ; value"\r\n world\r\n' +
      '00A\r\n0123456789\r\n' +
      '0;last\r\nChecksum: abc\r\nX-Trailer:  two  \r\n\r\n';
    threeWays(input, (s) => {
      assert.equal(s.error, undefined);
      const r = s.requests[0]!;
      assert.deepEqual(r.body, { kind: 'chunked' });
      assert.equal(r.bodyText, 'hello world0123456789');
      assert.deepEqual(r.trailers, [['Checksum', 'abc'], ['X-Trailer', 'two']]);
    });
  });

  it('chunked without trailers', () => {
    threeWays('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', (s) => {
      assert.equal(s.requests[0]!.bodyText, 'abc');
      assert.deepEqual(s.requests[0]!.trailers, []);
    });
  });

  it('three pipelined requests in one buffer, each after resume()', () => {
    const input =
      'GET /1 HTTP/1.1\r\nHost: h\r\n\r\n' +
      'POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody' +
      'PUT /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n';
    threeWays(input, (s) => {
      assert.equal(s.error, undefined);
      assert.deepEqual(s.requests.map((r) => [r.method, r.target, r.bodyText]), [
        ['GET', '/1', ''], ['POST', '/2', 'body'], ['PUT', '/3', 'ok'],
      ]);
    });
  });

  it('pauses after end until resume(), even with the next request buffered', () => {
    const parser = new RequestParser(limitsWith());
    parser.receive(ascii('GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n'));
    assert.equal(parser.next().type, 'request');
    assert.equal(parser.next().type, 'end');
    assert.equal(parser.next().type, 'paused');
    assert.equal(parser.next().type, 'paused');
    assert.equal(parser.bufferedBytes, 28);
    parser.resume();
    const second = parser.next();
    assert.equal(second.type === 'request' && second.head.target, '/2');
    assert.equal(parser.next().type, 'end');
    parser.resume();
    assert.equal(parser.next().type, 'need-data');
  });

  it('HTTP/1.0: keep-alive only when asked for (RFC 9112 §9.3)', () => {
    threeWays('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET / HTTP/1.0\r\n\r\n', (s) => {
      assert.equal(s.requests.length, 2);
      assert.equal(s.requests[0]!.version, '1.0');
      assert.equal(s.requests[0]!.keepAlive, true);
      assert.deepEqual(s.requests[0]!.connectionTokens, ['keep-alive']);
      assert.equal(s.requests[0]!.host, '', 'no Host needed in 1.0');
      assert.equal(s.requests[1]!.keepAlive, false);
    });
  });

  it('HTTP/1.2 to HTTP/1.9 are read as HTTP/1.1, the highest minor version we implement (RFC 9110 §2.5)', () => {
    for (const minor of ['2', '5', '9']) {
      threeWays(`GET /v HTTP/1.${minor}\r\nHost: h\r\n\r\n`, (s) => {
        assert.equal(s.error, undefined, minor);
        assert.equal(s.requests[0]!.version, '1.1', minor);
        assert.equal(s.requests[0]!.keepAlive, true, 'keep-alive by default, as in 1.1');
      });
    }
    // What 1.1 allows and 1.0 does not: chunked framing, an Upgrade with its bytes right behind it.
    threeWays('POST / HTTP/1.2\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', (s) => {
      assert.equal(s.error, undefined);
      assert.equal(s.requests[0]!.bodyText, 'abc');
    });
    threeWays('GET /chat HTTP/1.9\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n', (s) => {
      assert.equal(s.requests[0]!.version, '1.1');
      assert.deepEqual(s.requests[0]!.connectionTokens, ['upgrade']);
    });
  });

  it('HTTP/1.1: Connection: close ends keep-alive; tokens lower-cased from every line', () => {
    threeWays('GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, ,CLOSE\r\nConnection: x-Foo\r\n\r\n', (s) => {
      assert.equal(s.requests[0]!.keepAlive, false);
      assert.deepEqual(s.requests[0]!.connectionTokens, ['upgrade', 'close', 'x-foo']);
    });
  });

  it('absolute form: host from the target, Host still required but not used', () => {
    threeWays('GET http://Example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n', (s) => {
      const r = s.requests[0]!;
      assert.equal(r.targetForm, 'absolute');
      assert.equal(r.host, 'Example.com:8080');
      assert.equal(r.path, '/p/q');
      assert.equal(r.query, '?x=1');
    });
    threeWays('GET https://h?x HTTP/1.1\r\nHost: h\r\n\r\n', (s) => {
      assert.equal(s.requests[0]!.path, '/');
      assert.equal(s.requests[0]!.query, '?x');
    });
  });

  it('OPTIONS * (asterisk form)', () => {
    threeWays('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n', (s) => {
      assert.equal(s.requests[0]!.targetForm, 'asterisk');
      assert.equal(s.requests[0]!.path, '*');
    });
  });

  it('CONNECT host:port (authority form)', () => {
    threeWays('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', (s) => {
      const r = s.requests[0]!;
      assert.equal(r.targetForm, 'authority');
      assert.equal(r.host, 'example.com:443');
      assert.equal(r.path, '');
      assert.equal(r.query, '');
    });
    threeWays('CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n', (s) => {
      assert.equal(s.requests[0]!.host, '[2001:db8::1]:8443');
    });
  });

  it('any token method is accepted (the server decides 405/501)', () => {
    threeWays("M-SEARCH!#$%&'*+.^_`|~ / HTTP/1.1\r\nHost: h\r\n\r\n", (s) => {
      assert.equal(s.requests[0]!.method, "M-SEARCH!#$%&'*+.^_`|~");
    });
  });

  it('empty lines before the request-line are ignored (RFC 9112 §2.2)', () => {
    threeWays('\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n', (s) => {
      assert.equal(s.requests.length, 1);
    });
    // Including the stray CRLF some clients send after a POST body.
    threeWays('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n', (s) => {
      assert.deepEqual(s.requests.map((r) => r.method), ['POST', 'GET']);
    });
  });

  it('Expect: 100-continue (case-insensitive); ignored in HTTP/1.0 (RFC 9110 §10.1.1)', () => {
    threeWays('PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok', (s) => {
      assert.equal(s.requests[0]!.expectContinue, true);
      assert.equal(s.requests[0]!.bodyText, 'ok');
    });
    threeWays('PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok', (s) => {
      assert.equal(s.requests[0]!.expectContinue, false);
    });
  });

  it('Host forms: IPv4, [IPv6], empty (RFC 9110 §7.2), port up to 65535', () => {
    for (const host of ['127.0.0.1', '[::1]', '[::ffff:10.0.0.1]:80', '', 'a.b-c_d~e:65535', 'h:']) {
      threeWays(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, (s) => {
        assert.equal(s.error, undefined, host);
        assert.equal(s.requests[0]!.host, host);
      });
    }
  });

  it('an upgrade request and the bytes sent right behind it: nothing lost, nothing doubled', () => {
    const request = 'GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n';
    const protocolBytes = '\x81\x05hello\x00\xff\r\n\r\n';
    for (const { chunks, label } of [
      { label: 'one write', chunks: [ascii(request + protocolBytes)] },
      { label: 'split inside the protocol bytes', chunks: [ascii(request + protocolBytes.slice(0, 3)), ascii(protocolBytes.slice(3))] },
    ]) {
      const s = run(chunks, { maxRequests: 1, takeRest: true });
      assert.equal(s.requests.length, 1, label);
      assert.equal(s.rest, protocolBytes, label);
    }
    const parser = new RequestParser(limitsWith());
    parser.receive(ascii(request + 'abc'));
    assert.equal(parser.next().type, 'request');
    assert.equal(parser.next().type, 'end');
    assert.equal(parser.next().type, 'paused');
    assert.equal(parser.bufferedBytes, 3);
    assert.equal(text(parser.takeBuffered()), 'abc');
    assert.equal(parser.bufferedBytes, 0);
    assert.equal(parser.takeBuffered().length, 0);
  });

  it('body data comes as views into the received chunk (zero-copy)', () => {
    const input = ascii('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello');
    const parser = new RequestParser(limitsWith());
    parser.receive(input);
    assert.equal(parser.next().type, 'request');
    const body = parser.next();
    assert.equal(body.type, 'body');
    if (body.type !== 'body') return;
    assert.equal(body.data.buffer, input.buffer);
    assert.equal(body.data.byteOffset, input.byteOffset + input.length - 5);

    const chunked = ascii('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    const p2 = new RequestParser(limitsWith());
    p2.receive(chunked);
    assert.equal(p2.next().type, 'request');
    const data = p2.next();
    assert.equal(data.type === 'body' && data.data.buffer, chunked.buffer);
  });

  it('receive() keeps a reference and accepts plain Uint8Arrays and empty chunks', () => {
    const parser = new RequestParser(limitsWith());
    parser.receive(new Uint8Array(0));
    parser.receive(Uint8Array.from(ascii('GET / HTTP/1.1\r\nHost: h\r\n\r\n')));
    assert.equal(parser.next().type, 'request');
  });
});

describe('RequestParser: limits at their edges', () => {
  const limits = { requestLineBytes: 64, headerBytes: 128, bodyBytes: 100, chunkLineBytes: 32 };

  it('a request-line of exactly requestLineBytes is accepted', () => {
    const line = 'GET /' + 'a'.repeat(64 - 'GET / HTTP/1.1'.length) + ' HTTP/1.1';
    assert.equal(line.length, 64);
    threeWays(`${line}\r\nHost: h\r\n\r\n`, (s) => assert.equal(s.error, undefined), { limits });
  });

  it('a field section of exactly headerBytes is accepted, CRLFs included', () => {
    const fixed = 'Host: h\r\nX: \r\n\r\n'.length;
    const section = `Host: h\r\nX: ${'v'.repeat(128 - fixed)}\r\n\r\n`;
    assert.equal(section.length, 128);
    threeWays(`GET / HTTP/1.1\r\n${section}`, (s) => assert.equal(s.error, undefined), { limits });
  });

  it('no count of fields: as many of the smallest field lines as fit in headerBytes are accepted', () => {
    // "a:" CRLF is the shortest field line (4 bytes): 29 of them, Host and the final CRLF fill 128 exactly.
    const section = `Host: hh\r\n${'a:\r\n'.repeat(29)}\r\n`;
    assert.equal(section.length, 128);
    threeWays(`GET / HTTP/1.1\r\n${section}`, (s) => {
      assert.equal(s.error, undefined);
      assert.equal(s.requests[0]!.fields.length, 30);
    }, { limits });
    threeWays(`POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${'a:\r\n'.repeat(31)}\r\n`, (s) => {
      assert.equal(s.requests[0]!.trailers!.length, 31);
    }, { limits });
  });

  it('a body of exactly bodyBytes is accepted, by Content-Length or by chunks', () => {
    const body = 'b'.repeat(100);
    threeWays(`POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n${body}`, (s) => {
      assert.equal(s.requests[0]!.bodyText, body);
    }, { limits });
    threeWays(`POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n${body.slice(50)}\r\n32\r\n${body.slice(50)}\r\n0\r\n\r\n`, (s) => {
      assert.equal(s.requests[0]!.bodyText, body);
    }, { limits });
  });

  it('a chunk line of exactly chunkLineBytes is accepted', () => {
    const line = '1;' + 'e'.repeat(30);
    assert.equal(line.length, 32);
    threeWays(`POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${line}\r\nx\r\n0\r\n\r\n`, (s) => {
      assert.equal(s.requests[0]!.bodyText, 'x');
    }, { limits });
  });

  it('default limits: 100, 101 and 1000 fields and 16 KiB of header section pass (no field count, RFC 9110 §5.4)', () => {
    for (const count of [100, 101, 1000]) {
      let fields = 'Host: h\r\n';
      for (let i = 1; i < count; i++) fields += `X-${i}: v\r\n`;
      threeWays(`GET / HTTP/1.1\r\n${fields}\r\n`, (s) => {
        assert.equal(s.error, undefined, `${count} fields`);
        assert.equal(s.requests[0]!.fields.length, count);
      }, { everyOffset: false });
    }
    const big = `Host: h\r\nX: ${'v'.repeat(16 * 1024 - 'Host: h\r\nX: \r\n\r\n'.length)}\r\n\r\n`;
    threeWays(`GET / HTTP/1.1\r\n${big}`, (s) => assert.equal(s.error, undefined), { everyOffset: false });
  });
});

describe('RequestParser: end of input', () => {
  it('receiveEnd at a message boundary with nothing buffered → closed', () => {
    assert.deepEqual(run([], { end: true }).closed, true);
    const s = run([ascii('GET / HTTP/1.1\r\nHost: h\r\n\r\n')], { end: true });
    assert.equal(s.requests.length, 1);
    assert.equal(s.closed, true);
    assert.equal(s.error, undefined);
  });

  it('receiveEnd while paused: paused until resume(), then closed', () => {
    const parser = new RequestParser(limitsWith());
    parser.receive(ascii('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    parser.receiveEnd();
    assert.equal(parser.next().type, 'request');
    assert.equal(parser.next().type, 'end');
    assert.equal(parser.next().type, 'paused');
    parser.resume();
    assert.equal(parser.next().type, 'closed');
    assert.equal(parser.next().type, 'closed');
  });

  it('receiveEnd in the middle of a message → ERR_INCOMPLETE_MESSAGE 400', () => {
    for (const partial of [
      'G',
      '\r',
      'GET / HTTP/1.1\r\nHost: h\r\n',
      'GET / HTTP/1.1\r\nHost: h\r\n\r',
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhel',
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel',
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r',
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5',
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n',
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n',
      'GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /',
    ]) {
      threeWays(partial, (s) => {
        assert.deepEqual(s.error, { code: 'ERR_INCOMPLETE_MESSAGE', status: 400 }, JSON.stringify(partial));
      }, { end: true, trailing: '' });
    }
  });

  it('errors are sticky: the same event every time, and later bytes are ignored', () => {
    const parser = new RequestParser(limitsWith());
    parser.receive(ascii('GET / HTTP/1.1\r\nHost : h\r\n\r\n'));
    const first = parser.next();
    assert.equal(first.type, 'error');
    const buffered = parser.bufferedBytes;
    parser.receive(ascii('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    parser.resume();
    parser.receiveEnd();
    assert.equal(parser.next(), first);
    assert.equal(parser.next(), first);
    assert.equal(parser.bufferedBytes, buffered);
  });
});
