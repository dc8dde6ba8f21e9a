import { ManualClock, MetricsRegistry } from '@valve/core';
import { newUntyped } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import {
  AdaptiveInterval,
  BatchFlusher,
  Block,
  createStrategy,
  DropNewest,
  DropOldest,
  Sample,
  Watermarks,
} from '../src/index.js';
import { BackpressureController } from '../src/BackpressureController.js';
import type { BackpressureOptions } from '../src/options.js';

const flush = async () => {};
const base = { onDeadLetter: () => {}, clock: new ManualClock() };
const make = (o: Partial<BackpressureOptions<unknown>>) =>
  new BackpressureController<unknown>(flush, { ...base, ...o } as BackpressureOptions<unknown>);

describe('options are validated at construction', () => {
  it('accepts the defaults', () => {
    const s = make({}).stats();
    expect(s).toMatchObject({ state: 'normal', flushIntervalMs: 100, bufferSize: 0 });
  });

  it.each([
    [{ maxBufferSize: 0 }, 'maxBufferSize must be an integer >= 1, got 0'],
    [{ maxBufferSize: 1.5 }, 'maxBufferSize must be an integer >= 1, got 1.5'],
    [{ batchSize: 0 }, 'batchSize must be an integer >= 1, got 0'],
    [{ highWatermark: 0 }, 'highWatermark must be a finite number > 0 and <= 1, got 0'],
    [{ highWatermark: 1.5 }, 'highWatermark must be a finite number > 0 and <= 1, got 1.5'],
    [{ lowWatermark: -1 }, 'lowWatermark must be a finite number >= 0 and <= 1, got -1'],
    [{ lowWatermark: 0.9, highWatermark: 0.8 }, 'lowWatermark must be < highWatermark (0.8), got 0.9'],
    [{ hysteresis: 2 }, 'hysteresis must be a finite number >= 0 and <= 1, got 2'],
    [{ sampleRate: 0 }, 'sampleRate must be an integer >= 1, got 0'],
    [{ maxBlockTimeMs: -1 }, 'maxBlockTimeMs must be a number >= 0, got -1'],
    [{ maxBlockTimeMs: Number.NaN }, 'maxBlockTimeMs must be a number >= 0, got NaN'],
    [{ minFlushIntervalMs: -1 }, 'minFlushIntervalMs must be a finite number >= 0, got -1'],
    [{ minFlushIntervalMs: 10, maxFlushIntervalMs: 5 }, 'maxFlushIntervalMs must be >= minFlushIntervalMs (10), got 5'],
    [{ targetLatencyMs: 0 }, 'targetLatencyMs must be a finite number > 0, got 0'],
    [{ flushConcurrency: 0 }, 'flushConcurrency must be an integer >= 1, got 0'],
    [{ retry: { retries: -1 } }, 'retry.retries must be an integer or Infinity >= 0, got -1'],
    [{ flushTimeoutMs: 0 }, 'flushTimeoutMs must be a number > 0, got 0'],
    [{ flushTimeoutMs: -1 }, 'flushTimeoutMs must be a number > 0, got -1'],
    [{ flushTimeoutMs: Number.NaN }, 'flushTimeoutMs must be a number > 0, got NaN'],
    [{ flushTimeoutMs: '100' }, 'flushTimeoutMs must be a number > 0, got "100"'],
    [{ strategy: 'fifo' }, 'strategy must be one of "block", "drop_oldest", "drop_newest", "sample", got "fifo"'],
    [{ onDeadLetter: undefined }, 'onDeadLetter must be a function, got undefined'],
    [{ onDrop: 1 }, 'onDrop must be a function, got 1'],
    [{ sizeOf: () => 1 }, 'maxBufferBytes is required with sizeOf, got undefined'],
    [{ maxBufferBytes: 10 }, 'maxBufferBytes needs sizeOf (a function that measures an item), got no sizeOf'],
    [{ sizeOf: () => 1, maxBufferBytes: 0 }, 'maxBufferBytes must be a finite number > 0, got 0'],
    [{ name: '' }, 'name must be a non-empty string, got ""'],
    [{ maxBuferSize: 10 }, 'options.maxBuferSize is not a known option'],
    [{ clock: {} }, 'clock must be a Clock'],
  ] as [Record<string, unknown>, string][])('%o -> %s', (o, message) => {
    expect(() => make(o as Partial<BackpressureOptions<unknown>>)).toThrow(message);
  });

  it('accepts the boundaries', () => {
    expect(() => make({ maxBufferSize: 1, batchSize: 1, highWatermark: 1, lowWatermark: 0 })).not.toThrow();
    expect(() => make({ maxBlockTimeMs: 0 })).not.toThrow();
    expect(() => make({ maxBlockTimeMs: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => make({ minFlushIntervalMs: 0, maxFlushIntervalMs: 0 })).not.toThrow();
    expect(() => make({ retry: 3 })).not.toThrow();
    expect(() => make({ flushTimeoutMs: 1 })).not.toThrow();
    expect(() => make({ flushTimeoutMs: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  it('rejects a missing flush function and a non-object options', () => {
    expect(() => new BackpressureController(undefined as never, base)).toThrow(
      'flush must be a function, got undefined',
    );
    expect(() => new BackpressureController(flush, null as never)).toThrow('options must be an object, got null');
  });

  it('a sizeOf that returns garbage fails the push, not the controller', async () => {
    const c = make({ sizeOf: () => Number.NaN, maxBufferBytes: 10 });
    expect(() => c.offer(1)).toThrow('sizeOf(item) must return a finite number >= 0, got NaN');
    await expect(c.push(1)).rejects.toThrow(TypeError);
    expect(c.stats().accepted).toBe(0);
  });
});

// Issue 14: no constructor may silently ignore an argument. The parts the controller composes are
// exported and constructed by users too; they used to take any key, because the controller passed
// them its whole options object.
describe('the exported parts refuse what they would ignore (issue 14)', () => {
  const hooks = { flushed: () => {}, attempted: () => {}, deadLettered: () => {} };

  it.each([
    [
      'Watermarks',
      () => new Watermarks({ lowWatermark: 0.1, maxBufferSize: 10 } as never),
      'options.maxBufferSize is not a known option; known options are lowWatermark, highWatermark, hysteresis',
    ],
    ['Watermarks', () => new Watermarks(null as never), 'options must be an object, got null'],
    [
      'AdaptiveInterval',
      () => new AdaptiveInterval({ minFlushIntervalMs: 1, batchSize: 10 } as never),
      'options.batchSize is not a known option; known options are minFlushIntervalMs, maxFlushIntervalMs, targetLatencyMs',
    ],
    ['AdaptiveInterval', () => new AdaptiveInterval(5 as never), 'options must be an object, got 5'],
    [
      'BatchFlusher',
      () => new BatchFlusher({ flush, hooks, onDeadLetter: () => {} } as never),
      'options.onDeadLetter is not a known option; known options are flush, hooks, retry, clock, flushTimeoutMs',
    ],
    ['BatchFlusher', () => new BatchFlusher(undefined as never), 'options must be an object, got undefined'],
    ['BatchFlusher', () => new BatchFlusher({ flush: 1, hooks } as never), 'flush must be a function, got 1'],
    ['BatchFlusher', () => new BatchFlusher({ flush } as never), 'hooks must be an object, got undefined'],
    [
      'BatchFlusher',
      () => new BatchFlusher({ flush, hooks: { ...hooks, dropped: () => {} } } as never),
      'hooks.dropped is not a known option; known options are flushed, attempted, deadLettered',
    ],
    [
      'BatchFlusher',
      () => new BatchFlusher({ flush, hooks: { ...hooks, attempted: undefined } } as never),
      'hooks.attempted must be a function, got undefined',
    ],
    ['BatchFlusher', () => new BatchFlusher({ flush, hooks, clock: {} } as never), 'clock must be a Clock'],
    [
      'createStrategy',
      () => createStrategy('sample', { sampleRate: 2, batchSize: 5 } as never),
      'options.batchSize is not a known option; known options are sampleRate',
    ],
  ] as [string, () => unknown, string][])('%s, case %#', (_name, construct, message) => {
    expect(construct).toThrow(TypeError);
    expect(construct).toThrow(message);
  });

  it('the controller hands each part only its own options: every option at once constructs', () => {
    const c = make({
      onDrop: () => {},
      maxBufferSize: 10,
      highWatermark: 0.9,
      lowWatermark: 0.2,
      hysteresis: 0.1,
      strategy: 'sample',
      sampleRate: 3,
      maxBlockTimeMs: 10,
      batchSize: 2,
      minFlushIntervalMs: 7,
      maxFlushIntervalMs: 70,
      targetLatencyMs: 5,
      flushConcurrency: 2,
      retry: 1,
      flushTimeoutMs: 100,
      sizeOf: () => 1,
      maxBufferBytes: 10,
      metrics: new MetricsRegistry(),
      name: 'every-option',
    });
    expect(c.stats()).toMatchObject({ state: 'normal', flushIntervalMs: 7 });
  });

  it.each([
    [
      'new BackpressureController() takes at most 2 arguments, got 3',
      () => newUntyped(BackpressureController, flush, base, {}),
    ],
    ['new Watermarks() takes at most 1 argument, got 2', () => newUntyped(Watermarks, {}, {})],
    ['new AdaptiveInterval() takes at most 1 argument, got 2', () => newUntyped(AdaptiveInterval, {}, {})],
    ['new BatchFlusher() takes at most 1 argument, got 2', () => newUntyped(BatchFlusher, { flush, hooks }, {})],
    ['new Block() takes no arguments, got 1', () => newUntyped(Block, {})],
    ['new DropNewest() takes no arguments, got 1', () => newUntyped(DropNewest, {})],
    ['new DropOldest() takes no arguments, got 1', () => newUntyped(DropOldest, {})],
    ['new Sample() takes at most 1 argument, got 2', () => newUntyped(Sample, 10, {})],
    [
      'createStrategy() takes at most 2 arguments, got 3',
      () => (createStrategy as (...args: unknown[]) => unknown)('block', {}, {}),
    ],
  ] as [string, () => unknown][])('an extra argument throws: %s', (message, construct) => {
    expect(construct).toThrow(TypeError);
    expect(construct).toThrow(message);
  });
});
