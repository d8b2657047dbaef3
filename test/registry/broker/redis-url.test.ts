import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/errors.js';
import { parseRedisUrl } from '../../../src/registry/broker/redis-url.js';

describe('parseRedisUrl', () => {
  it('defaults to port 6379 and database 0', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1'), { host: '127.0.0.1', port: 6379, db: 0, display: 'redis://127.0.0.1:6379/0' });
    assert.deepEqual(parseRedisUrl('redis://cache.internal/'), { host: 'cache.internal', port: 6379, db: 0, display: 'redis://cache.internal:6379/0' });
  });

  it('reads port and database, and an IPv6 host in brackets', () => {
    assert.deepEqual(parseRedisUrl('redis://[::1]:6380/2'), { host: '::1', port: 6380, db: 2, display: 'redis://[::1]:6380/2' });
    assert.deepEqual(parseRedisUrl('redis://h:1/15'), { host: 'h', port: 1, db: 15, display: 'redis://h:1/15' });
  });

  it('reads a password, and a user with it, percent-decoded, and never displays them', () => {
    const withPassword = parseRedisUrl('redis://:s%40cret@h:7000/1');
    assert.equal(withPassword.password, 's@cret');
    assert.equal(withPassword.username, undefined);
    assert.equal(withPassword.display, 'redis://h:7000/1');
    const withUser = parseRedisUrl('redis://app:pw@h');
    assert.equal(withUser.username, 'app');
    assert.equal(withUser.password, 'pw');
    assert.doesNotMatch(withUser.display, /pw|app/);
  });

  for (const [url, why] of [
    ['http://h:6379', /scheme must be redis:/],
    ['rediss://h:6379', /TLS .* not supported/],
    ['redis://h:99999', /not a URL/],
    ['redis://h:0', /port 0/],
    ['redis://h/x', /database number/],
    ['redis://h/1/2', /database number/],
    ['redis://h/-1', /database number/],
    ['redis://h?db=1', /query/],
    ['redis://user@h', /needs a password/],
    ['redis://', /host is required/],
    ['127.0.0.1:6379', /scheme|not a URL/],
  ] as const) {
    it(`refuses ${url}`, () => {
      assert.throws(() => parseRedisUrl(url), (error: unknown) => error instanceof UsageError && error.code === 'ERR_BAD_BROKER_URL' && why.test(error.message) && error.message.includes(url));
    });
  }
});
