/**
 * Review of issue 7, finding 2 (P1): an ACQUIRE whose reply came after `commandTimeoutMs` was
 * reported as a failure, but it still ran on Redis and added a lease that nobody held or
 * renewed: a phantom holder that kept a slot for a whole `leaseMs`. The semaphore now sends
 * the release for that lease id right after the timeout, on the same connection, so Redis runs
 * it after the late acquire.
 */
import { describe, expect, it } from 'vitest';
import { RedisSemaphore } from '../../src/index.js';
import { cleanupsPerTest, client, eventually, slowClient, uniquePrefix, url } from '../helpers.js';

describe.skipIf(!url)('issue 7: a timed-out acquire leaves no phantom lease', () => {
  const prefix = uniquePrefix();
  const defer = cleanupsPerTest(prefix);

  it('the lease a late acquire added is released, so the slot is free again at once', async () => {
    const { proxy, redis: slow } = await slowClient(defer);
    const common = { prefix, name: 's', limit: 1, redisErrorPolicy: 'fail-closed' } as const;
    const a = new RedisSemaphore({ ...common, redis: slow, commandTimeoutMs: 50 }); // leaseMs 30 s
    const b = new RedisSemaphore({ ...common, redis: client() });
    defer(
      () => a.close(),
      () => b.close(),
    );
    await slow.ping();

    proxy.delayMs = 200; // the acquire runs on Redis; only its reply is late
    await expect(a.acquire()).rejects.toMatchObject({ code: 'ERR_VALVE_REDIS_UNAVAILABLE' });
    proxy.delayMs = 0;

    await eventually(async () => (await b.clusterInUse()) === 0, 1000, 10);
    const permit = await b.acquire(AbortSignal.timeout(1000));
    expect(await b.clusterInUse()).toBe(1);
    permit.release();
  }, 5000);
});
