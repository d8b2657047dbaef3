import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/errors.js';
import { encodeCommand, RespDecoder, type RespEvent, type RespLimits, type RespValue } from '../../../src/registry/broker/resp.js';
import { ascii, splits, text } from '../../helpers/split.js';

/** A value with bulk strings as latin1 text, for deepEqual. */
type Plain = string | number | null | { simple: string } | { errorReply: string } | Plain[];

function plain(value: RespValue): Plain {
  switch (value.type) {
    case 'simple-string': return { simple: value.value };
    case 'error-reply': return { errorReply: value.message };
    case 'integer': return value.value;
    case 'bulk-string': return value.value === null ? null : text(value.value);
    case 'array': return value.value === null ? null : value.value.map(plain);
  }
}

/** Feeds every chunk, draining after each; returns the values and the last event. */
function drain(chunks: Uint8Array[], limits: Partial<RespLimits> = {}): { values: Plain[]; last: RespEvent; decoder: RespDecoder } {
  const decoder = new RespDecoder(limits);
  const values: Plain[] = [];
  let last: RespEvent = { type: 'need-data' };
  for (const chunk of chunks) {
    decoder.receive(chunk);
    for (;;) {
      last = decoder.next();
      if (last.type !== 'value') break;
      values.push(plain(last.value));
    }
    if (last.type === 'error') break;
  }
  return { values, last, decoder };
}

const join = (...parts: string[]): Uint8Array => ascii(parts.join(''));

// Byte vectors from the RESP spec (https://redis.io/docs/latest/develop/reference/protocol-spec/).
const SPEC_VECTORS: ReadonlyArray<readonly [string, string, Plain]> = [
  ['simple string', '+OK\r\n', { simple: 'OK' }],
  ['error reply', '-Error message\r\n', { errorReply: 'Error message' }],
  ['error reply with a prefix', "-ERR unknown command 'asdf'\r\n", { errorReply: "ERR unknown command 'asdf'" }],
  ['WRONGTYPE error reply', '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n', { errorReply: 'WRONGTYPE Operation against a key holding the wrong kind of value' }],
  ['integer 0', ':0\r\n', 0],
  ['integer 1000', ':1000\r\n', 1000],
  ['negative integer', ':-42\r\n', -42],
  ['integer with a plus sign', ':+7\r\n', 7],
  ['largest safe integer', ':9007199254740991\r\n', 9007199254740991],
  ['bulk string', '$5\r\nhello\r\n', 'hello'],
  ['empty bulk string', '$0\r\n\r\n', ''],
  ['null bulk string', '$-1\r\n', null],
  ['bulk string holding CRLFs (binary-safe)', '$4\r\n\r\n\r\n\r\n', '\r\n\r\n'],
  ['empty array', '*0\r\n', []],
  ['array of two bulk strings', '*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n', ['hello', 'world']],
  ['array of integers', '*3\r\n:1\r\n:2\r\n:3\r\n', [1, 2, 3]],
  ['mixed array', '*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n', [1, 2, 3, 4, 'hello']],
  ['nested arrays', '*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n', [[1, 2, 3], [{ simple: 'Hello' }, { errorReply: 'World' }]]],
  ['null array', '*-1\r\n', null],
  ['null elements in an array', '*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n', ['hello', null, 'world']],
  ['empty array inside an array', '*2\r\n*0\r\n:5\r\n', [[], 5]],
  ['array ending in a nested array', '*2\r\n:1\r\n*1\r\n*1\r\n:2\r\n', [1, [[2]]]],
  ['pub/sub message push', '*3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$2\r\nhi\r\n', ['message', 'chat', 'hi']],
  ['subscribe confirmation', '*3\r\n$9\r\nsubscribe\r\n$4\r\nchat\r\n:1\r\n', ['subscribe', 'chat', 1]],
];

