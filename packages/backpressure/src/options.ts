import {
  type Clock,
  type MetricsRegistry,
  type NormalizedRetry,
  normalizeRetry,
  type RetryOptions,
  rejectUnknownOptions,
  validateClock,
  validateFunction,
  validateInteger,
  validateMetrics,
  validateNumber,
  validateObject,
  validateOneOf,
  validateString,
} from '@valve/core';
import type { FlushError } from './FlushError.js';
import { STRATEGIES } from './strategies/createStrategy.js';
import type { BackpressureStrategy, DropReason } from './types.js';

export interface BackpressureOptions<T> {
  /**
   * Items written after every retry failed, with a {@link FlushError} that carries them. Required:
   * there is no safe default for data you could not write (the seed logged it and lost it).
   */
  onDeadLetter: (items: T[], error: FlushError<T>) => void;
  /** Every dropped or refused item, with why (also the `onDrop()` event). @default none */
  onDrop?: (items: readonly T[], reason: DropReason) => void;
  /** Most items buffered (an integer >= 1). @default 10000 */
  maxBufferSize?: number;
  /** Fraction 0-1 of the active budget where pressure starts (`critical`; `write()` returns false). @default 0.8 */
  highWatermark?: number;
  /** Fraction 0-1 of the active budget where `elevated` starts and pressure ends (`'drain'`). @default 0.5 */
  lowWatermark?: number;
  /** Band below the low watermark before `elevated` ends (fraction 0-1), against flapping. @default 0.05 */
  hysteresis?: number;
  /** What a push into a full buffer does. @default 'drop_oldest' */
  strategy?: BackpressureStrategy;
  /** `sample`: keep one in this many offered items while above normal (integer >= 1). @default 10 */
  sampleRate?: number;
  /**
   * `block`: longest wait for space, ms (>= 0, or Infinity). 0 refuses at once. The seed's
   * `maxBlockTimeMs || 5000` turned 0 into 5 s. @default 5000
   */
  maxBlockTimeMs?: number;
  /** Most items per flush (integer >= 1); a full batch flushes at once. @default 100 */
  batchSize?: number;
  /** Shortest idle pacing interval (how long a partial batch lingers), ms. @default 100 */
  minFlushIntervalMs?: number;
  /** Longest idle pacing interval, ms. @default 30000 */
  maxFlushIntervalMs?: number;
  /** Flush latency the adaptive interval steers towards, ms (> 0). @default 500 */
  targetLatencyMs?: number;
  /** Flushes in flight at once (integer >= 1). @default 1 */
  flushConcurrency?: number;
  /** Retries of a failed flush: core's `RetryOptions` (p-retry's names) or a count. @default no retries */
  retry?: RetryOptions | number;
  /**
   * Longest one flush attempt may take, ms (> 0, or `Infinity` for no limit). On timeout the
   * `signal` passed to `flush` aborts with a `TimeoutError` and the attempt counts as failed
   * (retried, then dead-lettered); a late resolution of that flush is ignored. Bounds how long
   * a hung sink can hold `drain()`, `stop()` and the process. @default 30000
   */
  flushTimeoutMs?: number;
  /** Size of an item (e.g. bytes), making the budget `maxBufferBytes` as well as `maxBufferSize`. @default none */
  sizeOf?: (item: T) => number;
  /** With `sizeOf`: most total size buffered (> 0). Required with `sizeOf`. */
  maxBufferBytes?: number;
  /** @default systemClock */
  clock?: Clock;
  /** Registry for the `valve_backpressure_*` metrics. @default none */
  metrics?: MetricsRegistry;
  /** Label `valve="…"` on every metric. @default 'backpressure' */
  name?: string;
}

/** Options after validation and defaults. */
export interface NormalizedOptions<T> {
  onDeadLetter: (items: T[], error: FlushError<T>) => void;
  onDrop: ((items: readonly T[], reason: DropReason) => void) | undefined;
  maxBufferSize: number;
  highWatermark: number;
  lowWatermark: number;
  hysteresis: number;
  strategy: BackpressureStrategy;
  sampleRate: number;
  maxBlockTimeMs: number;
  batchSize: number;
  minFlushIntervalMs: number;
  maxFlushIntervalMs: number;
  targetLatencyMs: number;
  flushConcurrency: number;
  retry: NormalizedRetry;
  flushTimeoutMs: number;
  sizeOf: ((item: T) => number) | undefined;
  maxBufferBytes: number;
  clock: Clock;
  metrics: MetricsRegistry | undefined;
  name: string;
}

