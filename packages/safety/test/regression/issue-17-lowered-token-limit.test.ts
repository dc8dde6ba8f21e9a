// Issue 17 item 5 (found by test/limits.property.test.ts, seed 865128084): a weighted job waiting
// for tokens was stranded when setLimits() lowered tokenLimit below its weight. It needed 3 tokens
// of a bucket that can now hold 1; nothing pumped the line, so it waited until a later change
// raised the limit again (with a refill rate, forever). A waiter heavier than the bucket takes the
// whole bucket (as one arriving would), so lowering tokenLimit must start it.
import { ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../../src/index.js';

describe('issue 17: setLimits() lowering tokenLimit below a waiting job weight', () => {
  it('starts the waiting job with the whole (smaller) bucket', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ rate: 1, tokenLimit: 4, size: 2, concurrency: 3, clock });
    const first = deferred<number>();
    const a = valve.run(() => first.promise, { weight: 2 }); // 2 slots, 2 tokens: 2 left
    let started = false;
    const b = valve.run(
      () => {
        started = true;
        return 2;
      },
      { weight: 3 },
    );
    first.resolve(1);
    await flush();
    expect(started).toBe(false); // 2 tokens, needs 3
    valve.setLimits({ tokenLimit: 1 });
    await flush();
    expect(started).toBe(true);
    expect(valve.stats().tokens).toBe(0);
    await expect(Promise.all([a, b])).resolves.toEqual([1, 2]);
    await valve.close();
  });

  it('re-times the refill when the rate changes alone (the waiter starts at the first refill that suffices)', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 1000, rate: 1, tokenLimit: 2, size: 2, concurrency: 3, clock });
    await valve.run(() => 0, { weight: 2 }); // the bucket is empty
    let started = false;
    const b = valve.run(
      () => {
        started = true;
        return 1;
      },
      { weight: 2 },
    );
    await flush();
    expect(started).toBe(false);
    // 1 token per refill (each second) needed 2 refills; 3 per refill need one.
    valve.setLimits({ rate: 3 });
    clock.advance(1000);
    await flush();
    expect(started).toBe(true);
    await b;
    await valve.close();
  });
});
