// Bad configuration fails at construction with a message naming the option and the value.
import { ManualClock } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { SafetyValve, type SafetyValveOptions } from '../src/index.js';

const base: SafetyValveOptions = { size: 10, concurrency: 2 };
const make = (o: Record<string, unknown>) => () => new SafetyValve({ ...base, ...o } as SafetyValveOptions);

describe('validation', () => {
  it.each([
    [{ size: -1 }, RangeError, 'size must be an integer or Infinity >= 0, got -1'],
    [{ size: 1.5 }, RangeError, 'size must be an integer or Infinity >= 0, got 1.5'],
    [{ size: undefined }, TypeError, 'size must be an integer or Infinity >= 0, got undefined'],
    [{ size: '3' }, TypeError, 'size must be an integer or Infinity >= 0, got "3"'],
    [{ concurrency: 0 }, RangeError, 'concurrency must be an integer or Infinity >= 1, got 0'],
    [{ concurrency: 2.5 }, RangeError, 'concurrency must be an integer or Infinity >= 1, got 2.5'],
    [{ concurrency: undefined }, TypeError, 'concurrency must be an integer or Infinity >= 1, got undefined'],
    [{ hz: 100, tokenLimit: 5 }, TypeError, 'rate is required when hz is set'],
    [{ hz: 100, rate: 5 }, TypeError, 'tokenLimit is required with hz or rate'],
    [{ hz: 0, rate: 1, tokenLimit: 1 }, RangeError, 'hz must be a finite number > 0, got 0'],
    [{ rate: 0, tokenLimit: 1 }, RangeError, 'rate must be an integer >= 1, got 0'],
    [{ tokenLimit: 0 }, RangeError, 'tokenLimit must be an integer >= 1, got 0'],
    [{ targetMs: 200 }, RangeError, 'targetMs must be <= intervalMs'],
    [{ targetMs: 0 }, RangeError, 'targetMs must be a finite number > 0, got 0'],
    [{ intervalMs: -5 }, RangeError, 'intervalMs must be a finite number > 0, got -5'],
    [{ queue: 'red' }, TypeError, 'queue must be one of "fifo", "codel", "codel-timer", "deadline", got "red"'],
    [{ queue: 'deadline' }, TypeError, 'deadlineMs is required with queue: "deadline"'],
    [{ deadlineMs: -1 }, RangeError, 'deadlineMs must be a finite number >= 0, got -1'],
    [{ leaseMs: 0 }, RangeError, 'leaseMs must be a finite number > 0, got 0'],
    [{ lifo: true }, TypeError, 'lifo must be false or "adaptive", got true'],
    [{ name: '' }, TypeError, 'name must be a non-empty string, got ""'],
    [{ onReject: 'x' }, TypeError, 'onReject must be a function, got "x"'],
    [{ concurrencyy: 3 }, TypeError, 'options.concurrencyy is not a known option'],
    [{ clock: {} }, TypeError, 'clock must be a Clock (an object with now() and setTimeout())'],
    [{ rateSource: {}, hz: 1 }, TypeError, 'rateSource replaces hz, rate and tokenLimit'],
    [{ rateSource: {} }, TypeError, 'rateSource.tryAcquire must be a function'],
    [{ concurrencySource: {}, concurrency: 2 }, TypeError, 'concurrencySource replaces concurrency'],
    [
      { concurrencySource: { tryAcquire: 1 }, concurrency: undefined },
      TypeError,
      'concurrencySource.tryAcquire must be a function',
    ],
  ])('%o', (options, kind, message) => {
    expect(make(options)).toThrow(kind);
    expect(make(options)).toThrow(message);
  });

  it('refuses a non-object', () => {
    expect(() => new SafetyValve(undefined as unknown as SafetyValveOptions)).toThrow(
      'options must be an object, got undefined',
    );
  });

  it('accepts the boundaries: size 0, Infinity, target = interval, deadline 0', () => {
    const clock = new ManualClock();
    for (const o of [
      { size: 0 },
      { size: Number.POSITIVE_INFINITY, concurrency: Number.POSITIVE_INFINITY },
      { targetMs: 100, intervalMs: 100, queue: 'codel' },
      { queue: 'deadline', deadlineMs: 0 },
      { queue: 'codel-timer', lifo: 'adaptive' },
    ]) {
      new SafetyValve({ ...base, clock, ...o } as SafetyValveOptions).close();
    }
  });

  it('validates per-call options and the job', () => {
    const valve = new SafetyValve({ ...base, clock: new ManualClock() });
    expect(() => valve.run('x' as unknown as () => 1)).toThrow('fn must be a function, got "x"');
    expect(() => valve.run(() => 1, { deadlineMs: -1 })).toThrow('options.deadlineMs must be a finite number >= 0');
    expect(() => valve.run(() => 1, { signal: {} as AbortSignal })).toThrow('options.signal must be an AbortSignal');
    expect(() => valve.replenish()).toThrow('has no built-in token bucket');
    valve.close();
  });
});
