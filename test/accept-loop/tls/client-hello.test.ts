import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { before, describe, it, type TestContext } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import {
  ClientHelloErrorCode,
  type ClientHelloEvent,
  ClientHelloReader,
  type ClientHelloReaderOptions,
  DEFAULT_CLIENT_HELLO_MAX_BYTES,
  extensionName,
  isGrease,
  tlsVersionName,
} from '../../../src/accept-loop/tls/client-hello.js';
import { UsageError } from '../../../src/errors.js';
import { splits } from '../../helpers/split.js';
import { requireCommand } from '../../helpers/require-command.js';

// ── capturing real ClientHellos ──────────────────────────────────────────────────────────────────────

/**
 * Listens on 127.0.0.1:0, records what a client sends until its first TLS record is complete (read from
 * the record header here, independently of the reader under test), then destroys the socket.
 */
async function capture(startClient: (port: number) => () => void): Promise<Uint8Array> {
  let stopClient: (() => void) | undefined;
  const server = createServer();
  const captured = new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ClientHello within 10 s')), 10_000);
    server.once('connection', (socket: Socket) => {
      const chunks: Buffer[] = [];
      let length = 0;
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        const bytes = Buffer.concat(chunks);
        if (length >= 5 && length >= 5 + bytes.readUInt16BE(3)) {
          clearTimeout(timer);
          socket.destroy();
          resolve(bytes);
        }
      });
      socket.on('error', () => {});
      socket.on('close', () => { clearTimeout(timer); reject(new Error(`the client closed after ${length} bytes`)); });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    stopClient = startClient((server.address() as AddressInfo).port);
    return await captured;
  } finally {
    stopClient?.();
    server.close();
  }
}

function nodeClient(options: { servername?: string; ALPNProtocols?: string[] }): (port: number) => () => void {
  return (port) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...options });
    socket.on('error', () => {});
    return () => socket.destroy();
  };
}

