// docs/examples/knock.ts — a plugin with options, and the rest of the handler contract.
// Run it: switchyard serve --plugin knock.js --plugin-option knock.secret=open-sesame
import type { Duplex } from 'node:stream';
import { accept, decline, reject, type ProtocolHandler } from 'switchyard';

export interface KnockOptions {
  /** Clients must send `X-Knock: <secret>`. Required. */
  readonly secret?: unknown;
  /** First line after the 101 (default "welcome"). */
  readonly greeting?: unknown;
  /** Send "still open" to every visitor this often, in ms (default 0: never). */
  readonly heartbeatMs?: unknown;
}

// A factory: called once at start-up with this plugin's options. Throwing here stops the server from
// starting, with your message — better than a protocol that fails at its first client.
export default function createKnock(options: KnockOptions): ProtocolHandler<{ visitor: string }> {
  const { secret, greeting = 'welcome', heartbeatMs = 0 } = options;
  if (typeof secret !== 'string' || secret === '') throw new Error('knock needs a secret: --plugin-option knock.secret=<text>');
  if (typeof greeting !== 'string') throw new Error('knock.greeting must be text');
  if (typeof heartbeatMs !== 'number' || heartbeatMs < 0) throw new Error('knock.heartbeatMs must be a number of ms');
  const visitors = new Set<Duplex>();   // shared by all connections: released by close()
  const heartbeat = heartbeatMs > 0 ? setInterval(() => { for (const v of visitors) v.write('still open\n'); }, heartbeatMs) : undefined;
  heartbeat?.unref();

  return {
    token: 'knock',               // a bare name matches knock, knock/1, knock/2...: decide per version below
    description: 'a door that opens for the right X-Knock header',

    // Before the 101: look at the request and decide. Nothing has been written to the client yet.
    handshake({ request, offered }) {
      if (offered.toLowerCase() !== 'knock' && offered.toLowerCase() !== 'knock/1') return decline(); // try the client's next offer
      if (request.get('x-knock') !== secret) return reject(403, [], '403 Forbidden\nwrong knock\n');
      return accept([['X-Door', 'open']], { visitor: request.get('x-visitor') ?? 'stranger' });
    },

    // After the 101: the socket is yours until the promise settles; then the server closes it for you.
    takeover({ socket, head, state, signal, emit }) {
      return new Promise<void>((done) => {
        visitors.add(socket);
        emit({ kind: 'visitor', detail: state!.visitor, direction: 'in' });  // shows in --trace and the dashboard
        socket.write(`${greeting}, ${state!.visitor}\n`);
        const echo = (bytes: Uint8Array) => { if (!socket.write(bytes)) socket.pause(); };
        if (head.length > 0) echo(head);
        socket.on('data', echo).on('drain', () => socket.resume());
        socket.on('end', () => socket.end());
        // Server shutdown: say goodbye in the protocol's own words, then close.
        const goodbye = () => socket.end('the door closes\n');
        signal.addEventListener('abort', goodbye, { once: true });
        socket.on('close', () => {
          visitors.delete(socket);
          signal.removeEventListener('abort', goodbye);
          done();
        });
        socket.resume();
      });
    },

    // Unregistered, or the server closed: release what the connections shared.
    close() {
      clearInterval(heartbeat);
    },
  };
}
