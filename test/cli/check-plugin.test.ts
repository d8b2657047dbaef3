/**
 * `switchyard check-plugin FILE`: one line per check, exit 0 only when none failed; a broken plugin's
 * FAIL line says what was seen; a file that is not a plugin is a usage error, as with serve --plugin.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { run, STACK_TRACE } from '../helpers/cli.js';
import { EXAMPLES, REPO } from '../plugins/paths.js';

const fixture = (name: string): string => join(REPO, 'test/fixtures/broken-plugins', `${name}.js`);

describe('switchyard check-plugin', { timeout: 180_000 }, () => {
  it('a broken plugin: exit 1, a FAIL line for the check it breaks, ok for the rest', async () => {
    const result = await run(['check-plugin', fixture('loses-head')]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0]!, /^check-plugin .*loses-head\.js: broken\/1, 9 checks, driven by its contract export$/);
    assert.match(result.stdout, /\nFAIL  early-bytes +a message sent in the same write as the request got no answer .*the bytes in ctx\.head were lost/);
    assert.equal(lines.filter((l) => l.startsWith('ok ')).length, 8);
    assert.equal(lines.at(-1), '8 passed, 1 failed, 0 skipped');
  });

  it('the docs\' shout example has no contract export: decline and reject are skipped, which is no failure', async () => {
    const result = await run(['check-plugin', join(EXAMPLES, 'shout.js'), '--only', 'decline', '--only', 'reject']);
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /^check-plugin .*shout\.js: shout\/1, 2 checks\n/);
    assert.match(result.stdout, /\nskip  decline +not exercised: say which request the plugin declines/);
    assert.match(result.stdout, /\n0 passed, 0 failed, 2 skipped\n$/);
  });

  it('--only runs the named checks; --token offers another token', async () => {
    const result = await run(['check-plugin', fixture('loses-head'), '--only', 'handshake-101', '--only', 'shutdown-ends']);
    assert.equal(result.code, 0, result.stdout);
    assert.deepEqual(result.stdout.trim().split('\n').slice(1, -1).map((l) => l.split(/ +/).slice(0, 2).join(' ')), ['ok handshake-101', 'ok shutdown-ends']);
    const other = await run(['check-plugin', fixture('loses-head'), '--only', 'handshake-101', '--token', 'other/1']);
    assert.equal(other.code, 1);
    assert.match(other.stdout, /FAIL  handshake-101 +offering Upgrade: other\/1 got 404, not 101/);
  });

  it('--option reaches a factory: the docs\' knock needs its secret, and refuses a wrong knock with 403', async () => {
    const without = await run(['check-plugin', join(EXAMPLES, 'knock.js'), '--only', 'handshake-101']);
    assert.equal(without.code, 2);
    assert.match(without.stderr, /its factory failed: knock needs a secret/);
    const withSecret = await run(['check-plugin', join(EXAMPLES, 'knock.js'), '--only', 'handshake-101', '--option', 'secret=x']);
    assert.equal(withSecret.code, 1);
    assert.match(withSecret.stdout, /: knock, 1 check\nFAIL  handshake-101 +offering Upgrade: knock got 403, not 101 \(handshake returned \{"action":"reject","status":403/);
  });

  it('usage errors exit 2 with one line: no file, not a plugin, an unknown check', async () => {
    const missing = await run(['check-plugin', join(REPO, 'no-such-plugin.js')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-plugin\.js.*no such file/);
    assert.doesNotMatch(missing.stderr, STACK_TRACE);
    const notPlugin = await run(['check-plugin', join(REPO, 'test/fixtures/tls/README.md')]);
    assert.equal(notPlugin.code, 2, notPlugin.stderr);
    const unknown = await run(['check-plugin', fixture('loses-head'), '--only', 'no-such-check']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--only no-such-check: no such check; known: handshake-101, early-bytes/);
    assert.equal((await run(['check-plugin'])).code, 2);
  });
});
