// batchWindowMs and batchScheduleFn: batches that collect keys for longer than one tick
// (issue 19, Burst item 5; dataloader's batchScheduleFn). Time is a ManualClock.
import { ManualClock } from '@valve/core';
import { flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../src/index.js';

function recorder() {
  const batches: number[][] = [];
  const batch = async (keys: number[]) => {
    batches.push([...keys]);
    return keys.map((k) => k * 10);
  };
  return { batches, batch };
}

describe('batchWindowMs', () => {
  it('collects keys from several ticks into one batch until the window ends', async () => {
    const clock = new ManualClock();
    const { batches, batch } = recorder();
    const valve = new BurstValve<number, number>({ batch, batchWindowMs: 5, clock });
    const a = valve.fetch(1);
    await flush();
    await clock.advanceAsync(4);
    const b = valve.fetch(2);
    await flush();
    expect(batches).toEqual([]);
    expect(valve.stats().queued).toBe(2);
    await clock.advanceAsync(1);
    expect(await Promise.all([a, b])).toEqual([10, 20]);
    expect(batches).toEqual([[1, 2]]);
    const c = valve.fetch(3); // a new window starts with the next key
    await clock.advanceAsync(5);
    expect(await c).toBe(30);
    expect(batches).toEqual([[1, 2], [3]]);
  });

  it('sends a batch as soon as it holds maxBatchSize keys', async () => {
    const clock = new ManualClock();
    const { batches, batch } = recorder();
    const valve = new BurstValve<number, number>({ batch, batchWindowMs: 100, maxBatchSize: 2, clock });
    const all = valve.batch([1, 2, 3]);
    await flush();
    expect(batches).toEqual([[1, 2]]);
    await clock.advanceAsync(100);
    expect(await all).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2], [3]]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keys in flight or given up are not sent again', async () => {
    const clock = new ManualClock();
    const { batches, batch } = recorder();
    const valve = new BurstValve<number, number>({ batch, batchWindowMs: 5, clock });
    const controller = new AbortController();
    const gone = valve.fetch(1, { signal: controller.signal });
    const kept = valve.fetch(2);
    const again = valve.fetch(2);
    controller.abort(new Error('left'));
    await expect(gone).rejects.toThrow('left');
    await clock.advanceAsync(5);
    expect(await Promise.all([kept, again])).toEqual([20, 20]);
    expect(batches).toEqual([[2]]);
  });

  it('close() waits for a batch still in its window', async () => {
    const clock = new ManualClock();
    const { batch } = recorder();
    const valve = new BurstValve<number, number>({ batch, batchWindowMs: 5, clock });
    const a = valve.fetch(1);
    let closed = false;
    const closing = valve.close().then(() => {
      closed = true;
    });
    await flush();
    expect(closed).toBe(false);
    await clock.advanceAsync(5);
    await closing;
    expect(await a).toBe(10);
  });
});

describe('batchScheduleFn', () => {
  it('dispatches when the user says so; an undispatched batch waits', async () => {
    const scheduled: (() => void)[] = [];
    const { batches, batch } = recorder();
    const valve = new BurstValve<number, number>({ batch, batchScheduleFn: (d) => scheduled.push(d) });
    const first = [valve.fetch(1), valve.fetch(2)];
    await flush();
    expect(batches).toEqual([]);
    scheduled[0]!();
    scheduled[0]!(); // a second call does nothing
    expect(await Promise.all(first)).toEqual([10, 20]);
    const second = [valve.fetch(1), valve.fetch(3)]; // nothing lingers: 1 is fetched again
    scheduled[1]!();
    expect(await Promise.all(second)).toEqual([10, 30]);
    valve.fetch(4);
    await flush();
    expect(batches).toEqual([
      [1, 2],
      [1, 3],
    ]);
    expect(valve.stats().queued).toBe(1);
  });

  it('a full batch is closed: later keys start the next one, each dispatched by its own callback', async () => {
    const scheduled: (() => void)[] = [];
    const { batches, batch } = recorder();
    const valve = new BurstValve<number, number>({ batch, maxBatchSize: 2, batchScheduleFn: (d) => scheduled.push(d) });
    const all = valve.batch([1, 2, 3]);
    expect(scheduled.length).toBe(2);
    scheduled[1]!();
    scheduled[0]!();
    expect(await all).toEqual([10, 20, 30]);
    expect(batches).toEqual([[3], [1, 2]]);
  });

  it('a scheduler that throws: the batch still goes out on the next tick and the error surfaces', async () => {
    const thrown: unknown[] = [];
    const listener = (e: unknown) => thrown.push(e);
    process.on('uncaughtException', listener);
    try {
      const { batches, batch } = recorder();
      const valve = new BurstValve<number, number>({
        batch,
        batchScheduleFn: () => {
          throw new Error('scheduler broke');
        },
      });
      expect(await valve.fetch(1)).toBe(10);
      await flush();
      expect(batches).toEqual([[1]]);
      expect(thrown.map((e) => (e as Error).message)).toEqual(['scheduler broke']);
    } finally {
      process.off('uncaughtException', listener);
    }
  });
});

describe('batch window options are validated at construction', () => {
  const batch = async (keys: number[]) => keys;
  const one = async (): Promise<number> => 1;
  it.each([
    [{ batch, batchWindowMs: -1 }, RangeError, 'batchWindowMs must be a finite number >= 0, got -1'],
    [
      { batch, batchWindowMs: Number.POSITIVE_INFINITY },
      RangeError,
      'batchWindowMs must be a finite number >= 0, got Infinity',
    ],
    [{ batch, batchScheduleFn: 5 }, TypeError, 'batchScheduleFn must be a function, got 5'],
    [
      { batch, batchWindowMs: 5, batchScheduleFn: () => {} },
      TypeError,
      'Burst Valve: give at most one of batchWindowMs and batchScheduleFn, got both',
    ],
    [
      { fetch: one, batchWindowMs: 5 },
      TypeError,
      'Burst Valve: batchWindowMs applies only to batch valves (give a batch fetcher: batch), got 5',
    ],
    [
      { fetch: one, batchScheduleFn: () => {} },
      TypeError,
      'Burst Valve: batchScheduleFn applies only to batch valves (give a batch fetcher: batch), got function batchScheduleFn',
    ],
  ])('rejects %o', (options, type, message) => {
    expect(() => new BurstValve(options as never)).toThrow(new type(message));
  });
});
