/**
 * The server half of `switchyard experiment accept-queue`, run as a child process so that its event loop
 * can stop while the experiment's clients connect. While the loop is stopped, libuv never calls accept(),
 * so whatever the kernel does with new connections, it does on its own.
 *
 * Commands come as lines on stdin; replies and the server's trace lines go out as JSON lines on stdout,
 * written synchronously so that `{"blocked":true}` is on its way before the loop stops.
 *
 *   block <flag-file>   stop the event loop until <flag-file> exists (bounded: at most 20 s)
 *   table               reply with the connection table
 *   exit                close the server gracefully and exit
 *
 * The end of stdin (the experiment went away) also closes the server: the child never outlives its parent.
 */
import { existsSync, writeSync } from 'node:fs';
import { startServer } from '../server/server.js';
import { formatTraceLine } from '../server/trace.js';

const MAX_BLOCK_MS = 20_000;
/** A command line longer than this is not from the experiment. */
const MAX_LINE = 4 * 1024;
/** Whatever happens, this process is gone after a minute. */
const LIFETIME_MS = 60_000;

function send(message: object): void {
  const bytes = Buffer.from(JSON.stringify(message) + '\n');
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (error) {
      // stdout may be a non-blocking pipe that is momentarily full; the parent reads it continuously.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}

/** Blocks the thread, and so the event loop, for `ms` without burning a core on a busy machine. */
const pause = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };

const backlog = Number(process.argv[2] ?? 2);
setTimeout(() => process.exit(1), LIFETIME_MS).unref();
const server = await startServer({ host: '127.0.0.1', port: 0, backlog });
// The server reports `listen` while it starts, before anyone can subscribe: stand in for it.
send({ trace: formatTraceLine({ type: 'listen', time: Date.now(), address: server.host, port: server.port }) });
server.events.subscribe((event) => send({ trace: formatTraceLine(event) }));
send({ listening: server.port });

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => {
  stopping ??= server.close().then(() => { send({ closed: true }); process.exit(0); });
  return stopping;
};

function command(line: string): void {
  const space = line.indexOf(' ');
  const name = space === -1 ? line : line.slice(0, space);
  const argument = space === -1 ? '' : line.slice(space + 1);
  if (name === 'block') {
    send({ blocked: true });
    const started = Date.now();
    while (!existsSync(argument) && Date.now() - started < MAX_BLOCK_MS) pause(5);
    send({ unblocked: Date.now() - started });
  } else if (name === 'table') {
    send({ table: server.table.snapshot() });
  } else if (name === 'exit') {
    void stop();
  }
}

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    command(line);
  }
  if (buffered.length > MAX_LINE) void stop();
});
process.stdin.on('end', () => void stop());
