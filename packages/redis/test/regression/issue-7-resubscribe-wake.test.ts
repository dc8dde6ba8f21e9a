/**
 * Review of issue 7, finding 5 (P2): when a semaphore's pub/sub connection dropped and came
 * back, a release announced while it was down reached nobody, and a waiter slept until its
 * retry timer (the earliest lease expiry: up to `leaseMs`). The semaphore now looks again once
 * the subscription is back.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisSemaphore } from '../../src/index.js';
import { cleanupsPerTest, client, eventually, redisProxy, sleep, uniquePrefix, url } from '../helpers.js';

describe.skipIf(!url)('issue 7: waiters look again after the subscriber reconnects', () => {
  const prefix = uniquePrefix();
  const defer = cleanupsPerTest(prefix);

  it('a release announced while only the pub/sub connection was down still wakes the waiter', async () => {
    const proxy = await redisProxy();
    defer(() => proxy.close());
    // B's commands go straight to Redis; only its pub/sub connection (its duplicate()) goes
    // through the proxy, as when an idle-connection timeout somewhere drops just that one.
    const commands = client();
    const subscribers: Redis[] = [];
    commands.duplicate = () => {
      // One reconnect attempt, late enough that the release below falls in the gap (each failed
      // attempt would also wake the waiter, hiding the bug).
      const sub = new Redis({ host: '127.0.0.1', port: proxy.port, retryStrategy: () => 300 });
      subscribers.push(sub);
      return sub;
    };
    defer(() => {
      for (const s of subscribers) s.disconnect();
    });
    const common = { prefix, name: 's', limit: 1, redisErrorPolicy: 'fail-closed' } as const; // leaseMs 30 s
    const a = new RedisSemaphore({ ...common, redis: client() });
    const b = new RedisSemaphore({ ...common, redis: commands });
    defer(
      () => a.close(),
      () => b.close(),
    );
    const held = await a.acquire();
    const waiter = b.acquire(AbortSignal.timeout(2000));
    await eventually(() => subscribers[0]?.status === 'ready', 1000, 5);
    await sleep(50); // B's look after subscribing was refused: it sleeps on pub/sub and a 30 s timer

    await proxy.cut();
    await proxy.restore(); // the reconnect, 300 ms from now, will succeed
    await sleep(100); // B's look on the dropped connection is refused too
    held.release(); // announced while B is not subscribed

    const permit = await waiter;
    expect(await b.clusterInUse()).toBe(1);
    permit.release();
  }, 5000);
});
