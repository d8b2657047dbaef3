// docs/examples/shout.ts — your first protocol, and the README's library example.
// Run it: switchyard serve --plugin shout.js   (compiled with tsc, or typed in as .js without the types)
import { accept, type ProtocolHandler } from 'switchyard';

// A new Upgrade protocol: after the 101, shout back whatever the client sends.
const shout: ProtocolHandler = {
  token: 'shout/1',
  handshake: () => accept([['X-Shout', 'ready']]),
  takeover: ({ socket, head }) => new Promise<void>((done) => {
    // ASCII letters only, byte by byte: a UTF-8 character split across two reads stays intact.
    const upper = (bytes: Uint8Array) => bytes.map((b) => (b >= 0x61 && b <= 0x7a ? b - 0x20 : b));
    const reply = (bytes: Uint8Array) => { if (!socket.write(upper(bytes))) socket.pause(); };
    if (head.length > 0) reply(head);      // bytes that came with the request belong to the protocol
    socket.on('data', reply).on('drain', () => socket.resume());    // a peer that doesn't read slows us down
    socket.on('end', () => socket.end()).on('close', done);
    socket.resume();
  }),
};

export default shout;
