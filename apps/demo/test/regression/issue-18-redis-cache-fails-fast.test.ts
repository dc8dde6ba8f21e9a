/**
 * Issue 18, item 3: after Redis restarted, the cached routes answered p50 2.1 s, p99 4.7 s and
 * ~70 % 503s for 5 s: commands waited in ioredis's offline queue through the reconnects. The
 * cache now fails fast while Redis is down, hung or reconnecting (no offline queue, a 100 ms
 * command timeout, then a circuit that skips Redis for retryAfterMs), so a cached route falls
 * back to the database at once, and it uses Redis again once Redis is back.
 *
 * Real Redis (REDIS_URL) behind a TCP proxy on 127.0.0.1 that the test cuts, blackholes and
 * restores; the machine's redis-server is never touched. Waits are bounded; the assertions are
 * on outcomes (which calls were skipped), not on durations.
 */
import { requireService } from '@valve/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { CacheUnavailableError, RedisCache } from '../../src/cache/RedisCache.js';
import { cachedLoader } from '../../src/routes/customers.js';
import { type TcpProxy, tcpProxy } from '../faults/tcpProxy.js';

const url = requireService('REDIS_URL', 'demo Redis cache');

async function eventually(predicate: () => boolean | Promise<boolean>, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.skipIf(url === undefined)('issue 18: the Redis cache fails fast to the database', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(): Promise<{
    proxy: TcpProxy;
    cache: RedisCache;
    dbReads: () => number;
    load: (id: number) => Promise<string | undefined>;
  }> {
    const target = new URL(url!);
    const proxy = await tcpProxy(target.hostname, Number(target.port || 6379));
    cleanups.push(() => proxy.close());
    const cache = new RedisCache(`redis://127.0.0.1:${proxy.port}`, {
      keyPrefix: `valve:demo-test:${process.pid}:${Date.now()}:`,
      retryAfterMs: 200,
    });
    await cache.connect();
    cleanups.push(() => cache.close());
    let reads = 0;
    const errors = { n: 0 };
    const load = cachedLoader(
      async (id) => {
        reads++;
        return `{"id":${id}}`;
      },
      cache,
      60_000,
      { hit: () => {}, miss: () => {}, error: () => errors.n++ },
    );
    return { proxy, cache, dbReads: () => reads, load };
  }

  it('Redis killed (connection refused): reads fall back to the database at once; Redis is used again once back', async () => {
    const { proxy, cache, dbReads, load } = await setup();
    expect(await load(1)).toBe('{"id":1}');
    expect(await load(1)).toBe('{"id":1}'); // a hit
    expect(dbReads()).toBe(1);
    await proxy.cut();
    await eventually(() => cache.unavailable);
    // While it is down every read is skipped without waiting, and the route reads the database.
    await expect(cache.get('customer:1')).rejects.toBeInstanceOf(CacheUnavailableError);
    for (let i = 0; i < 20; i++) expect(await load(1)).toBe('{"id":1}');
    expect(dbReads()).toBe(21);
    await proxy.restore();
    await eventually(() => !cache.unavailable);
    await eventually(async () => (await cache.get('customer:1').catch(() => 'x')) === '{"id":1}');
  });

  it('Redis hung (blackholed): one read waits for the command timeout, the following ones are skipped', async () => {
    const { proxy, cache, dbReads, load } = await setup();
    await load(2);
    proxy.hang();
    // The first read after the hang times out (100 ms) and opens the circuit...
    await expect(cache.get('customer:2')).rejects.toThrow(/timed out/i);
    // ...and every read in the next retryAfterMs is skipped at once.
    const skipped = await Promise.allSettled(Array.from({ length: 50 }, () => cache.get('customer:2')));
    expect(skipped.every((r) => r.status === 'rejected' && r.reason instanceof CacheUnavailableError)).toBe(true);
    const before = dbReads();
    expect(await load(2)).toBe('{"id":2}');
    expect(dbReads()).toBe(before + 1);
    await proxy.restore();
    await eventually(async () => (await cache.get('customer:2').catch(() => 'x')) === '{"id":2}', 10_000);
  });
});
