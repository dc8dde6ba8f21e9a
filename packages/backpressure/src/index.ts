// The public API of @valve/backpressure. Every export here is a decision: adding one needs a changeset.

export {
  BackpressureController,
  type ConsumeResult,
  type PushOptions,
  type StopOptions,
} from './BackpressureController.js';
export type { BackpressureOptions } from './options.js';
export { FlushError } from './FlushError.js';
export { Watermarks, type WatermarksOptions } from './Watermarks.js';
export { AdaptiveInterval, type AdaptiveIntervalOptions } from './AdaptiveInterval.js';
export { BatchFlusher, type BatchFlusherHooks, type BatchFlusherOptions } from './BatchFlusher.js';
export type { Admission, DropStrategy } from './strategies/DropStrategy.js';
export { Block } from './strategies/Block.js';
export { DropNewest } from './strategies/DropNewest.js';
export { DropOldest } from './strategies/DropOldest.js';
export { Sample } from './strategies/Sample.js';
export { createStrategy, STRATEGIES } from './strategies/createStrategy.js';
export type { PushTarget, WritableOptions } from './writable.js';
export type { WritableStreamOptions } from './writableStream.js';
export {
  DROP_REASONS,
  type BackpressureState,
  type BackpressureStats,
  type BackpressureStrategy,
  type DrainSummary,
  type DropEvent,
  type DropReason,
  type FlushContext,
  type FlushFunction,
  type FlushResult,
  type PressureLevel,
  type StateChange,
} from './types.js';
