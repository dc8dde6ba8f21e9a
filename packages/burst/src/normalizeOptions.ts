import {
  type Clock,
  describeValue,
  type MetricsRegistry,
  rejectUnknownOptions,
  validateClock,
  validateFunction,
  validateInteger,
  validateMetrics,
  validateNumber,
  validateObject,
  validateString,
} from '@valve/core';
import type { BatchFetcher, BurstValveOptions, Fetcher, LingerFunction } from './options.js';

export const DEFAULT_DISPLAY_NAME = 'Burst Valve';

const KNOWN_OPTIONS = [
  'displayName',
  'name',
  'fetch',
  'batch',
  'keyOf',
  'timeoutMs',
  'lingerMs',
  'staleWhileRevalidateMs',
  'staleIfErrorMs',
  'maxKeys',
  'maxBatchSize',
  'batchWindowMs',
  'batchScheduleFn',
  'clock',
  'metrics',
  'onError',
] as const;

/** The options only a batch valve (one made with `batch`) can use; `coalesce()` refuses them too. */
export const BATCH_ONLY_OPTIONS = ['maxBatchSize', 'batchWindowMs', 'batchScheduleFn'] as const;

/** The constructor's arguments, validated, with defaults applied. */
export interface NormalizedOptions<T, K> {
  displayName: string;
  name: string;
  fetcher: Fetcher<T, K> | undefined;
  batcher: BatchFetcher<T, K> | undefined;
  keyOf: ((key: K) => unknown) | undefined;
  timeoutMs: number;
  /** A constant lifetime, or a function of the value (see `lingerMs`). */
  lingerMs: number | LingerFunction<T, K>;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  maxKeys: number;
  maxBatchSize: number;
  batchWindowMs: number;
  batchScheduleFn: ((dispatch: () => void) => void) | undefined;
  clock: Clock;
  registry: MetricsRegistry | undefined;
  onError: ((error: unknown, key: K | undefined) => void) | undefined;
}

/**
 * The constructor forms: `(options)`, `(fetcher)`, `(fetcher, options)`, `(displayName, fetcher)`
 * and `(displayName, fetcher, options)`. Every argument is used or refused: `(fetcher, options)` is
 * what DataLoader and p-memoize users write (issue 14 defect 2: it used to drop the options).
 */
export function normalizeArguments<T, K>(args: readonly unknown[]): NormalizedOptions<T, K> {
  const [first, second, third] = args;
  let o: BurstValveOptions<T, K>;
  let max: number;
  if (typeof first === 'string') {
    const rest = trailingOptions<T, K>(third, 'options');
    if (rest.displayName !== undefined) {
      throw new TypeError('options.displayName cannot be given with a displayName argument: give it once');
    }
    o = { ...rest, displayName: first, fetch: validateFunction(second, 'fetcher') };
    max = 3;
  } else if (typeof first === 'function') {
    o = { ...trailingOptions<T, K>(second, 'options'), fetch: first as Fetcher<T, K> };
    max = 2;
  } else {
    validateObject(first, 'options');
    rejectUnknownOptions(first as object, 'options', KNOWN_OPTIONS);
    o = first as BurstValveOptions<T, K>;
    max = 1;
  }
  if (args.length > max) {
    throw new TypeError(
      `new BurstValve() takes at most ${max} argument${max === 1 ? '' : 's'} in this form, got ${args.length}`,
    );
  }
  const displayName = o.displayName === undefined ? DEFAULT_DISPLAY_NAME : validateString(o.displayName, 'displayName');
  if ((o.fetch === undefined) === (o.batch === undefined)) {
    throw new TypeError(
      `${displayName}: give exactly one of fetch and batch, got ${o.fetch === undefined ? 'neither' : 'both'}`,
    );
  }
  const staleWhileRevalidateMs = validateNumber(o.staleWhileRevalidateMs ?? 0, 'staleWhileRevalidateMs', { min: 0 });
  const staleIfErrorMs = validateNumber(o.staleIfErrorMs ?? 0, 'staleIfErrorMs', { min: 0 });
  if (staleIfErrorMs > 0 && staleWhileRevalidateMs === 0) {
    throw new TypeError(
      `${displayName}: staleIfErrorMs (${staleIfErrorMs}) needs staleWhileRevalidateMs > 0: only a stale value's failed refresh is served stale`,
    );
  }
  const batchWindowMs = validateNumber(o.batchWindowMs ?? 0, 'batchWindowMs', { min: 0 });
  const batchScheduleFn =
    o.batchScheduleFn === undefined
      ? undefined
      : validateFunction<(d: () => void) => void>(o.batchScheduleFn, 'batchScheduleFn');
  const maxBatchSize = validateInteger(o.maxBatchSize ?? Number.POSITIVE_INFINITY, 'maxBatchSize', {
    min: 1,
    allowInfinity: true,
  });
  if (o.batch === undefined) {
    // A single-key valve cannot use these: refuse them rather than ignore them (issue 14).
    for (const option of BATCH_ONLY_OPTIONS) {
      if (o[option] !== undefined) {
        throw new TypeError(
          `${displayName}: ${option} applies only to batch valves (give a batch fetcher: batch), got ${describeValue(o[option])}`,
        );
      }
    }
  }
  if (batchWindowMs > 0 && batchScheduleFn !== undefined) {
    throw new TypeError(`${displayName}: give at most one of batchWindowMs and batchScheduleFn, got both`);
  }
  return {
    displayName,
    name: o.name === undefined ? 'burst' : validateString(o.name, 'name', { nonEmpty: true }),
    fetcher: o.fetch === undefined ? undefined : validateFunction(o.fetch, 'fetch'),
    batcher: o.batch === undefined ? undefined : validateFunction(o.batch, 'batch'),
    keyOf: o.keyOf === undefined ? undefined : validateFunction(o.keyOf, 'keyOf'),
    timeoutMs: validateNumber(o.timeoutMs ?? Number.POSITIVE_INFINITY, 'timeoutMs', { above: 0, allowInfinity: true }),
    lingerMs: typeof o.lingerMs === 'function' ? o.lingerMs : validateNumber(o.lingerMs ?? 0, 'lingerMs', { min: 0 }),
    staleWhileRevalidateMs,
    staleIfErrorMs,
    maxKeys: validateInteger(o.maxKeys ?? Number.POSITIVE_INFINITY, 'maxKeys', { min: 1, allowInfinity: true }),
    maxBatchSize,
    batchWindowMs,
    batchScheduleFn,
    clock: validateClock(o.clock),
    registry: validateMetrics(o.metrics),
    onError: o.onError === undefined ? undefined : validateFunction(o.onError, 'onError'),
  };
}

/** The options object after a fetcher: every option but `fetch`/`batch` (the fetcher is given). */
function trailingOptions<T, K>(value: unknown, name: string): BurstValveOptions<T, K> {
  if (value === undefined) return {};
  const o = validateObject(value, name);
  rejectUnknownOptions(o, name, KNOWN_OPTIONS);
  if (o.fetch !== undefined || o.batch !== undefined) {
    throw new TypeError(
      `${name}.${o.fetch !== undefined ? 'fetch' : 'batch'} cannot be given with a fetcher argument: give the fetcher once`,
    );
  }
  return o as BurstValveOptions<T, K>;
}
