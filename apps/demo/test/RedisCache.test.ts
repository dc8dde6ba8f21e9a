import { requireService } from '@valve/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache, type Cache } from '../src/cache/index.js';

const url = requireService('REDIS_URL', 'demo Redis cache');

describe.skipIf(url === undefined)('RedisCache (real Redis)', () => {
  let cache: Cache;
  const prefix = `valve:demo-test:${process.pid}:${Date.now()}:`;

  beforeAll(async () => {
    cache = await createCache(url, prefix);
  });

  afterAll(async () => {
    await cache?.delete('a');
    await cache?.delete('short');
    await cache?.close();
  });

  it('is the Redis implementation and round-trips a value', async () => {
    expect(cache.kind).toBe('redis');
    expect(await cache.get('a')).toBeUndefined();
    await cache.set('a', '{"id":1}', 60_000);
    expect(await cache.get('a')).toBe('{"id":1}');
    await cache.delete('a');
    expect(await cache.get('a')).toBeUndefined();
  });

  it('lets Redis expire the entry after its TTL (real time, bounded)', async () => {
    await cache.set('short', 'x', 50);
    expect(await cache.get('short')).toBe('x');
    const deadline = Date.now() + 2000;
    let value: string | undefined = 'x';
    while (value !== undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      value = await cache.get('short');
    }
    expect(value).toBeUndefined();
  });
});

describe('createCache', () => {
  it('fails at start-up naming REDIS_URL when Redis cannot be reached', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    await expect(createCache('redis://127.0.0.1:1')).rejects.toThrow(/REDIS_URL: cannot connect to Redis/);
  });

  it('is in-process without a URL', async () => {
    const cache = await createCache(undefined);
    expect(cache.kind).toBe('memory');
    await cache.close();
  });
});
