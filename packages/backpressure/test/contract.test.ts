// The Valve contract (CONTRIBUTING.md) for the controller, through testkit's generic test. The unit
// of work is an item: flushed = completed, dead-lettered = failed, refused or dropped = rejected.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ManualClock, MetricsRegistry, REASONS } from '@valve/core';
import { newUntyped, valveContract } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BackpressureController, type FlushResult } from '../src/index.js';

function make(name: string, metrics: MetricsRegistry) {
  return new BackpressureController<number>(
    async (items): Promise<FlushResult<number> | undefined> => {
      // Item 13 always fails: it is dead-lettered (no retries).
      if (!items.includes(13)) return undefined;
      return { success: items.length - 1, failed: 1, errors: [new Error('13')], failedItems: [13] };
    },
    {
      name,
      metrics,
      clock: new ManualClock(),
      maxBufferSize: 4,
      batchSize: 2,
      strategy: 'drop_newest',
      retry: { retries: 0 },
      onDeadLetter: () => {},
    },
  );
}

valveContract<BackpressureController<number>, MetricsRegistry>('BackpressureController', {
  reasons: REASONS,
  create: (name, metrics = new MetricsRegistry()) => ({ valve: make(name, metrics), metrics }),
  work: async (valve) => {
    // 4 fit, 1 refused (full, drop_newest); then 13 is dead-lettered, the rest flushed.
    for (const item of [1, 2, 13, 4, 5]) valve.offer(item);
    await valve.drain();
    return { offered: 5, rejected: 1, completed: 3, failed: 1 };
  },
  badOptions: [
    {
      option: 'maxBufferSize',
      construct: () => new BackpressureController(async () => {}, { onDeadLetter: () => {}, maxBufferSize: 0 }),
    },
    {
      option: 'metrics',
      construct: () => new BackpressureController(async () => {}, { onDeadLetter: () => {}, metrics: {} as never }),
    },
    {
      option: 'clock',
      construct: () => new BackpressureController(async () => {}, { onDeadLetter: () => {}, clock: 1 as never }),
    },
  ],
  unknownOptions: [
    {
      call: 'new BackpressureController(flush, options)',
      with: (o) => new BackpressureController(async () => {}, { onDeadLetter: () => {}, ...o }),
    },
    { call: 'push(item, options)', with: (o) => make('u', new MetricsRegistry()).push(1, o) },
    { call: 'pushDurable(item, options)', with: (o) => make('u', new MetricsRegistry()).pushDurable(1, o) },
    { call: 'consume(source, options)', with: (o) => make('u', new MetricsRegistry()).consume([1], o) },
    { call: 'stop(options)', with: (o) => make('u', new MetricsRegistry()).stop(o) },
    { call: 'writable(options)', with: (o) => make('u', new MetricsRegistry()).writable(o) },
    { call: 'writableStream(options)', with: (o) => make('u', new MetricsRegistry()).writableStream(o) },
  ],
  extraArguments: [
    {
      call: 'new BackpressureController(flush, options, extra)',
      with: (extra) => newUntyped(BackpressureController, async () => {}, { onDeadLetter: () => {} }, extra),
    },
  ],
});

describe('BackpressureController.close()', () => {
  it('is stop({ drain: true }): flushes what is buffered first, then refuses', async () => {
    const written: number[] = [];
    const c = new BackpressureController<number>(
      async (items) => {
        written.push(...items);
      },
      { onDeadLetter: () => {}, clock: new ManualClock() },
    );
    c.offer(1);
    c.offer(2);
    const closing = c.close();
    expect(c.stop()).toBe(closing);
    await closing;
    expect(written).toEqual([1, 2]);
    expect(c.offer(3)).toBe(false);
    expect(c.stats()).toMatchObject({ closed: true, completed: 2, rejected: 1, rejectedByReason: { shutdown: 1 } });
  });
});

describe('BackpressureController: async context (issue 14)', () => {
  it('a blocked push resumes in its own caller AsyncLocalStorage context', async () => {
    const store = new AsyncLocalStorage<{ id: number }>();
    const gates: (() => void)[] = [];
    const c = new BackpressureController<number>(
      (): Promise<undefined> => new Promise((resolve) => gates.push(() => resolve(undefined))),
      { onDeadLetter: () => {}, clock: new ManualClock(), maxBufferSize: 1, batchSize: 1, strategy: 'block' },
    );
    c.offer(0);
    const resumedIn: (number | undefined)[] = [];
    const pushes = [1, 2, 3].map((id) =>
      store.run({ id }, async () => {
        await c.push(id);
        resumedIn.push(store.getStore()?.id);
      }),
    );
    c.start();
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      for (const open of gates.splice(0)) open();
    }
    await Promise.all(pushes);
    expect(resumedIn).toEqual([1, 2, 3]);
    await c.close();
  });
});