function commandClient(command: string, args: (port: number) => string[]): (port: number) => () => void {
  return (port) => {
    const child = spawn(command, args(port), { stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', () => {});
    return () => { if (child.exitCode === null) child.kill(); };
  };
}


// ── helpers ──────────────────────────────────────────────────────────────────────────────────────────

function feed(chunks: readonly Uint8Array[], options?: ClientHelloReaderOptions): ClientHelloEvent {
  const reader = new ClientHelloReader(options);
  let event: ClientHelloEvent = { type: 'need-data' };
  for (let i = 0; i < chunks.length; i++) {
    event = reader.receive(chunks[i]!);
    // A verdict is sticky: once given, later chunks return the very same object.
    if (event.type !== 'need-data') {
      for (let j = i + 1; j < chunks.length; j++) assert.equal(reader.receive(chunks[j]!), event);
      return event;
    }
  }
  return event;
}

/** The three-way rule: whole, split at every offset, byte by byte — all give the same verdict. */
function feedEveryWay(bytes: Uint8Array, options?: ClientHelloReaderOptions): ClientHelloEvent {
  const whole = feed([bytes], options);
  for (const { label, chunks } of splits(bytes)) assert.deepEqual(feed(chunks, options), whole, label);
  return whole;
}

function helloOf(event: ClientHelloEvent) {
  assert.equal(event.type, 'client-hello', event.type === 'error' ? `${event.code}: ${event.message}` : event.type);
  return (event as Extract<ClientHelloEvent, { type: 'client-hello' }>).hello;
}

function errorOf(event: ClientHelloEvent, code: ClientHelloErrorCode, label = ''): string {
  assert.equal(event.type, 'error', `${label} expected ${code}, got ${event.type}`);
  const error = event as Extract<ClientHelloEvent, { type: 'error' }>;
  assert.equal(error.code, code, `${label} ${error.message}`);
  return error.message;
}

const u8 = (n: number): number[] => [n & 0xff];
const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const u24 = (n: number): number[] => [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const vec8 = (body: number[]): number[] => [...u8(body.length), ...body];
const vec16 = (body: number[]): number[] => [...u16(body.length), ...body];
const latin1 = (text: string): number[] => [...Buffer.from(text, 'latin1')];

const sniExtension = (name: string): [number, number[]] => [0, vec16([0, ...vec16(latin1(name))])];
const alpnExtension = (...names: string[]): [number, number[]] => [16, vec16(names.flatMap((name) => vec8(latin1(name))))];
const versionsExtension = (...versions: number[]): [number, number[]] => [43, vec8(versions.flatMap(u16))];

interface HelloParts {
  readonly legacyVersion?: number;
  readonly sessionId?: number[];
  readonly suites?: number[];
  readonly compression?: number[];
  /** undefined: no extensions block at all (a TLS 1.2-style hello). */
  readonly extensions?: ReadonlyArray<readonly [number, number[]]>;
  readonly msgType?: number;
}

/** A handshake message (header included) built field by field. */
function handshake(parts: HelloParts = {}): number[] {
  const body = [
    ...u16(parts.legacyVersion ?? 0x0303),
    ...new Array<number>(32).fill(0xab),
    ...vec8(parts.sessionId ?? []),
    ...vec16((parts.suites ?? [0x1301, 0x1302, 0xc02f]).flatMap(u16)),
    ...vec8(parts.compression ?? [0]),
    ...(parts.extensions === undefined ? [] : vec16(parts.extensions.flatMap(([type, data]) => [...u16(type), ...vec16(data)]))),
  ];
  return [...u8(parts.msgType ?? 1), ...u24(body.length), ...body];
}

/** Frames handshake bytes into records, cutting them at `cuts` (offsets into the message). */
function records(message: ArrayLike<number>, cuts: number[] = [], type = 0x16, version = 0x0301): Uint8Array {
  const out: number[] = [];
  const bounds = [0, ...cuts, message.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const fragment = Array.from(message).slice(bounds[i], bounds[i + 1]);
    out.push(type, ...u16(version), ...u16(fragment.length), ...fragment);
  }
  return Uint8Array.from(out);
}

const GOOD = (): number[] => handshake({ extensions: [sniExtension('lab.test'), alpnExtension('h2', 'http/1.1'), versionsExtension(0x0304, 0x0303)] });

// ── real ClientHellos ────────────────────────────────────────────────────────────────────────────────

describe('ClientHelloReader on real ClientHellos, captured at run time', () => {
  it('node:tls with servername and ALPN', async () => {
    const bytes = await capture(nodeClient({ servername: 'example.test', ALPNProtocols: ['h2', 'http/1.1'] }));
    const hello = helloOf(feedEveryWay(bytes));
    assert.equal(hello.serverName, 'example.test');
    assert.deepEqual(hello.alpnProtocols, ['h2', 'http/1.1']);
    assert.ok(hello.supportedVersions.includes(0x0304), `supported_versions ${hello.supportedVersions.map(tlsVersionName).join(', ')}`);
    assert.equal(hello.legacyVersion, 0x0303);
    assert.ok(hello.cipherSuites.includes(0x1301), 'TLS_AES_128_GCM_SHA256 is offered');
    assert.deepEqual(hello.compressionMethods, [0]);
    assert.deepEqual(hello.extensionTypes.slice().sort((a, b) => a - b), [...new Set(hello.extensionTypes)].sort((a, b) => a - b));
    for (const type of [0, 16, 43]) assert.ok(hello.extensionTypes.includes(type), extensionName(type));
    assert.equal(hello.recordCount, 1);
    assert.equal(hello.recordBytes, bytes.length);
  });

  it('node:tls to an IP address without servername or ALPN: SNI and ALPN absent', async () => {
    const bytes = await capture(nodeClient({}));
    const hello = helloOf(feedEveryWay(bytes));
    assert.equal(hello.serverName, undefined);
    assert.deepEqual(hello.alpnProtocols, []);
    assert.ok(!hello.extensionTypes.includes(0));
    assert.ok(!hello.extensionTypes.includes(16));
    assert.ok(hello.supportedVersions.includes(0x0304));
  });

  it('openssl s_client -servername lab.test -alpn http/1.1', async (t) => {
    if (!requireCommand(t, 'openssl', ['version'])) return;
    const bytes = await capture(commandClient('openssl', (port) => ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'lab.test', '-alpn', 'http/1.1']));
    const hello = helloOf(feedEveryWay(bytes));
    assert.equal(hello.serverName, 'lab.test');
    assert.deepEqual(hello.alpnProtocols, ['http/1.1']);
    assert.ok(hello.supportedVersions.includes(0x0304));
    assert.equal(hello.recordBytes, bytes.length);
  });

  it('curl -sk https://localhost:PORT/', async (t) => {
    if (!requireCommand(t, 'curl', ['--version'])) return;
    const bytes = await capture(commandClient('curl', (port) => ['-sk', '--max-time', '10', `https://localhost:${port}/`]));
    const hello = helloOf(feedEveryWay(bytes));
    assert.equal(hello.serverName, 'localhost');
    assert.ok(hello.alpnProtocols.includes('http/1.1'), `ALPN ${hello.alpnProtocols.join(', ')}`);
    assert.ok(hello.cipherSuites.length > 0);
  });
});

describe('ClientHelloReader: framing', () => {
  let captured: Uint8Array;
  before(async () => {
    captured = await capture(nodeClient({ servername: 'example.test', ALPNProtocols: ['h2', 'http/1.1'] }));
  });

  it('a ClientHello re-framed into two records gives the same hello (record count and bytes aside)', () => {
    const expected = helloOf(feed([captured]));
    const message = captured.subarray(5);
    // Cuts inside the handshake header (it then spans records), just after it, mid-body, at the last byte.
    for (const cut of [1, 2, 3, 4, 5, Math.floor(message.length / 2), message.length - 1]) {
      const framed = records(message, [cut]);
      const hello = helloOf(feedEveryWay(framed));
      assert.deepEqual({ ...hello, recordCount: 1, recordBytes: captured.length }, expected, `cut at ${cut}`);
      assert.equal(hello.recordCount, 2);
      assert.equal(hello.recordBytes, captured.length + 5);
    }
    // Every cut, fed whole.
    for (let cut = 1; cut < message.length; cut++) {
      assert.deepEqual(helloOf(feed([records(message, [cut])])).serverName, 'example.test', `cut at ${cut}`);
    }
  });

  it('a ClientHello in many small records (one per byte of the header, then 100-byte ones)', () => {
    const message = captured.subarray(5);
    const cuts = [1, 2, 3, 4];
    for (let at = 104; at < message.length; at += 100) cuts.push(at);
    const framed = records(message, cuts);
    const hello = helloOf(feedEveryWay(framed));
    assert.equal(hello.recordCount, cuts.length + 1);
    assert.equal(hello.recordBytes, framed.length);
    assert.equal(hello.serverName, 'example.test');
  });

  it('whole plus trailing bytes: the same verdict, the trailing bytes left alone in the caller\'s chunks', () => {
    const expected = feed([captured]);
    const trailing = Uint8Array.from([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]);
    const input = Uint8Array.from([...captured, ...trailing]);
    const copy = Uint8Array.from(input);
    const event = feedEveryWay(input);
    assert.deepEqual(event, expected);
    assert.deepEqual(input, copy, 'the reader never writes into the chunks it was given');
  });

  it('receivedBytes counts every byte passed in before the verdict (nothing is consumed)', () => {
    const reader = new ClientHelloReader();
    assert.equal(reader.receive(captured.subarray(0, 10)).type, 'need-data');
    assert.equal(reader.receivedBytes, 10);
    assert.equal(reader.receive(captured.subarray(10)).type, 'client-hello');
    assert.equal(reader.receivedBytes, captured.length);
  });

  it('the peer closing mid-hello is ERR_TLS_INCOMPLETE; after a verdict receiveEnd changes nothing', () => {
    const reader = new ClientHelloReader();
    reader.receive(captured.subarray(0, 100));
    const message = errorOf(reader.receiveEnd(), ClientHelloErrorCode.Incomplete);
    assert.match(message, /100 bytes/);
    const done = new ClientHelloReader();
    const hello = done.receive(captured);
    assert.equal(done.receiveEnd(), hello);
  });
});

describe('ClientHelloReader: hand-built hellos', () => {
  it('SNI, ALPN and supported_versions decoded in order', () => {
    const hello = helloOf(feedEveryWay(records(GOOD())));
    assert.equal(hello.serverName, 'lab.test');
    assert.deepEqual(hello.alpnProtocols, ['h2', 'http/1.1']);
    assert.deepEqual(hello.supportedVersions, [0x0304, 0x0303]);
    assert.deepEqual(hello.extensionTypes, [0, 16, 43]);
    assert.deepEqual(hello.cipherSuites, [0x1301, 0x1302, 0xc02f]);
    assert.equal(hello.recordVersion, 0x0301);
    assert.equal(hello.sessionIdLength, 0);
  });

  it('SNI absent and ALPN absent', () => {
    const hello = helloOf(feedEveryWay(records(handshake({ extensions: [versionsExtension(0x0304)], sessionId: new Array<number>(32).fill(7) }))));
    assert.equal(hello.serverName, undefined);
    assert.deepEqual(hello.alpnProtocols, []);
    assert.deepEqual(hello.extensionTypes, [43]);
    assert.equal(hello.sessionIdLength, 32);
  });

  it('a TLS 1.2-style hello with no extensions block at all', () => {
    const hello = helloOf(feedEveryWay(records(handshake(), [], 0x16, 0x0303)));
    assert.deepEqual(hello.extensionTypes, []);
    assert.deepEqual(hello.supportedVersions, []);
    assert.equal(hello.recordVersion, 0x0303);
  });

  it('unknown and GREASE extensions are listed, not refused', () => {
    const hello = helloOf(feedEveryWay(records(handshake({ extensions: [[0x1a1a, []], sniExtension('a.test'), [0xfe0d, [1, 2, 3]], [21, [0, 0, 0]]] }))));
    assert.deepEqual(hello.extensionTypes, [0x1a1a, 0, 0xfe0d, 21]);
    assert.equal(hello.serverName, 'a.test');
  });

  it('a ServerHello (msg_type 2) is ERR_TLS_NOT_CLIENT_HELLO, decided at its first byte', () => {
    const bytes = records(handshake({ msgType: 2, extensions: [] }));
    errorOf(feedEveryWay(bytes), ClientHelloErrorCode.NotClientHello);
    assert.equal(new ClientHelloReader().receive(bytes.subarray(0, 5)).type, 'need-data');
    assert.match(errorOf(new ClientHelloReader().receive(bytes.subarray(0, 6)), ClientHelloErrorCode.NotClientHello), /server_hello/);
  });

  it('a first record of type 0x17 (application_data) is ERR_TLS_NOT_HANDSHAKE', () => {
    const message = errorOf(feedEveryWay(records(GOOD(), [], 0x17)), ClientHelloErrorCode.NotHandshake);
    assert.match(message, /application_data/);
  });

  it('a non-handshake record in the middle of a fragmented hello is ERR_TLS_NOT_HANDSHAKE', () => {
    const message = GOOD();
    const first = records(message.slice(0, 40));
    const second = records(message.slice(40), [], 0x17);
    const bytes = Uint8Array.from([...first, ...second]);
    assert.match(errorOf(feedEveryWay(bytes), ClientHelloErrorCode.NotHandshake), /record 2/);
  });

  it('an extension whose length overruns the extensions block is ERR_TLS_BAD_LENGTH', () => {
    const message = handshake({ extensions: [sniExtension('lab.test'), alpnExtension('h2')] });
    // The ALPN extension's data length (the last extension: type, length, data) claims 10 more bytes.
    const alpnData = vec16(latin1('\x02h2'));
    const at = message.length - alpnData.length - 2;
    assert.deepEqual(message.slice(at, at + 2), u16(alpnData.length));
    message.splice(at, 2, ...u16(alpnData.length + 10));
    assert.match(errorOf(feedEveryWay(records(message)), ClientHelloErrorCode.BadLength), /10 bytes|remain/);
  });

  it('vectors inside extensions that overrun their parent are ERR_TLS_BAD_LENGTH', () => {
    const cases: Array<[string, [number, number[]]]> = [
      ['a host name longer than its list', [0, vec16([0, ...u16(20), ...latin1('lab.test')])]],
      ['an ALPN name longer than its list', [16, vec16([10, ...latin1('h2')])]],
      ['supported_versions longer than the extension', [43, [8, 3, 4]]],
      ['supported_versions of odd length', [43, vec8([3, 4, 3])]],
      ['bytes left over after the SNI list', [0, [...vec16([0, ...vec16(latin1('a'))]), 0]]],
    ];
    for (const [name, extension] of cases) {
      errorOf(feedEveryWay(records(handshake({ extensions: [extension] }))), ClientHelloErrorCode.BadLength, name);
    }
  });

  it('lengths in the fixed part that overrun are ERR_TLS_BAD_LENGTH', () => {
    errorOf(feed([records(handshake({ sessionId: new Array<number>(33).fill(1) }))]), ClientHelloErrorCode.BadLength);
    errorOf(feed([records(handshake({ suites: [] }))]), ClientHelloErrorCode.BadLength);
    errorOf(feed([records(handshake({ compression: [] }))]), ClientHelloErrorCode.BadLength);
    // cipher_suites of odd length
    const odd = handshake();
    const at = 4 + 2 + 32 + 1;
    odd.splice(at, 2, ...u16(7));
    errorOf(feed([records(odd)]), ClientHelloErrorCode.BadLength);
    // A body too short for legacy_version and random
    errorOf(feedEveryWay(records([1, ...u24(10), ...new Array<number>(10).fill(0)])), ClientHelloErrorCode.BadLength);
    // The extensions block's length says less than the bytes that follow it
    const extra = [...handshake({ extensions: [] }), 0, 0];
    extra.splice(1, 3, ...u24(extra.length - 4));
    errorOf(feedEveryWay(records(extra)), ClientHelloErrorCode.BadLength);
  });

  it('empty and over-2^14 records are ERR_TLS_BAD_LENGTH, decided at the record header', () => {
    errorOf(feedEveryWay(Uint8Array.from([0x16, 3, 1, 0, 0])), ClientHelloErrorCode.BadLength);
    const overflow = Uint8Array.from([0x16, 3, 1, ...u16(2 ** 14 + 1)]);
    assert.match(errorOf(feedEveryWay(overflow), ClientHelloErrorCode.BadLength), /2\^14/);
  });

  it('a declared size past the limit is ERR_TLS_CLIENT_HELLO_TOO_LARGE at the length field, before the body', () => {
    // 64 KiB declared over several records: refused after 9 bytes, nothing more awaited.
    const bytes = Uint8Array.from([0x16, 3, 1, ...u16(2 ** 14), 1, ...u24(65_536)]);
    assert.match(errorOf(feedEveryWay(bytes), ClientHelloErrorCode.TooLarge), /65536/);
    // Exactly at the limit passes; one byte over does not.
    const good = records(GOOD());
    helloOf(feedEveryWay(good, { maxBytes: good.length }));
    errorOf(feedEveryWay(good, { maxBytes: good.length - 1 }), ClientHelloErrorCode.TooLarge);
    // Fragmented: the bound counts every record header, and a lower bound decides early.
    const fragmented = records(GOOD(), [10, 20]);
    helloOf(feedEveryWay(fragmented, { maxBytes: fragmented.length }));
    errorOf(feedEveryWay(fragmented, { maxBytes: fragmented.length - 1 }), ClientHelloErrorCode.TooLarge);
  });

  it('the default limit fits a 16 KiB-record hello (padding to the brim) and refuses a bigger one', () => {
    assert.equal(DEFAULT_CLIENT_HELLO_MAX_BYTES, 16 * 1024 + 20);
    const base = handshake({ extensions: [sniExtension('lab.test')] }).length;
    // RFC 7685 padding (type 21) filling one full record: 4 + body = 2^14.
    const padded = handshake({ extensions: [sniExtension('lab.test'), [21, new Array<number>(2 ** 14 - base - 4).fill(0)]] });
    assert.equal(padded.length, 2 ** 14);
    assert.equal(helloOf(feedEveryWay(records(padded))).recordBytes, 2 ** 14 + 5);
    const tooBig = handshake({ extensions: [sniExtension('lab.test'), [21, new Array<number>(2 ** 14 + 64).fill(0)]] });
    errorOf(feed([records(tooBig, [2 ** 14])]), ClientHelloErrorCode.TooLarge);
  });

  it('a duplicate extension and an empty ALPN name are ERR_TLS_BAD_EXTENSION', () => {
    errorOf(feedEveryWay(records(handshake({ extensions: [sniExtension('a.test'), [23, []], [23, []]] }))), ClientHelloErrorCode.BadExtension);
    errorOf(feedEveryWay(records(handshake({ extensions: [alpnExtension('h2', '')] }))), ClientHelloErrorCode.BadExtension);
    errorOf(feedEveryWay(records(handshake({ extensions: [sniExtension('bad\nname')] }))), ClientHelloErrorCode.BadExtension);
  });

  it('rejects unknown and invalid options', () => {
    assert.throws(() => new ClientHelloReader({ maxByte: 10 } as unknown as ClientHelloReaderOptions), UsageError);
    assert.throws(() => new ClientHelloReader({ maxBytes: 1.5 }), UsageError);
    assert.throws(() => new ClientHelloReader({ maxBytes: 3 }), UsageError);
  });
});

describe('TLS names for display', () => {
  it('names versions', () => {
    assert.equal(tlsVersionName(0x0303), 'TLS 1.2');
    assert.equal(tlsVersionName(0x0304), 'TLS 1.3');
    assert.equal(tlsVersionName(0x0301), 'TLS 1.0');
    assert.equal(tlsVersionName(0x0300), 'SSL 3.0');
    assert.equal(tlsVersionName(0x7a7a), 'GREASE 0x7a7a');
    assert.equal(tlsVersionName(0x7f17), 'TLS 1.3 draft 23');
    assert.equal(tlsVersionName(0x1234), '0x1234');
  });

  it('names extensions and spots GREASE', () => {
    assert.equal(extensionName(0), 'server_name');
    assert.equal(extensionName(16), 'application_layer_protocol_negotiation');
    assert.equal(extensionName(43), 'supported_versions');
    assert.equal(extensionName(0xdada), 'GREASE 0xdada');
    assert.equal(extensionName(9999), '9999');
    assert.ok(isGrease(0x0a0a) && isGrease(0xfafa));
    assert.ok(!isGrease(0x0a1a) && !isGrease(0x0303));
  });
});
