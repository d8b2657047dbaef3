import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../helpers/lab.js';
import { run } from '../helpers/cli.js';

/**
 * `connect --hexdump`: the heads with CR LF visible, then the frames each way as they were on the wire,
 * against a real lab on 127.0.0.1, port 0.
 */
describe('switchyard connect --hexdump (CLI)', () => {
  it('shows the heads with CR LF, our frame masked as sent and the echo unmasked, on stderr only', async () => {
    await withLab({}, async (server) => {
      const result = await run(['connect', '--hexdump', `ws://127.0.0.1:${server.port}/echo`], 'Hello\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'Hello\n', 'the echo still goes to stdout, and only it');
      const err = result.stderr;
      assert.match(err, /^-> request head, \d+ bytes/m);
      assert.match(err, /^ +GET \/echo HTTP\/1\.1\\r\\n$/m);
      assert.match(err, /^<- response head, \d+ bytes/m);
      assert.match(err, /^ +HTTP\/1\.1 101 Switching Protocols\\r\\n$/m);
      assert.match(err, /^ +Sec-WebSocket-Accept: \S+\\r\\n$/m);
      assert.match(err, /^ +\\r\\n$/m, 'the empty line that ends a head');
      assert.ok(err.indexOf('101 Switching Protocols') < err.indexOf('-> text'), 'the heads come before the frames');

      // Sent: masked, with a key, and the masked bytes are the text XOR that key.
      const sent = /^-> text fin=1 masked=1 key=([0-9a-f]{8}) len=5 "Hello"$/m.exec(err);
      assert.ok(sent, err);
      const sentBlock = err.slice(sent.index, err.indexOf('\n\n', sent.index));
      assert.match(sentBlock, /MASK=1/);
      assert.match(sentBlock, new RegExp(`Masking-key=${sent[1]}`));
      assert.match(sentBlock, /\|1\|0 0 0 0 1 0 1\|/, 'the MASK bit set on the wire');
      const masked = /masked +((?:[0-9a-f]{2} ?){5})/.exec(sentBlock)![1]!.trim().split(' ').map((h) => parseInt(h, 16));
      const key = Buffer.from(sent[1]!, 'hex');
      assert.equal(Buffer.from(masked.map((b, i) => b ^ key[i % 4]!)).toString(), 'Hello');
      assert.match(sentBlock, /unmasked 48 65 6c 6c 6f/);

      // Received: the server's echo, unmasked (RFC 6455 §5.1), with its text.
      const received = /^<- text fin=1 masked=0 len=5 "Hello"$/m.exec(err);
      assert.ok(received, err);
      const receivedBlock = err.slice(received.index, err.indexOf('\n\n', received.index));
      assert.match(receivedBlock, /MASK=0/);
      assert.match(receivedBlock, /bytes +48 65 6c 6c 6f/);
      assert.match(receivedBlock, /text +"Hello"/);
      assert.doesNotMatch(receivedBlock, /Masking-key/);

      // The closing handshake is frames too: ours masked, the server's not.
      assert.match(err, /^-> close fin=1 masked=1 key=[0-9a-f]{8} len=2 code=1000 reason=""$/m);
      assert.match(err, /^<- close fin=1 masked=0 len=2 code=1000 reason=""$/m);
    });
  });

  it('shows a compressed message as sent: RSV1 set (permessage-deflate)', async () => {
    await withLab({}, async (server) => {
      const line = 'compress me '.repeat(20);
      const result = await run(['connect', '--hexdump', `ws://127.0.0.1:${server.port}/echo`], line + '\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, line + '\n');
      assert.match(result.stderr, /^-> text fin=1 rsv1=1 masked=1 key=[0-9a-f]{8} len=\d+ \(compressed, RFC 7692\)$/m);
      assert.match(result.stderr, /RSV1=1 RSV2=0 RSV3=0/);
    });
  });

  it('--upgrade TOKEN: a classic hex dump of each chunk each way', async () => {
    await withLab({}, async (server) => {
      const result = await run(['connect', '--hexdump', '--upgrade', 'echo', `http://127.0.0.1:${server.port}/`], 'hello raw\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'hello raw\n');
      assert.match(result.stderr, /^ +Upgrade: echo\\r\\n$/m);
      assert.match(result.stderr, /^ +HTTP\/1\.1 101 Switching Protocols\\r\\n$/m);
      assert.match(result.stderr, /^-> 10 bytes at offset 0:$/m);
      assert.match(result.stderr, /^<- 10 bytes at offset 0:$/m);
      const row = /^ +00000000  68 65 6c 6c 6f 20 72 61  77 0a +\|hello raw\.\|$/gm;
      assert.equal(result.stderr.match(row)?.length, 2, result.stderr);
    });
  });

  it('--http2: the header blocks decoded, then the frames of the stream', async () => {
    await withLab({}, async (server) => {
      const result = await run(['connect', '--hexdump', '--http2', `ws://127.0.0.1:${server.port}/echo`], 'Hello\n');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'Hello\n');
      assert.match(result.stderr, /^-> HEADERS on stream \d+ \(HPACK-compressed on the wire; shown decoded\):$/m);
      assert.match(result.stderr, /^ +:protocol: websocket$/m);
      assert.match(result.stderr, /^ +:status: 200$/m);
      assert.match(result.stderr, /^-> text fin=1 masked=1 key=[0-9a-f]{8} len=5 "Hello"$/m);
      assert.match(result.stderr, /^<- text fin=1 masked=0 len=5 "Hello"$/m);
    });
  });

  it('is in the help', async () => {
    const result = await run(['connect', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--hexdump/);
  });
});
