// The README's quick start, run as written (with a stand-in for the payments API).
import { BurstValve } from '@valve/burst';
import { SafetyValve } from '@valve/safety';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisCoalescer, RedisSemaphore, RedisTokenBucket } from '../src/index.js';
import { singleClient, closeClients, deleteUnder, sleep, uniquePrefix, url } from './helpers.js';

describe.skipIf(!url)('README quick start', () => {
  const prefix = uniquePrefix();
  afterAll(async () => {
    await deleteUnder(singleClient(), prefix);
    await closeClients();
  });

  it('two instances, one limit', async () => {
    let running = 0;
    let most = 0;
    const callPaymentsApi = async () => {
      most = Math.max(most, ++running);
      await sleep(2);
      running--;
      return 'paid';
    };
    const sources: { close(): Promise<void> }[] = [];
    function makeValve(redis: Redis) {
      const common = { redis, prefix, name: 'payments-api', redisErrorPolicy: 'fail-closed' } as const;
      const rateSource = new RedisTokenBucket({ ...common, rate: 50, hz: 1000, tokenLimit: 50 });
      const concurrencySource = new RedisSemaphore({ ...common, limit: 10, leaseMs: 10_000 });
      sources.push(rateSource, concurrencySource);
      return new SafetyValve({ name: 'payments-api', size: 100, rateSource, concurrencySource });
    }
    const a = makeValve(singleClient());
    const b = makeValve(singleClient());
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).run(() => callPaymentsApi())),
    );
    expect(results.filter((r) => r === 'paid')).toHaveLength(20);
    expect(most).toBeLessThanOrEqual(10);
    a.close();
    b.close();
    for (const s of sources) await s.close();
  });

  it('coalescing across instances', async () => {
    let loads = 0;
    const db = { loadUser: async (id: string) => ({ id, n: ++loads }) };
    type User = { id: string; n: number };
    const instances = [singleClient(), singleClient()].map((redis) => {
      const coalescer = new RedisCoalescer<User, string>({
        redis,
        prefix,
        name: 'users',
        redisErrorPolicy: 'fail-open',
        lingerMs: 500,
      });
      return { coalescer, users: new BurstValve<User, string>({ fetch: coalescer.wrap((id) => db.loadUser(id)) }) };
    });
    const got = await Promise.all(instances.map(({ users }) => users.fetch('42')));
    expect(got).toEqual([
      { id: '42', n: 1 },
      { id: '42', n: 1 },
    ]);
    expect(loads).toBe(1);
    for (const { coalescer } of instances) await coalescer.close();
  });
});
