// Issue 18 item 0 for core's own waiting queue: LocalConcurrency.acquire() and
// TokenBucket.acquire() callers that share one AbortSignal used to add one listener each
// (quadratic abort, MaxListenersExceededWarning at the eleventh). WaiterQueue now groups them
// through SignalGroups: one listener per distinct signal, one abort settles them all.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { LocalConcurrency, ManualClock, TokenBucket } from '../../src/index.js';

describe('issue 18: core acquire() waiters on one signal', () => {
  it('LocalConcurrency: 10^4 waiters, one listener, one abort rejects every one with the reason', async () => {
    const slots = new LocalConcurrency({ limit: 1 });
    const held = slots.tryAcquire()!;
    const ac = new AbortController();
    const n = 10_000;
    const waits = Array.from({ length: n }, () =>
      slots.acquire(ac.signal).then(
        () => 'got',
        (e: unknown) => e,
      ),
    );
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    const reason = new Error('gone');
    ac.abort(reason);
    const results = await Promise.all(waits);
    expect(results.every((r) => r === reason)).toBe(true);
    // The slot goes to nobody (everyone left), and a later waiter is served.
    held.release();
    const next = await slots.acquire();
    expect(slots.inUse).toBe(1);
    next.release();
  });

  it('TokenBucket: waiters sharing a signal keep one listener; the others are served in order', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 1, hz: 1, tokenLimit: 1, clock });
    expect(bucket.tryAcquire()).toBe(true);
    const ac = new AbortController();
    const order: number[] = [];
    const shared = [1, 2, 3].map((i) =>
      bucket.acquire(ac.signal).then(
        () => order.push(i),
        () => order.push(-i),
      ),
    );
    const own = bucket.acquire().then(() => order.push(4));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    ac.abort(new Error('x'));
    await Promise.all(shared);
    await clock.advanceAsync(1000);
    await own;
    // All three rejected by the one abort (in any order), then the fourth served by the refill.
    expect(order.slice(0, 3).sort()).toEqual([-1, -2, -3]);
    expect(order[3]).toBe(4);
  });
});
