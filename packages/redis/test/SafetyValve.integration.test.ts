import { isValveError } from '@valve/core';
import { SafetyValve } from '@valve/safety';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ERR_VALVE_REDIS_UNAVAILABLE, RedisSemaphore, RedisTokenBucket } from '../src/index.js';
import {
  client,
  closeClients,
  concurrencyProbe,
  deadPort,
  deleteUnder,
  keysUnder,
  uniquePrefix,
  url,
} from './helpers.js';

describe.skipIf(!url)('SafetyValve with Redis sources (rateSource, concurrencySource)', () => {
  const prefix = uniquePrefix();
  afterAll(async () => {
    await deleteUnder(client(), prefix);
    await closeClients();
  });

  it('two valves on two connections share one concurrency cap and one bucket', async () => {
    const instances = [client(), client()].map((redis) => {
      const rateSource = new RedisTokenBucket({
        redis,
        prefix,
        name: 'api',
        rate: 10,
        hz: 50,
        tokenLimit: 10,
        redisErrorPolicy: 'fail-closed',
      });
      const concurrencySource = new RedisSemaphore({
        redis,
        prefix,
        name: 'api',
        limit: 3,
        leaseMs: 4000,
        redisErrorPolicy: 'fail-closed',
      });
      const valve = new SafetyValve({ name: 'api', size: 100, rateSource, concurrencySource });
      return { valve, rateSource, concurrencySource };
    });
    const probe = concurrencyProbe();
    const job = probe.job;
    const results = await Promise.all(
      instances.flatMap(({ valve }) => Array.from({ length: 20 }, () => valve.run(job))),
    );
    expect(results).toHaveLength(40);
    expect(results.every((r) => r === 'ok')).toBe(true);
    expect(probe.max).toBeLessThanOrEqual(3);
    expect(probe.max).toBeGreaterThan(1); // both valves' jobs overlapped: the cap was contended
    for (const { valve, rateSource, concurrencySource } of instances) {
      valve.close();
      await rateSource.close();
      await concurrencySource.close();
    }
    // Only the partial bucket remains, and it expires when it would be full again.
    const left = await keysUnder(client(), prefix);
    expect(left.every((k) => k.endsWith('bucket:api'))).toBe(true);
  }, 10_000);

  it("'fail-closed' sources make the valve reject with ERR_VALVE_REDIS_UNAVAILABLE, never hang", async () => {
    const redis = new Redis({ host: '127.0.0.1', port: await deadPort(), retryStrategy: () => 20 });
    redis.on('error', () => {});
    const concurrencySource = new RedisSemaphore({
      redis,
      name: 'x',
      limit: 1,
      redisErrorPolicy: 'fail-closed',
      commandTimeoutMs: 200,
    });
    const valve = new SafetyValve({ name: 'x', size: 10, concurrencySource });
    const error = await valve.run(() => 'never').catch((e: unknown) => e);
    expect(isValveError(error, ERR_VALVE_REDIS_UNAVAILABLE)).toBe(true);
    valve.close();
    await concurrencySource.close();
    redis.disconnect();
  }, 5000);
});
