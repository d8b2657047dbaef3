import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { parseProcNetTcp, readKernelSockets } from '../../src/experiments/kernel-sockets.js';

// Lines as Linux prints them (little-endian host): a listener on 127.0.0.1:8080 with 3 queued
// connections, an established IPv4 connection, a dual-stack listener and an IPv6 loopback connection.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 90861 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D4E8 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 90862 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D4EA 0100007F:1F90 02 00000001:00000000 01:00000100 00000000  1000        0 90863 2 0000000000000000 100 0 0 10 -1
   3: garbage line
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:1F92 00000000000000000000000001000000:A000 01 00000000:00000005 00:00000000 00000000  1000        0 2 1 0 20 4 30 10 -1
   2: 0000000000000000FFFF00000100007F:1F93 0000000000000000FFFF00000100007F:A001 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 20 4 30 10 -1
   3: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4 1 0 100 0 0 10 0
`;

describe('parseProcNetTcp', () => {
  it('decodes IPv4 addresses in host byte order, ports, states and the listener\'s accept queue', () => {
    const sockets = parseProcNetTcp(TCP, true);
    assert.equal(sockets.length, 3, 'the header and the garbage line are skipped');
    assert.deepEqual(sockets[0], { localAddress: '127.0.0.1', localPort: 8080, remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN', sendQ: 0, recvQ: 3 });
    assert.equal(sockets[1]!.state, 'ESTAB');
    assert.equal(sockets[1]!.localPort, 0xd4e8);
    assert.equal(sockets[1]!.remotePort, 8080);
    assert.equal(sockets[2]!.state, 'SYN-SENT');
    assert.equal(sockets[2]!.sendQ, 1);
  });

  it('decodes IPv6 addresses, compressing zeros and showing mapped IPv4 as plain IPv4', () => {
    const sockets = parseProcNetTcp(TCP6, true);
    assert.deepEqual(sockets.map((s) => s.localAddress), ['::', '::1', '127.0.0.1', '2001:db8::1']);
    assert.equal(sockets[1]!.recvQ, 5);
    assert.equal(sockets[1]!.remotePort, 0xa000);
  });

  it('reads big-endian words in order', () => {
    const [listener] = parseProcNetTcp(TCP.replace('0100007F:1F90 00000000', '7F000001:1F90 00000000'), false);
    assert.equal(listener!.localAddress, '127.0.0.1');
  });

  it('finds a real listener and a real connection of this process (Linux)', { skip: process.platform !== 'linux' }, async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    try {
      const sockets = (await readKernelSockets())!;
      assert.ok(sockets.some((s) => s.state === 'LISTEN' && s.localPort === port && s.localAddress === '127.0.0.1'));
      assert.ok(sockets.some((s) => s.state === 'ESTAB' && s.localPort === client.localPort && s.remotePort === port));
    } finally {
      client.destroy();
      server.close();
    }
  });
});
