/**
 * Fault probe (issue 18, item 2): Redis blackholed (connections stay open, nothing is answered)
 * under a SafetyValve whose concurrency and rate come from @valve/redis (a RedisSemaphore and a
 * RedisTokenBucket on one ioredis client), through a local TCP proxy (the machine's redis-server
 * is never touched). Before the fix, 'fail-open' settled about one queued call per timeout (20
 * queued: 0 settled at 2 s, 9 at 20 s). Now the first timeout opens the client's circuit and
 * every queued call is admitted by the in-process fallback; when Redis answers again, a
 * background PING sends the sources back to Redis. 'fail-closed' refuses in the same bound.
 *
 * Real time against a real server, bounded: the bound is one extra command timeout of margin
 * (a wedged valve needed about one timeout per call).
 */
import { isValveError } from '@valve/core';
import { ERR_VALVE_REDIS_UNAVAILABLE, RedisSemaphore, RedisTokenBucket } from '@valve/redis';
import { SafetyValve } from '@valve/safety';
import { requireService } from '@valve/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { uniquePrefix } from '../helpers.js';
import { type TcpProxy, tcpProxy } from './tcpProxy.js';

const redisUrl = requireService('REDIS_URL', 'Redis');
const COMMAND_TIMEOUT_MS = 1000;
const CALLS = 20;

async function eventually(predicate: () => Promise<boolean> | boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(!redisUrl)('fault probe: Redis blackholed under @valve/redis sources', () => {
  const prefix = uniquePrefix('redis_fail_open');
  const closers: (() => Promise<unknown> | unknown)[] = [];
  let proxy: TcpProxy;

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await proxy?.close();
    const direct = new Redis(redisUrl!);
    const keys = await direct.keys(`${prefix}*`);
    if (keys.length > 0) await direct.del(...keys);
    direct.disconnect();
  });

  /** A valve on a semaphore and a bucket that share one client through the proxy. */
  function valveVia(port: number, redisErrorPolicy: 'fail-open' | 'fail-closed') {
    const redis = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 50 });
    redis.on('error', () => {});
    const common = { redis, prefix, redisErrorPolicy, commandTimeoutMs: COMMAND_TIMEOUT_MS } as const;
    const concurrencySource = new RedisSemaphore({ ...common, name: redisErrorPolicy, limit: 4 });
    const rateSource = new RedisTokenBucket({
      ...common,
      name: redisErrorPolicy,
      rate: 100,
      hz: 1000,
      tokenLimit: 100,
    });
    const valve = new SafetyValve({ name: redisErrorPolicy, size: 100, concurrencySource, rateSource });
    closers.push(
      () => valve.close(),
      () => concurrencySource.close(),
      () => rateSource.close(),
      () => redis.disconnect(),
    );
    return { valve, concurrencySource, rateSource };
  }

  /** Queues CALLS calls at once; resolves with each call's outcome and settle time in ms. */
  async function queue(valve: SafetyValve) {
    const start = performance.now();
    return Promise.all(
      Array.from({ length: CALLS }, (_, i) =>
        valve
          .run(async () => i)
          .then(
            (value) => ({ ok: true as const, value, ms: performance.now() - start }),
            (error: unknown) => ({ ok: false as const, error, ms: performance.now() - start }),
          ),
      ),
    );
  }

  it("'fail-open' admits all 20 queued calls within commandTimeoutMs (plus one more as margin), 'fail-closed' refuses them as fast; both return to Redis after it", async () => {
    const target = new URL(redisUrl!);
    proxy = await tcpProxy(target.hostname, Number(target.port || 6379));
    const open = valveVia(proxy.port, 'fail-open');
    const closed = valveVia(proxy.port, 'fail-closed');
    // Warm-up: connected, scripts loaded, both valves answered by Redis.
    for (const v of [open, closed]) {
      expect((await queue(v.valve)).every((r) => r.ok)).toBe(true);
      expect(v.concurrencySource.failingOpen).toBe(false);
    }

    proxy.hang();
    const [opened, refused] = await Promise.all([queue(open.valve), queue(closed.valve)]);
    const bound = 2 * COMMAND_TIMEOUT_MS;
    expect(opened.map((r) => r.ok)).toEqual(opened.map(() => true));
    expect(Math.max(...opened.map((r) => r.ms))).toBeLessThan(bound);
    expect(refused.every((r) => !r.ok && isValveError(r.error, ERR_VALVE_REDIS_UNAVAILABLE))).toBe(true);
    expect(Math.max(...refused.map((r) => r.ms))).toBeLessThan(bound);
    expect(open.concurrencySource.failingOpen).toBe(true);
    expect(open.rateSource.failingOpen).toBe(true);

    // Redis answers again: the clients reconnect and the background probe closes the circuits.
    await proxy.restore();
    await eventually(() => !open.concurrencySource.failingOpen && !open.rateSource.failingOpen, 10_000);
    expect((await queue(open.valve)).every((r) => r.ok)).toBe(true);
    await eventually(async () => (await queue(closed.valve)).every((r) => r.ok), 10_000);
  }, 30_000);
});
