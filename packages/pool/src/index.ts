// The public API of @valve/pool. Every export here is a decision: adding one needs a changeset.
import { PromisePool } from './PromisePool.js';

export { PromisePool };
export default PromisePool;
export { PoolClearedError } from './internal/clearAndRunning.js';
export { PoolTimeoutError } from './PoolTimeoutError.js';
export type { MapOptions, MapTask } from './map.js';
export type { MapIterableOptions } from './mapIterable.js';
export type {
  PoolStats,
  PoolSummary,
  PromisePoolOptions,
  RateLimitEvent,
  RunningTask,
  RunOptions,
  SettledEvent,
  Task,
  TaskContext,
  TaskErrorInfo,
  WhenRoomOptions,
} from './options.js';
