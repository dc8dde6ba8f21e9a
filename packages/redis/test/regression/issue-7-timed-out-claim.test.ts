/**
 * Review of issue 7, finding 3 (P1): a coalescer CLAIM whose reply came after
 * `commandTimeoutMs` still took the lock on Redis. The caller fetched alone, nobody announced a
 * result, and every other instance asking for the key waited `waitTimeoutMs` for a leader that
 * did not exist. The coalescer now gives such a lock back (guarded by the claim's token) and
 * announces a failure, so the others lead or fetch at once.
 */
import { describe, expect, it } from 'vitest';
import { RedisCoalescer } from '../../src/index.js';
import { cleanupsPerTest, client, eventually, keysUnder, slowClient, uniquePrefix, url } from '../helpers.js';

describe.skipIf(!url)('issue 7: a timed-out claim leaves no orphan lock', () => {
  const prefix = uniquePrefix();
  const defer = cleanupsPerTest(prefix);

  it('the lock a late claim took is given back, so the next instance leads instead of waiting', {
    timeout: 15_000,
    retry: 2,
  }, async () => {
    const { proxy, redis: slow } = await slowClient(defer);
    const direct = client();
    const common = { prefix, name: 'c', redisErrorPolicy: 'fail-open', waitTimeoutMs: 3000 } as const;
    const a = new RedisCoalescer<string>({ ...common, redis: slow, commandTimeoutMs: 1000 });
    const b = new RedisCoalescer<string>({ ...common, redis: direct });
    defer(
      () => a.close(),
      () => b.close(),
    );
    await a.fetch('warm', async () => 'warm'); // connected and scripts loaded: only the claim is slow below

    proxy.delayMs = 1500; // the claim runs on Redis (and takes the lock); only its reply is late
    expect(await a.fetch('k', async () => 'A')).toBe('A');
    proxy.delayMs = 0;
    expect(a.stats().fetchedAlone).toBe(1);

    // Bounded wait for the give-back to land (generous: CI runs other suites alongside).
    // Only k's lock matters here (a 1 s command timeout keeps the warm-up from timing out on a
    // loaded machine; were it to, its own lock would linger for lockMs and is not this test's).
    await eventually(
      async () => !(await keysUnder(direct, prefix)).some((key) => key.endsWith('{c:k}:lock')),
      4000,
      10,
    );
    expect(await b.fetch('k', async () => 'B')).toBe('B');
    expect(b.stats()).toEqual({ led: 1, hits: 0, followed: 0, fetchedAlone: 0 });
  });
});