describe('RespDecoder: every value type, whole, split at every offset, byte by byte', () => {
  // The trailing bytes are the start of another value: they must stay buffered, untouched, then complete.
  const TRAILING = '$3\r\nab';
  for (const [name, wire, expected] of SPEC_VECTORS) {
    it(name, () => {
      for (const { label, chunks } of splits(join(wire, TRAILING))) {
        const { values, last, decoder } = drain(chunks);
        assert.deepEqual(values, [expected], label);
        assert.equal(last.type, 'need-data', label);
        assert.equal(decoder.buffered, TRAILING.length - 4, `${label}: the trailing value's header is read, its body kept`);
        decoder.receive(ascii('c\r\n'));
        const event = decoder.next();
        assert.ok(event.type === 'value', label);
        assert.deepEqual(plain(event.value), 'abc', label);
        assert.equal(decoder.buffered, 0, label);
      }
    });
  }

  it('all the vectors back to back, split at every offset, come out in order', () => {
    const wire = join(...SPEC_VECTORS.map(([, bytes]) => bytes));
    for (const { label, chunks } of splits(wire)) {
      const { values, last } = drain(chunks);
      assert.deepEqual(values, SPEC_VECTORS.map(([, , expected]) => expected), label);
      assert.equal(last.type, 'need-data', label);
    }
  });

  it('simple strings and error replies are UTF-8', () => {
    const { values } = drain([Buffer.from("-ERR unknown command 'héllo'\r\n", 'utf8')]);
    assert.deepEqual(values, [{ errorReply: "ERR unknown command 'héllo'" }]);
  });

  it('a bulk string that arrived in one chunk is a view into it, not a copy', () => {
    const chunk = Uint8Array.from(ascii('$5\r\nhello\r\n'));
    const decoder = new RespDecoder();
    decoder.receive(chunk);
    const event = decoder.next();
    assert.ok(event.type === 'value' && event.value.type === 'bulk-string' && event.value.value !== null);
    assert.equal(event.value.value.buffer, chunk.buffer);
    assert.equal(event.value.value.byteOffset, 4);
  });

  it('a 1000-value array arriving byte by byte is read once (each value parsed as it completes)', () => {
    const wire = join('*1000\r\n', ':7\r\n'.repeat(1000));
    const { values } = drain([...wire].map((byte) => Uint8Array.of(byte)));
    assert.equal(values.length, 1);
    assert.deepEqual(values[0], new Array(1000).fill(7));
  });

  it('an error reply is a value; a broken byte stream is a protocol error', () => {
    const reply = drain([ascii('-ERR no\r\n')]);
    assert.deepEqual(reply.values, [{ errorReply: 'ERR no' }]);
    assert.equal(reply.last.type, 'need-data');
    const broken = drain([ascii('?ERR no\r\n')]);
    assert.deepEqual(broken.values, []);
    assert.ok(broken.last.type === 'error');
    assert.equal(broken.last.error.code, 'ERR_RESP_UNKNOWN_TYPE');
  });
});

