// docs/examples/lean-echo.ts — a protocol whose idle connections cost the server next to nothing.
// Run it: switchyard serve --plugin lean-echo.js
import type { Duplex } from 'node:stream';
import type { ProtocolHandler } from 'switchyard';

// Listeners shared by every connection: Node calls them with the socket as `this`, so no closure (and
// no context object) is made per connection. Closures are fine too; these are what scale to 100,000.
function echo(this: Duplex, chunk: Uint8Array): void {
  if (!this.write(chunk)) this.pause();      // a peer that doesn't read slows us down
}
function resume(this: Duplex): void { this.resume(); }
function finish(this: Duplex): void { this.end(); }
function sayBye(socket: Duplex): void { socket.end('bye\n'); }

const leanEcho: ProtocolHandler = {
  token: 'lean-echo/1',
  // This handler ends its socket itself (when the client ends, or at shutdown): nothing to wait on.
  managesSocket: true,
  takeover({ socket, head, hooks }) {
    if (head.length > 0) socket.write(head);  // leaves in the same TCP segment as the 101
    socket.on('data', echo).on('drain', resume).on('end', finish);
    hooks.onShutdown(sayBye, socket);         // called once by server.close(): no listener per connection
    socket.resume();
  },
};

export default leanEcho;
