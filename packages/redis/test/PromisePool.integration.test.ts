import { PromisePool } from '@valve/pool';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSemaphore, RedisTokenBucket } from '../src/index.js';
import { client, closeClients, deleteUnder, sleep, uniquePrefix, url } from './helpers.js';

describe.skipIf(!url)('PromisePool with Redis sources (rateSource, concurrencySource)', () => {
  const prefix = uniquePrefix();
  afterAll(async () => {
    await deleteUnder(client(), prefix);
    await closeClients();
  });

  it('two pools on two connections share one cap of 2 and one bucket; every task completes', async () => {
    let running = 0;
    let most = 0;
    const task = async () => {
      most = Math.max(most, ++running);
      await sleep(3);
      running--;
    };
    const sources: { close(): Promise<void> }[] = [];
    const pools = [client(), client()].map((redis) => {
      const common = { redis, prefix, name: 'jobs', redisErrorPolicy: 'fail-closed' } as const;
      const rateSource = new RedisTokenBucket({ ...common, rate: 20, hz: 100, tokenLimit: 20 });
      const concurrencySource = new RedisSemaphore({ ...common, limit: 2, leaseMs: 4000 });
      sources.push(rateSource, concurrencySource);
      return new PromisePool({ rateSource, concurrencySource });
    });
    for (const pool of pools) pool.add(...Array.from({ length: 15 }, () => task));
    const summaries = await Promise.all(pools.map((p) => p.done()));
    for (const s of summaries) {
      expect(s.completed).toBe(15);
      expect(s.failed).toBe(0);
    }
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBe(2);
    for (const s of sources) await s.close();
  }, 10_000);
});