describe('RespDecoder: protocol errors, the same however the bytes are chunked', () => {
  const PROTOCOL_ERRORS: ReadonlyArray<readonly [string, string, Partial<RespLimits>]> = [
    ['ERR_RESP_UNKNOWN_TYPE', '%1\r\n+a\r\n+b\r\n', {}], // a RESP3 map
    ['ERR_RESP_UNKNOWN_TYPE', '\r\n', {}],
    ['ERR_RESP_BAD_INTEGER', ':12a\r\n', {}],
    ['ERR_RESP_BAD_INTEGER', ':\r\n', {}],
    ['ERR_RESP_BAD_INTEGER', ':1.5\r\n', {}],
    ['ERR_RESP_INTEGER_RANGE', ':9007199254740992\r\n', {}],
    ['ERR_RESP_INTEGER_RANGE', ':-9223372036854775808\r\n', {}],
    ['ERR_RESP_BAD_LENGTH', '$-2\r\n', {}],
    ['ERR_RESP_BAD_LENGTH', '$abc\r\n', {}],
    ['ERR_RESP_BAD_LENGTH', '*-5\r\n', {}],
    ['ERR_RESP_BAD_LENGTH', '*\r\n', {}],
    ['ERR_RESP_BAD_BULK_END', '$3\r\nabcXY', {}],
    ['ERR_RESP_BAD_BULK_END', '$3\r\nabc\n\r', {}],
    ['ERR_RESP_BAD_LINE', '+O\nK\r\n', {}],
    ['ERR_RESP_BAD_LINE', '+O\rK\r\n', {}],
    ['ERR_RESP_BAD_LINE', '+OK\r\r\n', {}],
    // Limits: one byte over each (the vectors at exactly the limit are below).
    ['ERR_RESP_LINE_TOO_LONG', '+12345678\r\n', { maxLineBytes: 8 }],
    ['ERR_RESP_LINE_TOO_LONG', '-12345678\r\n', { maxLineBytes: 8 }],
    ['ERR_RESP_BULK_TOO_LARGE', '$5\r\nabcde\r\n', { maxBulkBytes: 4 }],
    ['ERR_RESP_ARRAY_TOO_LONG', '*3\r\n:1\r\n:2\r\n:3\r\n', { maxArrayLength: 2 }],
    ['ERR_RESP_TOO_DEEP', '*1\r\n*1\r\n*1\r\n:1\r\n', { maxDepth: 2 }],
    ['ERR_RESP_VALUE_TOO_LARGE', '*2\r\n$3\r\nabc\r\n$3\r\nabc\r\n', { maxValueBytes: 21 }],
    ['ERR_RESP_VALUE_TOO_LARGE', '*3\r\n:1\r\n:2\r\n:3\r\n', { maxValueBytes: 15 }],
  ];
  for (const [code, wire, limits] of PROTOCOL_ERRORS) {
    it(`${code}: ${JSON.stringify(wire)} ${JSON.stringify(limits)}`, () => {
      for (const { label, chunks } of splits(ascii(wire))) {
        const { values, last } = drain(chunks, limits);
        assert.deepEqual(values, [], label);
        assert.ok(last.type === 'error', `${label}: ${last.type}`);
        assert.equal(last.error.code, code, label);
        assert.equal(last.error.name, 'ProtocolError', label);
      }
    });
  }

  const AT_THE_LIMIT: ReadonlyArray<readonly [string, Partial<RespLimits>, Plain]> = [
    ['+1234567\r\n', { maxLineBytes: 8 }, { simple: '1234567' }],
    ['$4\r\nabcd\r\n', { maxBulkBytes: 4 }, 'abcd'],
    ['*2\r\n:1\r\n:2\r\n', { maxArrayLength: 2 }, [1, 2]],
    ['*1\r\n*1\r\n:1\r\n', { maxDepth: 2 }, [[1]]],
    ['*2\r\n$3\r\nabc\r\n$3\r\nabc\r\n', { maxValueBytes: 22 }, ['abc', 'abc']],
  ];
  for (const [wire, limits, expected] of AT_THE_LIMIT) {
    it(`exactly at the limit passes: ${JSON.stringify(limits)}`, () => {
      // Twice in a row: a per-value limit counts each value afresh.
      for (const { label, chunks } of splits(ascii(wire + wire))) {
        const { values, last } = drain(chunks, limits);
        assert.deepEqual(values, [expected, expected], label);
        assert.equal(last.type, 'need-data', label);
      }
    });
  }

  it('a line over the limit fails before its CRLF arrives, never buffering without bound', () => {
    const decoder = new RespDecoder({ maxLineBytes: 8 });
    decoder.receive(ascii('+1234567\r'));
    assert.equal(decoder.next().type, 'need-data', 'the CR may end an 8-byte line');
    decoder.receive(ascii('8'));
    const event = decoder.next();
    assert.ok(event.type === 'error');
    assert.equal(event.error.code, 'ERR_RESP_LINE_TOO_LONG');
  });

  it('a bulk or array length over the limit fails at its header, before any body', () => {
    for (const [wire, code] of [['$2000000000\r\n', 'ERR_RESP_BULK_TOO_LARGE'], ['*2000000000\r\n', 'ERR_RESP_ARRAY_TOO_LONG'], ['$99999999999999999999\r\n', 'ERR_RESP_BULK_TOO_LARGE']] as const) {
      const { last } = drain([ascii(wire)]);
      assert.ok(last.type === 'error', wire);
      assert.equal(last.error.code, code, wire);
    }
    const { last } = drain([ascii('$3\r\n')], { maxValueBytes: 6 });
    assert.ok(last.type === 'error');
    assert.equal(last.error.code, 'ERR_RESP_VALUE_TOO_LARGE', 'the body is counted when its length is read');
  });

  it('a protocol error is sticky, and later bytes are not buffered', () => {
    const decoder = new RespDecoder();
    decoder.receive(ascii('!oops\r\n'));
    const first = decoder.next();
    assert.ok(first.type === 'error');
    decoder.receive(ascii('+OK\r\n'));
    assert.equal(decoder.buffered, 0);
    const again = decoder.next();
    assert.ok(again.type === 'error');
    assert.equal(again.error, first.error);
  });

  it('an unknown limit is a usage error', () => {
    assert.throws(() => new RespDecoder({ maxBulk: 1 } as Partial<RespLimits>), (error: unknown) => error instanceof UsageError && error.code === 'ERR_UNKNOWN_LIMIT');
  });
});

describe('encodeCommand', () => {
  it('is an array of bulk strings (spec: "Sending commands to a Redis server")', () => {
    assert.equal(text(encodeCommand(['SET', 'key', 'value'])), '*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n');
    assert.equal(text(encodeCommand(['PING'])), '*1\r\n$4\r\nPING\r\n');
    assert.equal(text(encodeCommand(['ECHO', ''])), '*2\r\n$4\r\nECHO\r\n$0\r\n\r\n');
  });

  it('lengths are in bytes (UTF-8), and binary arguments go as they are', () => {
    assert.equal(Buffer.from(encodeCommand(['PUBLISH', 'c', 'é'])).toString('utf8'), '*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$2\r\né\r\n');
    assert.equal(text(encodeCommand(['SET', Uint8Array.of(0, 13, 10, 255)])), '*2\r\n$3\r\nSET\r\n$4\r\n\x00\r\n\xff\r\n');
  });

  it('decodes back to the same arguments', () => {
    const { values } = drain([encodeCommand(['PUBLISH', 'switchyard:0:room:chat', '{"text":"a\\r\\nb"}', '\r\n'])]);
    assert.deepEqual(values, [['PUBLISH', 'switchyard:0:room:chat', '{"text":"a\\r\\nb"}', '\r\n']]);
  });

  it('refuses an empty command', () => {
    assert.throws(() => encodeCommand([]), UsageError);
  });
});
