import {
  type Clock,
  validateClock,
  validateFunction,
  validateInteger,
  validateObject,
  validateOneOf,
  validateString,
} from '@valve/core';
import type { Cluster, Redis } from 'ioredis';
import { REDIS_ERROR_POLICIES, type RedisErrorPolicy, type RedisSourceOptions } from '../options.js';

export const COMMON_OPTION_KEYS = [
  'redis',
  'name',
  'prefix',
  'redisErrorPolicy',
  'commandTimeoutMs',
  'probeIntervalMs',
  'clock',
] as const;

export interface NormalizedCommon {
  redis: Redis | Cluster;
  name: string;
  prefix: string;
  policy: RedisErrorPolicy;
  commandTimeoutMs: number;
  probeIntervalMs: number;
  clock: Clock;
}

/** Validates the options shared by every source; each message names the option and the value. */
export function normalizeCommon(options: RedisSourceOptions): NormalizedCommon {
  const redis = validateObject(options.redis, 'redis') as unknown as Redis;
  validateFunction(redis.evalsha, 'redis.evalsha');
  validateFunction(redis.eval, 'redis.eval');
  const clock = validateClock(options.clock);
  return {
    redis,
    name: validateString(options.name, 'name', { nonEmpty: true }),
    prefix: validateString(options.prefix ?? 'valve:', 'prefix'),
    policy: validateOneOf(options.redisErrorPolicy, 'redisErrorPolicy', REDIS_ERROR_POLICIES),
    commandTimeoutMs: validateInteger(options.commandTimeoutMs ?? 1000, 'commandTimeoutMs', { min: 1 }),
    probeIntervalMs: validateInteger(options.probeIntervalMs ?? 1000, 'probeIntervalMs', { min: 0 }),
    clock,
  };
}
