/**
 * A real `redis-server` (Debian package `redis-server`) for tests: on a free port, nothing saved to disk,
 * bound to 127.0.0.1; killed (SIGKILL, like a crash), stopped (SIGSTOP, like a hung server) and
 * restarted on the same port. Callers check `requireCommand(t, 'redis-server', ['--version'])` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { encodeCommand, RespDecoder, type RespValue } from '../../src/registry/broker/resp.js';

export { freePort } from './free-port.js';
import { freePort } from './free-port.js';

export class RedisServer {
  readonly port: number;
  readonly #extraArgs: readonly string[];
  #child: ChildProcess | undefined;

  private constructor(port: number, extraArgs: readonly string[]) {
    this.port = port;
    this.#extraArgs = extraArgs;
  }

  /** Starts redis-server on a free port (or `port`), resolved once it answers PING. */
  static async start(extraArgs: readonly string[] = [], port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? await freePort(), extraArgs);
    await server.restart();
    return server;
  }

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  /** Starts it again on the same port (after `kill`). */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error('redis-server is already running');
    const args = ['--save', '', '--appendonly', 'no', '--port', String(this.port), '--bind', '127.0.0.1', '--loglevel', 'warning', ...this.#extraArgs];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const deadline = Date.now() + 5000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${stderr}`);
      const reply = await redisCommand(this.port, ['PING']).catch(() => undefined);
      if (reply?.type === 'simple-string' || reply?.type === 'error-reply') return; // NOAUTH also proves it is up
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer PING in 5 s: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** SIGKILL, like a crash: no goodbye on its connections beyond the kernel's FIN. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP / SIGCONT: a server that keeps its connections but answers nothing. */
  pause(): void { this.#child?.kill('SIGSTOP'); }
  resume(): void { this.#child?.kill('SIGCONT'); }
}

/** One command on a connection of its own (for checks from outside a broker). */
export function redisCommand(port: number, args: readonly string[]): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const decoder = new RespDecoder();
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no reply to ${args[0]} in 2 s`)); }, 2000);
    socket.on('error', (error) => { clearTimeout(timer); reject(error); });
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk) => {
      decoder.receive(chunk);
      const event = decoder.next();
      if (event.type === 'need-data') return;
      clearTimeout(timer);
      socket.destroy();
      if (event.type === 'error') reject(event.error); else resolve(event.value);
    });
  });
}
