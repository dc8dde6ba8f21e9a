import type { Clock } from './clock/Clock.js';
import { systemClock } from './clock/systemClock.js';
import { abortReason } from './errors/ValveError.js';
import {
  rejectUnknownOptions,
  validateBoolean,
  validateFunction,
  validateInteger,
  validateNumber,
  validateObject,
} from './validate.js';

/**
 * valve's `retry` option: p-retry's option names and backoff formula
 * (`min(maxTimeout, minTimeout * factor^(attempt-1))`, times a random 1-2 with `randomize`),
 * but every wait is on the injected clock, so retries are testable with a ManualClock and an
 * abort cancels a pending backoff. Default: no retries.
 */
export interface RetryOptions {
  /** Retries after the first attempt. @default 0 */
  retries?: number;
  /** @default 2 */
  factor?: number;
  /** First backoff, ms. @default 1000 */
  minTimeout?: number;
  /** Largest backoff, ms. @default Infinity */
  maxTimeout?: number;
  /** Multiply each backoff by a random factor from 1 to 2. @default false */
  randomize?: boolean;
  /** Return false to stop retrying this error. @default () => true */
  shouldRetry?: (context: RetryContext) => boolean | Promise<boolean>;
  /** Called after each failed attempt (before the backoff). */
  onFailedAttempt?: (context: RetryContext) => void | Promise<void>;
}

export interface RetryContext {
  error: unknown;
  /** 1 for the first attempt. */
  attemptNumber: number;
  /** Retries still allowed after this failure, as p-retry counts them: 0 on the last attempt. */
  retriesLeft: number;
}

export type NormalizedRetry = Required<Omit<RetryOptions, 'shouldRetry' | 'onFailedAttempt'>> &
  Pick<RetryOptions, 'shouldRetry' | 'onFailedAttempt'>;

const RETRY_OPTIONS = [
  'retries',
  'factor',
  'minTimeout',
  'maxTimeout',
  'randomize',
  'shouldRetry',
  'onFailedAttempt',
] as const;

/**
 * What `normalizeRetry` returned: `retry()` takes these as they are, so a valve that normalized its
 * `retry` option at construction pays no check per task.
 */
const normalized = new WeakSet<object>();

export function normalizeRetry(value: RetryOptions | number | undefined, name = 'retry'): NormalizedRetry {
  if (typeof value === 'object' && value !== null && normalized.has(value)) return value as NormalizedRetry;
  const o: RetryOptions = typeof value === 'number' ? { retries: value } : (value ?? {});
  if (typeof value !== 'number' && value !== undefined) {
    validateObject(value, name);
    rejectUnknownOptions(value, name, RETRY_OPTIONS);
  }
  const out: NormalizedRetry = {
    retries: validateInteger(o.retries ?? 0, `${name}.retries`, { min: 0, allowInfinity: true }),
    factor: validateNumber(o.factor ?? 2, `${name}.factor`, { min: 1 }),
    minTimeout: validateNumber(o.minTimeout ?? 1000, `${name}.minTimeout`, { min: 0 }),
    maxTimeout: validateNumber(o.maxTimeout ?? Number.POSITIVE_INFINITY, `${name}.maxTimeout`, {
      min: 0,
      allowInfinity: true,
    }),
    randomize: validateBoolean(o.randomize ?? false, `${name}.randomize`),
    shouldRetry: o.shouldRetry === undefined ? undefined : validateFunction(o.shouldRetry, `${name}.shouldRetry`),
    onFailedAttempt:
      o.onFailedAttempt === undefined ? undefined : validateFunction(o.onFailedAttempt, `${name}.onFailedAttempt`),
  };
  if (out.maxTimeout < out.minTimeout) {
    throw new RangeError(`${name}.maxTimeout must be >= minTimeout (${out.minTimeout}), got ${out.maxTimeout}`);
  }
  normalized.add(out);
  return out;
}

/** The backoff before attempt `attemptNumber + 1`, in ms. */
export function backoffMs(retry: NormalizedRetry, attemptNumber: number, random: () => number = Math.random): number {
  const base = retry.minTimeout * retry.factor ** (attemptNumber - 1);
  const jitter = retry.randomize ? 1 + random() : 1;
  return Math.min(retry.maxTimeout, Math.round(base * jitter));
}

/** Waits `ms` on the clock; rejects with `signal.reason` on abort. The timer keeps the process alive. */
export function delay(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.clear();
      reject(abortReason(signal!));
    };
    const timer = clock
      .setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms)
      .ref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryRunOptions {
  clock?: Clock;
  signal?: AbortSignal;
}

/**
 * Runs `fn` until it resolves, retries run out, or `shouldRetry` says no; rejects with the
 * last error, unchanged. An abort stops it with `signal.reason`.
 */
export async function retry<T>(
  fn: (attemptNumber: number) => T | PromiseLike<T>,
  options: RetryOptions | NormalizedRetry | number | undefined,
  run: RetryRunOptions = {},
): Promise<T> {
  const r = normalizeRetry(options as RetryOptions);
  const clock = run.clock ?? systemClock;
  const signal = run.signal;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortReason(signal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      // As p-retry counts: retries still allowed after this failure (0 on the last attempt).
      const retriesLeft = r.retries - (attempt - 1);
      const context: RetryContext = { error, attemptNumber: attempt, retriesLeft };
      if (r.onFailedAttempt) await r.onFailedAttempt(context);
      if (retriesLeft <= 0) throw error;
      if (r.shouldRetry && !(await r.shouldRetry(context))) throw error;
      await delay(clock, backoffMs(r, attempt), signal);
    }
  }
}
