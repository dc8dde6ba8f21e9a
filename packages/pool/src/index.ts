// The public API of @valve/pool. Every export here is a decision: adding one needs a changeset.
import { PromisePool } from './PromisePool.js';

export { PromisePool };
export default PromisePool;
export { PoolTimeoutError } from './PoolTimeoutError.js';
export type { MapOptions, MapTask } from './map.js';
export type {
  PoolStats,
  PoolSummary,
  PromisePoolOptions,
  RunOptions,
  SettledEvent,
  Task,
  TaskContext,
  TaskErrorInfo,
} from './options.js';
