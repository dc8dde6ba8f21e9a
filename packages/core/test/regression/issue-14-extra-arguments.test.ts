// Issue 14: no constructor may silently ignore an argument. Every public constructor of core
// refuses an argument past the ones it takes (`new TokenBucket(options, more)` used to drop
// `more` without a word), with a TypeError that names the class and how many it takes.
import { newUntyped } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import {
  Admission,
  AimdLimit,
  BoundedRingBuffer,
  Counter,
  Emitter,
  Gauge,
  Gradient2Limit,
  Histogram,
  KeepAlive,
  LazyQueue,
  LoadMonitor,
  LocalConcurrency,
  ManualClock,
  MetricsRegistry,
  RateMeter,
  RingBuffer,
  SignalGroups,
  TokenBucket,
  ValveMetrics,
  VegasLimit,
  WaiterQueue,
} from '../../src/index.js';

type AnyClass = new (...args: never[]) => unknown;

const clock = new ManualClock();
const line = { size: 0, timed: false, take: () => undefined, putBack: () => {} };

/** Each class with the arguments it takes, all of them given. */
const CONSTRUCTORS: [AnyClass, string, unknown[]][] = [
  [RingBuffer, 'new RingBuffer() takes at most 1 argument', [8]],
  [BoundedRingBuffer, 'new BoundedRingBuffer() takes at most 1 argument', [8]],
  [Counter, 'new Counter() takes no arguments', []],
  [Gauge, 'new Gauge() takes at most 1 argument', [() => 1]],
  [Histogram, 'new Histogram() takes at most 1 argument', [{}]],
  [RateMeter, 'new RateMeter() takes at most 1 argument', [{ clock }]],
  [MetricsRegistry, 'new MetricsRegistry() takes no arguments', []],
  [ValveMetrics, 'new ValveMetrics() takes at most 2 arguments', [new MetricsRegistry(), 'v']],
  [ManualClock, 'new ManualClock() takes at most 1 argument', [0]],
  [KeepAlive, 'new KeepAlive() takes at most 1 argument', [clock]],
  [Emitter, 'new Emitter() takes no arguments', []],
  [SignalGroups, 'new SignalGroups() takes at most 3 arguments', [() => {}, () => {}, {}]],
  [LazyQueue, 'new LazyQueue() takes no arguments', []],
  [WaiterQueue, 'new WaiterQueue() takes at most 1 argument', [() => {}]],
  [TokenBucket, 'new TokenBucket() takes at most 1 argument', [{ tokenLimit: 1, clock }]],
  [LocalConcurrency, 'new LocalConcurrency() takes at most 1 argument', [{ limit: 1, clock }]],
  [AimdLimit, 'new AimdLimit() takes at most 1 argument', [{}]],
  [Gradient2Limit, 'new Gradient2Limit() takes at most 1 argument', [{}]],
  [VegasLimit, 'new VegasLimit() takes at most 1 argument', [{}]],
  [
    Admission,
    'new Admission() takes at most 1 argument',
    [{ line, concurrency: 1, clock, start: () => {}, fail: () => {} }],
  ],
  [
    LoadMonitor,
    'new LoadMonitor() takes at most 1 argument',
    [{ maxHeapUsedBytes: 1e12, sampler: { sample: () => ({}) }, clock }],
  ],
];

describe('issue 14: core constructors refuse an extra argument', () => {
  for (const [Class, message, args] of CONSTRUCTORS) {
    it(`${Class.name}: ${args.length} argument(s) construct, one more throws`, () => {
      const made = newUntyped(Class, ...args);
      (made as { close?: () => void }).close?.();
      let thrown: unknown;
      try {
        newUntyped(Class, ...args, { extra: true });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toBe(`${message}, got ${args.length + 1}`);
    });
  }

  it('an argument left out (undefined past the end) is not an extra one', () => {
    expect(() => new RingBuffer()).not.toThrow();
    expect(() => new Gauge()).not.toThrow();
    expect(() => new AimdLimit()).not.toThrow();
  });
});
