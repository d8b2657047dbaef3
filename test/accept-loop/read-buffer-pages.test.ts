/**
 * keepReadBufferPages: one scrypt per process raises glibc's trim threshold (see the module). Its effect
 * (page faults per 64 KiB message) is measured by the bench, not asserted here; what a caller relies on
 * is that it runs once per process, on Linux only, and that every server start goes through it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const moduleUrl = new URL('../../src/accept-loop/read-buffer-pages.js', import.meta.url).href;
const listenerUrl = new URL('../../src/accept-loop/listener.js', import.meta.url).href;

/** Runs `body` as an ES module in a fresh Node process (the flag is per process) and returns its stdout. */
const inFreshProcess = (body: string): string => execFileSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) }).trim();

describe('keepReadBufferPages', () => {
  it('does its work once per process, and only on Linux', () => {
    const out = inFreshProcess(`import { keepReadBufferPages } from '${moduleUrl}'; console.log(JSON.stringify([keepReadBufferPages(), keepReadBufferPages()]));`);
    assert.deepEqual(JSON.parse(out), process.platform === 'linux' ? [true, false] : [false, false]);
  });

  it('has been done by the time a listener is bound', () => {
    const out = inFreshProcess(`import { Listener } from '${listenerUrl}'; import { keepReadBufferPages } from '${moduleUrl}';
      const listener = await Listener.listen({ port: 0 }); console.log(JSON.stringify(keepReadBufferPages())); await listener.close();`);
    assert.equal(JSON.parse(out), false);
  });
});
