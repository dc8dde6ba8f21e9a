// lingerMs as a function keeps values in a heap (LingerHeap), not LingerQueue's ring. The ring's
// bound (issue 9 review, finding 2) must hold for the heap too: values forgotten or cleared
// before they expire must not pile up in it until their lifetime ends.
import { ManualClock } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';
import { heapAfterGc } from './heap.js';

const N = 50_000;
const BOUND = 3_000_000; // 50,000 forgotten 1 KB values would be over 50 MB

describe('issue 19: lingerMs(value) keeps memory bounded', () => {
  it('cleared values with their own lifetimes do not pile up (5x10^4 fetch + clear)', async () => {
    const clock = new ManualClock();
    const valve = new BurstValve<string, number>({
      fetch: async (k) => `${k}`.padEnd(1024, '.'),
      lingerMs: (_v, k) => 60_000 + ((k ?? 0) % 7),
      maxKeys: 10,
      clock,
    });
    const before = heapAfterGc();
    for (let i = 0; i < N; i++) {
      await valve.fetch(i);
      valve.clear(i);
    }
    expect(valve.size).toBe(0);
    expect(heapAfterGc() - before).toBeLessThan(BOUND);
    // What lingers still expires on time, in its own order.
    await valve.fetch(3); // 60,003 ms
    await valve.fetch(1); // 60,001 ms
    await clock.advanceAsync(60_001);
    expect(valve.size).toBe(1);
    await clock.advanceAsync(2);
    expect(valve.size).toBe(0);
  });
});
