import { isValveError, ManualClock, type Permit } from '@valve/core';
import { track } from '@valve/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ERR_VALVE_REDIS_UNAVAILABLE, RedisSemaphore, RedisTokenBucket } from '../src/index.js';
import {
  blackhole,
  client,
  closeClients,
  deadPort,
  deleteUnder,
  eventually,
  redisProxy,
  sleep,
  uniquePrefix,
  url,
} from './helpers.js';

/** A client that retries its connection quickly (so recovery tests stay short) and never logs. */
function quickClient(port: number, extra: Record<string, unknown> = {}): Redis {
  const c = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 20, ...extra });
  c.on('error', () => {});
  return c;
}

describe('Redis that is not there (nothing listening)', () => {
  const clients: Redis[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  it("'fail-closed' rejects with ERR_VALVE_REDIS_UNAVAILABLE carrying the cause, then fails fast", async () => {
    const redis = quickClient(await deadPort());
    clients.push(redis);
    const bucket = new RedisTokenBucket({
      redis,
      name: 'x',
      rate: 1,
      hz: 100,
      tokenLimit: 1,
      redisErrorPolicy: 'fail-closed',
      commandTimeoutMs: 300,
    });
    const sem = new RedisSemaphore({
      redis,
      name: 'x',
      limit: 1,
      redisErrorPolicy: 'fail-closed',
      commandTimeoutMs: 300,
    });
    const first = await bucket.acquire().catch((e: unknown) => e);
    expect(isValveError(first, ERR_VALVE_REDIS_UNAVAILABLE)).toBe(true);
    expect((first as Error).cause).toBeInstanceOf(Error);
    expect((first as Error).message).toMatch(/Redis is unavailable/);
    const second = await sem.acquire().catch((e: unknown) => e);
    expect(isValveError(second, ERR_VALVE_REDIS_UNAVAILABLE)).toBe(true);
    expect(bucket.tryAcquire()).toBe(false);
    expect(sem.tryAcquire()).toBeUndefined();
    await bucket.close();
    await sem.close();
  }, 3000);

  it("'fail-open' falls back to in-process limits with the same numbers", async () => {
    const redis = quickClient(await deadPort());
    clients.push(redis);
    const bucket = new RedisTokenBucket({
      redis,
      name: 'x',
      rate: 1,
      hz: 50,
      tokenLimit: 2,
      redisErrorPolicy: 'fail-open',
      commandTimeoutMs: 300,
    });
    await bucket.acquire();
    expect(bucket.failingOpen).toBe(true);
    expect(bucket.tryAcquire()).toBe(true); // the local bucket answers synchronously now
    expect(bucket.tryAcquire()).toBe(false); // ...with the same tokenLimit
    await bucket.acquire(); // and refills at the same rate
    const sem = new RedisSemaphore({
      redis,
      name: 'x',
      limit: 2,
      redisErrorPolicy: 'fail-open',
      commandTimeoutMs: 300,
    });
    const a = await sem.acquire();
    const b = await sem.acquire();
    expect(sem.inUse).toBe(2);
    const c = track(sem.acquire());
    await sleep(10);
    expect(c.state).toBe('pending'); // the local cap is `limit`
    a.release();
    await eventually(() => c.state === 'resolved', 1000, 5);
    b.release();
    (c.value as Permit).release();
    expect(sem.inUse).toBe(0);
    await bucket.close();
    await sem.close();
  }, 3000);
});

describe('Redis that hangs (accepts, never answers)', () => {
  it('commandTimeoutMs bounds every call on the injected clock: fail-closed rejects, fail-open falls back', async () => {
    const hole = await blackhole();
    // Connected, but its handshake (HELLO) is never answered, so every command waits forever.
    const redis = quickClient(hole.port);
    await eventually(() => redis.status === 'connect', 1000, 5);
    const clock = new ManualClock();
    const common = { redis, clock, commandTimeoutMs: 500 } as const;
    const closed = new RedisSemaphore({ ...common, name: 's', limit: 1, redisErrorPolicy: 'fail-closed' });
    const open = new RedisTokenBucket({
      ...common,
      name: 'b',
      rate: 1,
      hz: 1000,
      tokenLimit: 1,
      redisErrorPolicy: 'fail-open',
    });
    const rejected = track(closed.acquire());
    const fallback = track(open.acquire());
    await clock.advanceAsync(499);
    expect(rejected.state).toBe('pending');
    expect(fallback.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(rejected.state).toBe('rejected');
    expect(isValveError(rejected.error, ERR_VALVE_REDIS_UNAVAILABLE)).toBe(true);
    expect(isValveError((rejected.error as Error).cause, 'ERR_VALVE_TIMEOUT')).toBe(true);
    expect(fallback.state).toBe('resolved');
    // During probeIntervalMs nothing more is sent: the next call fails (or falls back) at once.
    await expect(closed.acquire()).rejects.toMatchObject({ code: ERR_VALVE_REDIS_UNAVAILABLE });
    expect(clock.refedTimers).toBe(0);
    await closed.close();
    await open.close();
    redis.disconnect();
    await hole.close();
  }, 3000);
});

describe.skipIf(!url)('Redis that goes away and comes back', () => {
  const prefix = uniquePrefix();
  afterAll(async () => {
    await deleteUnder(client(), prefix);
    await closeClients();
  });

  it('a client you disconnect: fail-closed rejects, then recovers once it is connected again', async () => {
    const redis = client();
    const observer = client();
    const sem = new RedisSemaphore({
      redis,
      prefix,
      name: 'd',
      limit: 2,
      redisErrorPolicy: 'fail-closed',
      probeIntervalMs: 50,
    });
    (await sem.acquire()).release();
    // Let the release land first (a release cut off by the disconnect would wait for its lease).
    await eventually(async () => (await observer.zcard(sem.key)) === 0, 1000, 5);
    redis.disconnect();
    await expect(sem.acquire()).rejects.toMatchObject({ code: ERR_VALVE_REDIS_UNAVAILABLE });
    await redis.connect();
    await sleep(60);
    const p = await sem.acquire();
    expect(await observer.zcard(sem.key)).toBe(1); // the permit came from Redis again
    p.release();
    await sem.close();
  }, 3000);

  it('an outage rejects waiting callers (fail-closed) at once, and a recovery restores the shared cap', async () => {
    const proxy = await redisProxy();
    const redis = quickClient(proxy.port);
    const holder = client();
    const common = { prefix, name: 'o', limit: 1, leaseMs: 30_000, probeIntervalMs: 50 } as const;
    const other = new RedisSemaphore({ ...common, redis: holder, redisErrorPolicy: 'fail-closed' });
    const sem = new RedisSemaphore({ ...common, redis, redisErrorPolicy: 'fail-closed' });
    const held = await other.acquire();
    const waiting = track(sem.acquire());
    await sleep(50);
    expect(waiting.state).toBe('pending');
    await proxy.cut();
    // Woken by the dropped connection, not by the 30 s lease expiry.
    await eventually(() => waiting.state === 'rejected', 1000, 5);
    expect(isValveError(waiting.error, ERR_VALVE_REDIS_UNAVAILABLE)).toBe(true);
    await proxy.restore();
    await eventually(() => redis.status === 'ready', 4000, 10);
    await sleep(60);
    const again = track(sem.acquire());
    await sleep(50);
    expect(again.state).toBe('pending'); // the shared cap (held by `other`) applies again
    held.release();
    await eventually(() => again.state === 'resolved', 1000, 5);
    (again.value as Permit).release();
    await other.close();
    await sem.close();
    redis.disconnect();
    await proxy.close();
  }, 10_000);

  it("'fail-open' serves from the local fallback during an outage and returns to Redis after it", async () => {
    const proxy = await redisProxy();
    const redis = quickClient(proxy.port);
    const observer = client();
    const sem = new RedisSemaphore({
      redis,
      prefix,
      name: 'fo',
      limit: 1,
      redisErrorPolicy: 'fail-open',
      probeIntervalMs: 50,
      commandTimeoutMs: 200,
    });
    const bucket = new RedisTokenBucket({
      redis,
      prefix,
      name: 'fo',
      rate: 1,
      hz: 60_000,
      tokenLimit: 1,
      redisErrorPolicy: 'fail-open',
      probeIntervalMs: 50,
      commandTimeoutMs: 200,
    });
    await bucket.acquire(); // the shared bucket is now empty for a minute
    await proxy.cut();
    await eventually(() => redis.status !== 'ready', 1000, 5);
    const local = await sem.acquire();
    expect(sem.failingOpen).toBe(true);
    expect(await observer.zcard(sem.key)).toBe(0); // not in Redis
    await bucket.acquire(); // the local bucket starts full
    local.release();
    await proxy.restore();
    await eventually(() => redis.status === 'ready', 4000, 10);
    await sleep(60);
    const shared = await sem.acquire();
    expect(sem.failingOpen).toBe(false);
    expect(await observer.zcard(sem.key)).toBe(1);
    shared.release();
    // Back on the shared bucket, which is still empty: the caller waits instead of taking one.
    const controller = new AbortController();
    const w = track(bucket.acquire(controller.signal));
    await sleep(50);
    expect(w.state).toBe('pending');
    controller.abort();
    await sem.close();
    await bucket.close();
    redis.disconnect();
    await proxy.close();
  }, 10_000);
});
