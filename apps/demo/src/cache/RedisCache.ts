/** A Redis TTL cache through ioredis (`SET key value PX ttl`), for `REDIS_URL`. */
import { Redis } from 'ioredis';
import type { Cache } from './Cache.js';

export interface RedisCacheOptions {
  /** Prefix of every key, so several demos (or tests) can share a server. @default 'valve:demo:' */
  keyPrefix?: string;
}

export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;

  constructor(url: string, options: RedisCacheOptions = {}) {
    this.redis = new Redis(url, {
      keyPrefix: options.keyPrefix ?? 'valve:demo:',
      lazyConnect: true,
      // Fail a command after 2 reconnect attempts instead of queueing it forever: a cache that
      // is down must turn into a database read or an error, never a hung request.
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
    });
    // Connection errors surface on the commands; without a listener ioredis logs them itself.
    this.redis.on('error', () => {});
  }

  /** Connects, so a wrong REDIS_URL fails at start-up rather than on the first request. */
  async connect(): Promise<void> {
    await this.redis.connect();
    await this.redis.ping();
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(key);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
