// Review of issue 9, finding 1 (P1): callers that gave up (abort, own timeout) stayed in their
// call's waiter list until the call settled, so 10^5 aborting callers of one hung call kept
// 10^5 waiters (each with its promise's resolvers) alive. They are removed now.
import { ManualClock } from '@valve/core';
import { deferred, flush, track, warmAbortSignals } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';
import { heapAfterGc } from './heap.js';

const N = 100_000;
// A retained waiter is a Waiter, a promise and its two resolvers: well over 150 bytes, so 10^5
// of them are over 15 MB. 3 MB leaves room for GC noise and the valve's own bookkeeping.
const BOUND = 3_000_000;

describe('issue 9 review: given-up callers are removed from a call in flight', () => {
  it('10^5 aborted callers of one hung call leave nothing behind while it hangs', async () => {
    const gate = deferred<number>();
    const valve = new BurstValve<number, string>(() => gate.promise);
    const plain = track(valve.fetch('k'));
    warmAbortSignals(N);
    const before = heapAfterGc();
    for (let i = 0; i < N; i++) {
      const ac = new AbortController();
      valve.fetch('k', { signal: ac.signal }).catch(() => {});
      // A string reason: the default DOMException would grow Node's own WeakMap of them, which
      // the heap bound would measure instead of the valve.
      ac.abort('gave up');
    }
    await flush();
    expect(valve.stats().aborts).toBe(N);
    expect(valve.isActive('k')).toBe(true);
    expect(heapAfterGc() - before).toBeLessThan(BOUND);
    gate.resolve(7);
    await flush();
    expect(plain.value).toBe(7);
    expect(valve.size).toBe(0);
  });

  it('callers whose own timeoutMs ran out are removed too; live waiters still settle, in order', async () => {
    const clock = new ManualClock();
    const gate = deferred<number>();
    const valve = new BurstValve<number, string>({ fetch: () => gate.promise, clock });
    const order: number[] = [];
    const ac = new AbortController();
    // Live waiters interleaved with ones that time out, so compaction has to keep some.
    const live = [0, 1, 2].map((i) =>
      valve.fetch('k', { signal: ac.signal }).then((v) => {
        order.push(i);
        return v;
      }),
    );
    const before = heapAfterGc();
    for (let i = 0; i < N; i++) valve.fetch('k', { timeoutMs: 10 }).catch(() => {});
    await clock.advanceAsync(10);
    expect(valve.stats().timeouts).toBe(N);
    expect(heapAfterGc() - before).toBeLessThan(BOUND);
    gate.resolve(3);
    expect(await Promise.all(live)).toEqual([3, 3, 3]);
    expect(order).toEqual([0, 1, 2]);
    expect(valve.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});
