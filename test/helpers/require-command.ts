import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** Whether `command` runs; when not, fails under CI (which installs it) and skips otherwise. */
export function requireCommand(t: TestContext, command: string, args: string[]): boolean {
  const probe = spawnSync(command, args, { stdio: 'ignore' });
  if (probe.error === undefined && probe.status === 0) return true;
  if (process.env.CI === 'true') assert.fail(`CI is set but ${command} is not installed (apt-get install -y ${command})`);
  t.skip(`${command} is not installed (apt-get install -y ${command}); under CI this test fails instead`);
  return false;
}
