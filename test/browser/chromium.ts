/**
 * Start and stop Debian's `chromium` for the browser test. Chromium runs headless in its own process group
 * (so the renderers and helpers it forks go down with it) with a fresh profile directory, and prints the
 * DevTools WebSocket URL on stderr; stderr is read to the end, keeping only a bounded tail for failure
 * messages, because a full pipe would stall the browser.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

const STDERR_TAIL_BYTES = 16 * 1024;

/** The first `chromium` on PATH, or undefined when it is not installed. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'chromium');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Chromium's path; when it is missing, fails under CI (which installs it) and skips `t` elsewhere. */
export function requireChromium(t: TestContext): string | undefined {
  const executable = findChromium();
  if (executable) return executable;
  if (process.env.CI) assert.fail('CI is set but chromium is not installed (.ci/run installs it with apt-get)');
  t.skip('chromium is not installed (apt-get install chromium); under CI this test fails instead');
  return undefined;
}

export interface Chromium {
  /** `ws://127.0.0.1:PORT/devtools/browser/…`, the browser-level DevTools endpoint. */
  readonly wsUrl: string;
  readonly pid: number;
  /** The last lines Chromium wrote on stderr, for failure messages. */
  stderrTail(): string;
  /** Stop the browser (TERM, then KILL for its whole process group after a grace period) and remove the profile. */
  close(): Promise<void>;
}

/**
 * `extraArgs` go on the command line before the start URL, after the fixed flags: e.g. the TLS test's
 * `--ignore-certificate-errors-spki-list=…`, which trusts one key and nothing else.
 */
export async function launchChromium(executable: string, timeoutMs = 15_000, extraArgs: readonly string[] = []): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'switchyard-chromium-'));
  const child = spawn(executable, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
    '--window-size=1440,1000', '--remote-debugging-port=0', `--user-data-dir=${profile}`, ...extraArgs, 'about:blank',
  ], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => { tail = (tail + chunk).slice(-STDERR_TAIL_BYTES); });
  // If the test process dies first, the browser must not outlive it.
  const killOnExit = (): void => killGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);
  const cleanup = async (): Promise<void> => {
    process.off('exit', killOnExit);
    await stopGroup(child);
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  try {
    const wsUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`chromium printed no DevTools URL within ${timeoutMs} ms`)), timeoutMs);
      const onData = (): void => {
        const match = /DevTools listening on (ws:\/\/\S+)/.exec(tail);
        if (match) done(undefined, match[1]);
      };
      const onExit = (code: number | null, signal: string | null): void => done(new Error(`chromium exited (${signal ?? code}) before listening`));
      const onError = (error: Error): void => done(error);
      function done(error: Error | undefined, url?: string): void {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        child.off('exit', onExit);
        child.off('error', onError);
        if (error) reject(error); else resolve(url!);
      }
      child.stderr!.on('data', onData);
      child.once('exit', onExit);
      child.once('error', onError);
    });
    return { wsUrl, pid: child.pid!, stderrTail: () => tail, close: cleanup };
  } catch (error) {
    await cleanup();
    throw new Error(`${(error as Error).message}\n--- chromium stderr ---\n${tail}`);
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

async function stopGroup(child: ChildProcess): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // TERM to the browser alone: it shuts its helpers down and reaps them, leaving no orphans behind.
  try { child.kill('SIGTERM'); } catch { /* already gone */ }
  const inTime = await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]);
  // Helpers left behind by the main process (renderers, zygotes) share its group: take them down too.
  killGroup(child, 'SIGKILL');
  if (!inTime) await Promise.race([exited, sleep(2_000)]);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());
