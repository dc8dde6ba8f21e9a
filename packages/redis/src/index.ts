// The public API of @valve/redis. Every export here is a decision: adding one needs a changeset.

export { REDIS_ERROR_POLICIES, type RedisErrorPolicy, type RedisSourceOptions } from './options.js';
export { ERR_VALVE_REDIS_UNAVAILABLE, RedisUnavailableError } from './RedisUnavailableError.js';
export { RedisTokenBucket, type RedisTokenBucketOptions } from './RedisTokenBucket.js';
export { RedisSemaphore, type LeaseLost, type RedisSemaphoreOptions } from './RedisSemaphore.js';
export { type Codec, jsonCodec } from './Codec.js';
export {
  type CoalescedFetcher,
  RedisCoalescer,
  type RedisCoalescerOptions,
  type RedisCoalescerStats,
} from './RedisCoalescer.js';
