import type { Cache } from './Cache.js';
import { MemoryCache } from './MemoryCache.js';
import { RedisCache } from './RedisCache.js';

export type { Cache } from './Cache.js';
export { MemoryCache } from './MemoryCache.js';
export { RedisCache } from './RedisCache.js';

/** Redis when a URL is given (connected before this resolves), else the in-process cache. */
export async function createCache(redisUrl: string | undefined, keyPrefix?: string): Promise<Cache> {
  if (redisUrl === undefined || redisUrl === '') return new MemoryCache();
  const cache = new RedisCache(redisUrl, { keyPrefix });
  try {
    await cache.connect();
  } catch (error) {
    await cache.close();
    throw new Error(`REDIS_URL: cannot connect to Redis: ${(error as Error).message}`, { cause: error });
  }
  return cache;
}
