import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { CLI_TIMEOUT_MS, runCli } from './cli.js';

/** A `switchyard serve` child process, started as a user would and past its banner. */
export interface Served {
  readonly child: ChildProcessWithoutNullStreams;
  /** The banner, up to and including the `protocols:` line. */
  readonly stdout: string;
  /** From the banner's http:// URL (the one the port always answers, even with TLS). */
  readonly port: number;
  /** The last 16 KiB of stderr so far, for failure messages. */
  stderr(): string;
}

/** Start `serve ARGS` and wait for its whole banner; a server that exits or stays silent fails the wait. */
export async function startServe(args: readonly string[]): Promise<Served> {
  const child = runCli(['serve', ...args]);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-16_384); });
  const stdout = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`serve printed no banner within ${CLI_TIMEOUT_MS} ms: ${out}${stderr}`)); }, CLI_TIMEOUT_MS);
    const onExit = (code: number | null): void => { clearTimeout(timer); reject(new Error(`serve exited (${code}) before its banner: ${out}${stderr}`)); };
    const onData = (chunk: Buffer): void => {
      out += chunk;
      if (!/^protocols: .*\n/m.test(out)) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      // Keep draining: a server whose stdout pipe fills would block on its next trace line.
      child.stdout.resume();
      resolve(out);
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
  const port = Number(/^switchyard listening on http:\/\/127\.0\.0\.1:(\d+)\/$/m.exec(stdout)?.[1]);
  assert.ok(port > 0, `a port in the banner:\n${stdout}`);
  return { child, stdout, port, stderr: () => stderr };
}

/** SIGTERM by PID and the exit code of the graceful exit; a server still running after 10 s is killed, and the code is then null. */
export async function stopServe(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  process.kill(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone meanwhile */ } }, 10_000);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
