// Issue 14: "no constructor or method anywhere may silently ignore an argument". A single-key
// BurstValve accepted `maxBatchSize` (and `batchWindowMs: 0`) and ignored it: the option only
// means something when a batch fetcher (`batch`) is given. Every batch-only option now throws a
// TypeError on a single-key valve, in every constructor form, naming the option and its value.
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';

const fetch = async (key: string) => key;
const batch = async (keys: readonly string[]) => [...keys];
const Untyped = BurstValve as unknown as new (...args: unknown[]) => BurstValve<string, string>;

describe('issue 14: batch-only options on a single-key BurstValve throw', () => {
  it.each([
    [{ maxBatchSize: 10 }, 'maxBatchSize', '10'],
    [{ maxBatchSize: Number.POSITIVE_INFINITY }, 'maxBatchSize', 'Infinity'],
    [{ batchWindowMs: 0 }, 'batchWindowMs', '0'],
    [{ batchWindowMs: 5 }, 'batchWindowMs', '5'],
  ])('%o', (options, option, value) => {
    const message = `Burst Valve: ${option} applies only to batch valves (give a batch fetcher: batch), got ${value}`;
    expect(() => new Untyped({ fetch, ...options })).toThrow(new TypeError(message));
    expect(() => new Untyped(fetch, options)).toThrow(new TypeError(message));
    expect(() => new Untyped('Burst Valve', fetch, options)).toThrow(new TypeError(message));
  });

  it('names the batchScheduleFn it was given', () => {
    expect(() => new Untyped(fetch, { batchScheduleFn: function schedule() {} })).toThrow(
      new TypeError(
        'Burst Valve: batchScheduleFn applies only to batch valves (give a batch fetcher: batch), got function schedule',
      ),
    );
  });

  it('a bad value is reported as bad first, and undefined means not given', () => {
    expect(() => new Untyped(fetch, { maxBatchSize: 0 })).toThrow(
      new RangeError('maxBatchSize must be an integer or Infinity >= 1, got 0'),
    );
    expect(() => new Untyped(fetch, { maxBatchSize: undefined, batchWindowMs: undefined })).not.toThrow();
  });

  it('a batch valve takes them', () => {
    expect(() => new Untyped({ batch, maxBatchSize: 10, batchWindowMs: 0 })).not.toThrow();
    expect(() => new Untyped({ batch, maxBatchSize: 10, batchScheduleFn: (d: () => void) => d() })).not.toThrow();
  });
});