const KNOWN = [
  'onDeadLetter',
  'onDrop',
  'maxBufferSize',
  'highWatermark',
  'lowWatermark',
  'hysteresis',
  'strategy',
  'sampleRate',
  'maxBlockTimeMs',
  'batchSize',
  'minFlushIntervalMs',
  'maxFlushIntervalMs',
  'targetLatencyMs',
  'flushConcurrency',
  'retry',
  'flushTimeoutMs',
  'sizeOf',
  'maxBufferBytes',
  'clock',
  'metrics',
  'name',
] as const;

/** Validates every option at construction; messages name the option, the value and what is allowed. */
export function normalizeOptions<T>(options: BackpressureOptions<T>): NormalizedOptions<T> {
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', KNOWN);
  const o = options;
  const sizeOf = o.sizeOf === undefined ? undefined : validateFunction<(item: T) => number>(o.sizeOf, 'sizeOf');
  let maxBufferBytes = Number.POSITIVE_INFINITY;
  if (sizeOf) {
    if (o.maxBufferBytes === undefined) throw new TypeError('maxBufferBytes is required with sizeOf, got undefined');
    maxBufferBytes = validateNumber(o.maxBufferBytes, 'maxBufferBytes', { above: 0 });
  } else if (o.maxBufferBytes !== undefined) {
    throw new TypeError('maxBufferBytes needs sizeOf (a function that measures an item), got no sizeOf');
  }
  const clock = validateClock(o.clock);
  const metrics = validateMetrics(o.metrics);
  return {
    onDeadLetter: validateFunction(o.onDeadLetter, 'onDeadLetter'),
    onDrop: o.onDrop === undefined ? undefined : validateFunction(o.onDrop, 'onDrop'),
    maxBufferSize: validateInteger(o.maxBufferSize ?? 10_000, 'maxBufferSize', { min: 1 }),
    // Watermarks and AdaptiveInterval validate their own ranges; these are range checks only.
    highWatermark: validateNumber(o.highWatermark ?? 0.8, 'highWatermark', { above: 0, max: 1 }),
    lowWatermark: validateNumber(o.lowWatermark ?? 0.5, 'lowWatermark', { min: 0, max: 1 }),
    hysteresis: validateNumber(o.hysteresis ?? 0.05, 'hysteresis', { min: 0, max: 1 }),
    strategy: validateOneOf(o.strategy ?? 'drop_oldest', 'strategy', STRATEGIES),
    sampleRate: validateInteger(o.sampleRate ?? 10, 'sampleRate', { min: 1 }),
    maxBlockTimeMs: validateNumber(o.maxBlockTimeMs ?? 5000, 'maxBlockTimeMs', { min: 0, allowInfinity: true }),
    batchSize: validateInteger(o.batchSize ?? 100, 'batchSize', { min: 1 }),
    minFlushIntervalMs: validateNumber(o.minFlushIntervalMs ?? 100, 'minFlushIntervalMs', { min: 0 }),
    maxFlushIntervalMs: validateNumber(o.maxFlushIntervalMs ?? 30_000, 'maxFlushIntervalMs', { min: 0 }),
    targetLatencyMs: validateNumber(o.targetLatencyMs ?? 500, 'targetLatencyMs', { above: 0 }),
    flushConcurrency: validateInteger(o.flushConcurrency ?? 1, 'flushConcurrency', { min: 1 }),
    retry: normalizeRetry(o.retry, 'retry'),
    flushTimeoutMs: validateNumber(o.flushTimeoutMs ?? 30_000, 'flushTimeoutMs', { above: 0, allowInfinity: true }),
    sizeOf,
    maxBufferBytes,
    clock,
    metrics,
    name: validateString(o.name ?? 'backpressure', 'name', { nonEmpty: true }),
  };
}
