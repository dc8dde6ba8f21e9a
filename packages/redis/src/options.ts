import type { Clock } from '@valve/core';
import type { Cluster, Redis } from 'ioredis';

/**
 * What a source does when Redis cannot answer:
 * - `'fail-open'`: admit through an in-process source with the same numbers (a core
 *   `TokenBucket` or `LocalConcurrency`), so each instance enforces the limit on its own
 *   until Redis is back (the cluster then admits up to instances × limit);
 * - `'fail-closed'`: reject with a `RedisUnavailableError` (`ERR_VALVE_REDIS_UNAVAILABLE`).
 */
export type RedisErrorPolicy = 'fail-open' | 'fail-closed';

export const REDIS_ERROR_POLICIES: readonly RedisErrorPolicy[] = Object.freeze(['fail-open', 'fail-closed']);

/** Options every Redis-backed source takes. */
export interface RedisSourceOptions {
  /**
   * The ioredis client to run commands on. The source never closes it (you own it); a source
   * that needs pub/sub opens its own `redis.duplicate()` and closes that in `close()`.
   */
  redis: Redis | Cluster;
  /**
   * The limit's name, shared by every instance that must share the limit; part of the Redis key.
   * Required: two unrelated limits that defaulted to one name would silently share a budget.
   */
  name: string;
  /** Prepended to every Redis key and channel this source uses. @default 'valve:' */
  prefix?: string;
  /** What to do when Redis cannot answer. Required: neither choice is safe for everyone. */
  redisErrorPolicy: RedisErrorPolicy;
  /**
   * Milliseconds to wait for one Redis reply before treating Redis as unavailable (an integer
   * >= 1). Late replies are ignored: a token they took is lost, a lease they added expires.
   * @default 1000
   */
  commandTimeoutMs?: number;
  /**
   * After a failure (an error, or no reply within `commandTimeoutMs`), every source on the same
   * client skips Redis and goes straight to its policy, so an outage costs callers nothing
   * instead of a timeout each; meanwhile a background `PING` every `probeIntervalMs` ms (and
   * one as soon as the client reconnects) looks for Redis, and the first answer sends calls to
   * Redis again (an integer >= 0; 0: never skip, every call asks Redis and may wait out its
   * timeout).
   * @default 1000
   */
  probeIntervalMs?: number;
  /** Timers (waits, renewals, timeouts). Never used for the limit's own time, which is Redis `TIME`. @default systemClock */
  clock?: Clock;
}
