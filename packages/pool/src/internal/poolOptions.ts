import {
  type Clock,
  describeValue,
  type ConcurrencySource,
  isLimit,
  LocalConcurrency,
  type MetricsRegistry,
  type NormalizedRetry,
  normalizeRetry,
  type RateSource,
  rejectUnknownOptions,
  TokenBucket,
  validateBoolean,
  validateClock,
  validateFunction,
  validateInteger,
  validateMetrics,
  validateNumber,
  validateObject,
  validateSignal,
  validateString,
} from '@valve/core';
import type { PromisePoolOptions, RunOptions, TaskErrorInfo } from '../options.js';

const KNOWN_OPTIONS = [
  'maxWorkers',
  'concurrencySource',
  'rate',
  'hz',
  'tokenLimit',
  'rateSource',
  'taskTimeoutMs',
  'releaseOnTimeout',
  'runtimeLimitMs',
  'idleTimeoutMs',
  'retry',
  'onError',
  'maxErrors',
  'metrics',
  'name',
  'clock',
  'maxQueued',
  'trackRunning',
  'agingMs',
] as const;

/** A pool's options, checked, with their defaults applied and its sources made. */
export interface PoolConfig {
  name: string;
  clock: Clock;
  /** The fixed cap when `concurrency` is undefined (counted, no permits). */
  maxWorkers: number;
  /** A concurrency source (custom, or made for an adaptive `maxWorkers` Limit). */
  concurrency: ConcurrencySource | undefined;
  rate: RateSource | undefined;
  /** Sources the pool made and closes. */
  owned: { close?(): void }[];
  taskTimeoutMs: number | undefined;
  releaseOnTimeout: boolean;
  runtimeLimitMs: number | undefined;
  idleTimeoutMs: number | undefined;
  retry: NormalizedRetry | undefined;
  onError: ((error: unknown, info: TaskErrorInfo) => void) | undefined;
  maxErrors: number;
  metrics: MetricsRegistry | undefined;
  /** Tasks that may wait (Infinity: unbounded). */
  maxQueued: number;
  /** Keep a record of each running task for `runningTasks` (forces the reference path). */
  trackRunning: boolean;
  /** Priority aging: a task that waited this long starts before any that did not (forces the reference path). */
  agingMs: number | undefined;
}

/**
 * Checks every option (a `TypeError`/`RangeError` naming the option, the value and what is
 * allowed) before any source is made or subscribed to, then makes the sources.
 */
