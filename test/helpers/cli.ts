import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The built CLI (`npm run build`), run as a user would: `node dist/cli.js …`. */
export const CLI = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));

/** Generous: several engineers run tests at once on two cores. Only a hang should ever reach it. */
export const CLI_TIMEOUT_MS = 60_000;

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary output. */
  raw: Buffer;
}

/** Collect a child's output until it exits; a child still running after `ms` is killed and the wait fails. */
export async function finish(child: ChildProcessWithoutNullStreams, ms = CLI_TIMEOUT_MS): Promise<CliResult> {
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { out.push(d); });
  child.stderr.on('data', (d) => { stderr += d; });
  // 'close', not 'exit': it comes after stdout and stderr are drained.
  const closed = once(child, 'close');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not exit within ${ms} ms; stderr: ${stderr}`));
    }, ms);
  });
  try {
    const [code] = await Promise.race([closed, timeout]);
    const raw = Buffer.concat(out);
    return { code: code as number | null, stdout: raw.toString('utf8'), stderr, raw };
  } finally {
    clearTimeout(timer);
  }
}

/** Run the CLI with `input` on stdin (then its end) and collect the result. */
export function run(args: string[], input: string | Uint8Array = '', env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = runCli(args, env);
  child.stdin.on('error', () => {}); // the CLI may exit before reading all of it (a usage error, say)
  child.stdin.end(input);
  return finish(child);
}

/** Wait for the "listening on URL" line and return the port (reading stdout without closing it). */
export function listeningPort(child: ChildProcessWithoutNullStreams, ms = CLI_TIMEOUT_MS): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not listen within ${ms} ms: ${out}`)), ms);
    const onData = (chunk: Buffer): void => {
      out += chunk;
      const match = /listening on http:\/\/[^:]+:(\d+)\//.exec(out);
      if (match) { clearTimeout(timer); child.stdout.off('data', onData); child.stdout.resume(); resolve(Number(match[1])); }
    };
    child.stdout.on('data', onData);
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`server exited without listening: ${out}`)); });
  });
}

/** Every line of a usage or runtime error is one line of text, never a stack trace. */
export const STACK_TRACE = /\n\s+at /;
