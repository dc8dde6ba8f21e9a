// Bad configuration fails at construction with a message naming the option and the value.
import { ManualClock } from '@valve/core';
import { newUntyped } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import {
  CoDel,
  configure,
  FairFlow,
  FairLine,
  KeyedValve,
  PriorityClasses,
  SafetyValve,
  type SafetyValveOptions,
  SafetyValves,
} from '../src/index.js';

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

// Issue 14: CoDel and FairLine are exported building blocks; their arguments used to go unchecked
// (the valves validated the same values, but a user constructing them directly got no error).
describe('CoDel, FairFlow, FairLine and PriorityClasses validate their arguments', () => {
  const codel = { targetMs: 5, intervalMs: 100, enqueuedAt: () => 0, drop: () => {} };

  it.each([
    [() => new CoDel(0, 100), RangeError, 'targetMs must be a finite number > 0, got 0'],
    [() => new CoDel(-1, 100), RangeError, 'targetMs must be a finite number > 0, got -1'],
    [() => new CoDel(Number.NaN, 100), TypeError, 'targetMs must be a finite number > 0, got NaN'],
    [() => new CoDel('5' as never, 100), TypeError, 'targetMs must be a finite number > 0, got "5"'],
    [() => new CoDel(5, 0), RangeError, 'intervalMs must be a finite number > 0, got 0'],
    [() => new CoDel(5, Number.POSITIVE_INFINITY), RangeError, 'intervalMs must be a finite number > 0, got Infinity'],
    [() => newUntyped(CoDel, 5), TypeError, 'intervalMs must be a finite number > 0, got undefined'],
    [
      () => new CoDel(200, 100),
      RangeError,
      'targetMs must be <= intervalMs (safetyvalve refuses a target above the interval), got targetMs 200 and intervalMs 100',
    ],
    [() => new FairFlow(0), RangeError, 'quantum must be a finite number > 0, got 0'],
    [() => new FairFlow('2' as never), TypeError, 'quantum must be a finite number > 0, got "2"'],
    [() => new FairLine(null as never), TypeError, 'codel must be an object, got null'],
    [
      () => new FairLine({ ...codel, target: 5 } as never),
      TypeError,
      'codel.target is not a known option; known options are targetMs, intervalMs, enqueuedAt, drop',
    ],
    [() => new FairLine({ ...codel, targetMs: 0 }), RangeError, 'codel.targetMs must be a finite number > 0, got 0'],
    [
      () => new FairLine({ ...codel, intervalMs: undefined } as never),
      TypeError,
      'codel.intervalMs must be a finite number > 0, got undefined',
    ],
    [
      () => new FairLine({ ...codel, targetMs: 200 }),
      RangeError,
      'codel.targetMs must be <= codel.intervalMs (safetyvalve refuses a target above the interval), got targetMs 200 and intervalMs 100',
    ],
    [
      () => new FairLine({ ...codel, enqueuedAt: undefined } as never),
      TypeError,
      'codel.enqueuedAt must be a function, got undefined',
    ],
    [() => new FairLine({ ...codel, drop: 1 } as never), TypeError, 'codel.drop must be a function, got 1'],
    [() => new PriorityClasses(0), RangeError, 'classes must be an integer >= 1, got 0'],
    [() => new PriorityClasses(1.5), RangeError, 'classes must be an integer >= 1, got 1.5'],
    [
      () => new PriorityClasses(2, { ...codel, targetMs: -1 }),
      RangeError,
      'codel.targetMs must be a finite number > 0, got -1',
    ],
  ] as [() => unknown, ErrorConstructor, string][])('argument check %#', (construct, kind, message) => {
    expect(construct).toThrow(kind);
    expect(construct).toThrow(message);
  });

  it('accepts the boundaries: target = interval, fractional times, quantum below 1, one class', () => {
    expect(new CoDel(100, 100).state.count).toBe(0);
    expect(new CoDel(0.5, 0.75).targetMs).toBe(0.5);
    expect(new FairFlow(0.5).quantum).toBe(0.5);
    expect(new FairLine({ ...codel, targetMs: 100 }).timed).toBe(true);
    expect(new FairLine().timed).toBe(false);
    expect(new PriorityClasses(1).lines).toHaveLength(1);
  });
});

describe('constructors refuse an argument past the ones they take (issue 14)', () => {
  it.each([
    ['new SafetyValve() takes at most 1 argument, got 2', () => newUntyped(SafetyValve, base, { size: 1 })],
    ['new KeyedValve() takes at most 1 argument, got 2', () => newUntyped(KeyedValve, base, {})],
    ['new SafetyValves() takes no arguments, got 1', () => newUntyped(SafetyValves, { queues: {} })],
    [
      'configure() takes at most 1 argument, got 2',
      () => (new SafetyValves().configure as (...a: unknown[]) => void)({ queues: {} }, {}),
    ],
    ['configure() takes at most 1 argument, got 2', () => (configure as (...a: unknown[]) => void)({ queues: {} }, {})],
    ['new CoDel() takes at most 2 arguments, got 3', () => newUntyped(CoDel, 5, 100, 1000)],
    ['new FairFlow() takes at most 1 argument, got 2', () => newUntyped(FairFlow, 1, 2)],
    ['new FairLine() takes at most 1 argument, got 2', () => newUntyped(FairLine, undefined, {})],
    ['new PriorityClasses() takes at most 2 arguments, got 3', () => newUntyped(PriorityClasses, 2, undefined, {})],
  ] as [string, () => unknown][])('%s', (message, construct) => {
    expect(construct).toThrow(TypeError);
    expect(construct).toThrow(message);
  });
});
