import { ValveError } from '@valve/core';

/** The stable code of {@link RedisUnavailableError}; match with `isValveError(e, ERR_VALVE_REDIS_UNAVAILABLE)`. */
export const ERR_VALVE_REDIS_UNAVAILABLE = 'ERR_VALVE_REDIS_UNAVAILABLE';

/**
 * Redis could not answer (connection refused or lost, a command timed out, a script failed) and
 * the source's `redisErrorPolicy` is `'fail-closed'`. `cause` holds what ioredis reported (or a
 * core `TimeoutError` for `commandTimeoutMs`). It has no `reason`: it is neither a drop nor a
 * rate limit, but a refusal because the shared limit could not be consulted.
 */
export class RedisUnavailableError extends ValveError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(ERR_VALVE_REDIS_UNAVAILABLE, message, { cause: options.cause });
  }
}
