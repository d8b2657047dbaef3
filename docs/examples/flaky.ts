// docs/examples/flaky.ts — a deliberately broken plugin, to see what the server does about it.
// Run it: switchyard serve --trace --plugin flaky.js --plugin shout.js
import { accept, type ProtocolHandler } from 'switchyard';

const flaky: ProtocolHandler = {
  token: 'flaky/1',
  handshake({ request }) {
    // A bug before the 101: this client gets "500 Internal Server Error" and a close.
    if (request.path === '/handshake-bug') throw new Error('flaky: bug in handshake');
    return accept();
  },
  async takeover({ socket, request }) {
    socket.write('about to fail\n');
    // A bug after the 101: only this connection is closed; every other client carries on.
    if (request.path === '/takeover-bug') throw new Error('flaky: bug in takeover');
    socket.end('fine this time\n');
  },
};

export default flaky;
