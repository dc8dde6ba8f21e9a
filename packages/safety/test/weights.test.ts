// Issue 17 item 6: weighted jobs (bottleneck's `weight`).
import { disposable, ManualClock, type RateSource, TokenBucket } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';

describe('run(fn, { weight }) (issue 17 item 6)', () => {
  it('takes weight slots and weight tokens, and gives the slots back together', async () => {
    const valve = new SafetyValve({ tokenLimit: 10, size: 5, concurrency: 4, clock: new ManualClock() });
    const heavy = deferred();
    const started: string[] = [];
    const h = valve.run(
      () => {
        started.push('heavy');
        return heavy.promise;
      },
      { weight: 3 },
    );
    expect(valve.stats()).toMatchObject({ tokens: 7, running: 1 });
    const light = deferred();
    const l = valve.run(() => {
      started.push('light');
      return light.promise;
    });
    // 3 + 1 slots of 4: the next weight-2 job waits, and so does everyone behind it (no barging).
    const w2 = valve.run(() => started.push('w2'), { weight: 2 });
    const after = valve.run(() => started.push('after'));
    expect(started).toEqual(['heavy', 'light']);
    heavy.resolve();
    await h;
    await flush();
    expect(started).toEqual(['heavy', 'light', 'w2', 'after']);
    expect(valve.stats().tokens).toBe(10 - 3 - 1 - 2 - 1);
    light.resolve();
    await Promise.all([l, w2, after]);
    expect(valve.stats()).toMatchObject({ running: 0, admitted: 4, completed: 4 });
  });

  it('a queued weighted job waits for enough tokens, woken by the refill', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 100, rate: 1, tokenLimit: 3, size: 5, concurrency: 5, clock });
    await valve.run(() => 0, { weight: 3 });
    let ran = false;
    const p = valve.run(
      () => {
        ran = true;
      },
      { weight: 2 },
    );
    await clock.advanceAsync(100);
    expect(ran).toBe(false);
    await clock.advanceAsync(100);
    expect(ran).toBe(true);
    await p;
    await valve.close();
  });

  it('ask({ weight }) holds weight slots until done()', async () => {
    const valve = new SafetyValve({ size: 1, concurrency: 3, clock: new ManualClock() });
    const permit = await valve.ask({ weight: 3 });
    let ran = false;
    const p = valve.run(() => {
      ran = true;
    });
    await flush();
    expect(ran).toBe(false);
    permit.done();
    await p;
    expect(ran).toBe(true);
  });

  it('a weight above the cap or tokenLimit is a RangeError naming weight; a bad weight a TypeError/RangeError', () => {
    const valve = new SafetyValve({ tokenLimit: 5, size: 1, concurrency: 4, clock: new ManualClock() });
    expect(() => valve.run(() => 1, { weight: 5 })).toThrow('weight must be <= the concurrency cap (4), got 5');
    const wide = new SafetyValve({ tokenLimit: 3, size: 1, concurrency: 10, clock: new ManualClock() });
    expect(() => wide.run(() => 1, { weight: 4 })).toThrow('weight must be <= tokenLimit (3), got 4');
    expect(() => valve.run(() => 1, { weight: 0 })).toThrow('options.weight must be an integer >= 1, got 0');
    expect(() => valve.run(() => 1, { weight: 1.5 })).toThrow(RangeError);
    expect(() => valve.run(() => 1, { weight: '2' as never })).toThrow(TypeError);
    expect(() => valve.ask({ weight: 9 })).toThrow(RangeError);
    expect(valve.stats()).toMatchObject({ admitted: 0, tokens: 5 });
  });

  it('sources that cannot take a weight make weight > 1 a TypeError (weight 1 still works)', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ tokenLimit: 5, clock });
    // A custom source without tryAcquireMany: it can only take one token at a time.
    const single: RateSource = {
      get available() {
        return bucket.available;
      },
      tryAcquire: () => bucket.tryAcquire(),
      acquire: (s) => bucket.acquire(s),
      nextTokenInMs: () => bucket.nextTokenInMs(),
      onAvailable: bucket.onAvailable,
    };
    const custom = new SafetyValve({ rateSource: single, size: 1, concurrency: 4, clock });
    expect(() => custom.run(() => 1, { weight: 2 })).toThrow(
      /weight 2 needs a synchronous rate source with tryAcquireMany/,
    );
    expect(await custom.run(() => 1, { weight: 1 })).toBe(1);
    // The built-in bucket passed in as a source takes weights.
    const shared = new SafetyValve({ rateSource: bucket, size: 1, concurrency: 4, clock });
    expect(await shared.run(() => 2, { weight: 2 })).toBe(2);
    expect(bucket.available).toBe(2);
    const adaptive = new SafetyValve({
      size: 1,
      concurrencySource: {
        limit: 4,
        inUse: 0,
        tryAcquire: () => ({ release() {} }),
        acquire: async () => ({ release() {} }),
        onAvailable: () => disposable(() => {}),
      },
      clock,
    });
    expect(() => adaptive.run(() => 1, { weight: 2 })).toThrow(/weight 2 needs a fixed concurrency cap/);
  });

  it('a waiting job heavier than a lowered cap is not stranded: it starts alone', async () => {
    const valve = new SafetyValve({ tokenLimit: 10, size: 5, concurrency: 4, clock: new ManualClock() });
    const first = deferred();
    const f = valve.run(() => first.promise, { weight: 2 });
    let heavyRan = false;
    const heavy = valve.run(
      () => {
        heavyRan = true;
      },
      { weight: 4 },
    );
    valve.setLimits({ concurrency: 2, tokenLimit: 3 });
    first.resolve();
    await f;
    await heavy;
    expect(heavyRan).toBe(true);
    // It took the whole bucket (3 of the tokenLimit 3), not more than there can be.
    expect(valve.stats()).toMatchObject({ running: 0, completed: 2 });
  });
});