export function poolConfig(options: PromisePoolOptions): PoolConfig {
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', KNOWN_OPTIONS);
  const clock = validateClock(options.clock);
  const name = validateString(options.name ?? 'pool', 'name', { nonEmpty: true });
  const taskTimeoutMs = optionalMs(options.taskTimeoutMs, 'taskTimeoutMs');
  const releaseOnTimeout =
    options.releaseOnTimeout === undefined ? true : validateBoolean(options.releaseOnTimeout, 'releaseOnTimeout');
  const runtimeLimitMs = optionalMs(options.runtimeLimitMs, 'runtimeLimitMs');
  const idleTimeoutMs = optionalMs(options.idleTimeoutMs, 'idleTimeoutMs');
  const r = options.retry === undefined ? undefined : normalizeRetry(options.retry, 'retry');
  const onError =
    options.onError === undefined
      ? undefined
      : (validateFunction(options.onError, 'onError') as (error: unknown, info: TaskErrorInfo) => void);
  const maxErrors = validateInteger(options.maxErrors ?? 10, 'maxErrors', { min: 0 });
  validateMetrics(options.metrics);
  const maxQueued = validateInteger(options.maxQueued ?? Number.POSITIVE_INFINITY, 'maxQueued', {
    min: 1,
    allowInfinity: true,
  });
  const trackRunning =
    options.trackRunning === undefined ? false : validateBoolean(options.trackRunning, 'trackRunning');
  const agingMs = optionalMs(options.agingMs, 'agingMs');

  let maxWorkers = 0;
  let concurrency: ConcurrencySource | undefined;
  const adaptive = isLimit(options.maxWorkers);
  if (options.concurrencySource !== undefined) {
    if (options.maxWorkers !== undefined) {
      throw new TypeError('maxWorkers and concurrencySource cannot both be set: the source replaces maxWorkers');
    }
    validateShape(options.concurrencySource, 'concurrencySource', ['tryAcquire', 'acquire', 'onAvailable']);
    concurrency = options.concurrencySource;
  } else if (!adaptive) {
    if (typeof options.maxWorkers === 'object' && options.maxWorkers !== null) {
      throw new TypeError('maxWorkers must be an integer >= 1, Infinity or a Limit (limit, onSample, onChange)');
    }
    maxWorkers = validateInteger(options.maxWorkers ?? 4, 'maxWorkers', { min: 1, allowInfinity: true });
  }

  const owned: { close?(): void }[] = [];
  let rate: RateSource | undefined;
  const bucketSet = options.rate !== undefined || options.hz !== undefined || options.tokenLimit !== undefined;
  if (options.rateSource !== undefined) {
    if (bucketSet) {
      throw new TypeError('rate/hz/tokenLimit and rateSource cannot both be set: the source replaces the bucket');
    }
    validateShape(options.rateSource, 'rateSource', ['tryAcquire', 'acquire', 'onAvailable', 'nextTokenInMs']);
    rate = options.rateSource;
  } else if (bucketSet) {
    if (options.rate === undefined || options.hz === undefined) {
      throw new TypeError(`rate and hz must be set together (rate = ${options.rate}, hz = ${options.hz})`);
    }
    const perRefill = validateInteger(options.rate, 'rate', { min: 1 });
    const bucket = new TokenBucket({
      rate: perRefill,
      hz: validateNumber(options.hz, 'hz', { above: 0 }),
      tokenLimit: validateInteger(options.tokenLimit ?? perRefill, 'tokenLimit', { min: 1 }),
      clock,
    });
    owned.push(bucket);
    rate = bucket;
  }
  if (adaptive) {
    const local = new LocalConcurrency({ limit: options.maxWorkers as never, clock });
    owned.push(local);
    concurrency = local;
  }
  return {
    name,
    clock,
    maxWorkers,
    concurrency,
    rate,
    owned,
    taskTimeoutMs,
    releaseOnTimeout,
    runtimeLimitMs,
    idleTimeoutMs,
    retry: r !== undefined && r.retries > 0 ? r : undefined,
    onError,
    maxErrors,
    metrics: options.metrics,
    maxQueued,
    trackRunning,
    agingMs,
  };
}

function optionalMs(value: unknown, name: string): number | undefined {
  return value === undefined ? undefined : validateNumber(value, name, { above: 0 });
}

function validateShape(value: unknown, name: string, methods: readonly string[]): void {
  validateObject(value, name);
  for (const m of methods) {
    if (typeof (value as Record<string, unknown>)[m] !== 'function') {
      throw new TypeError(`${name}.${m} must be a function, got ${typeof (value as Record<string, unknown>)[m]}`);
    }
  }
}

const RUN_OPTIONS = ['priority', 'signal', 'timeoutMs', 'meta'] as const;

/** `run()`'s per-call options, checked (unknown keys included); `timeoutMs` defaults to the pool's. */
export function runConfig(
  options: RunOptions,
  timeoutMs: number | undefined,
  trackRunning = false,
): { priority: number; signal: AbortSignal | undefined; timeoutMs: number | undefined; meta: unknown } {
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', RUN_OPTIONS);
  if (options.meta !== undefined && !trackRunning) {
    throw new TypeError('options.meta is kept only by a pool made with trackRunning: true (see runningTasks)');
  }
  return {
    meta: options.meta,
    priority: options.priority === undefined ? 0 : validateNumber(options.priority, 'priority'),
    signal: validateSignal(options.signal, 'signal'),
    timeoutMs:
      options.timeoutMs === undefined ? timeoutMs : validateNumber(options.timeoutMs, 'timeoutMs', { above: 0 }),
  };
}

/** `add()` was given something that is not a task (the caller's mistake: a TypeError, nothing added). */
export function throwNotATask(index: number, value: unknown): never {
  throw new TypeError(`add(): task ${index} must be a function returning a promise, got ${describeValue(value)}`);
}
