// Review of issue 9, finding 2 (P1): `maxKeys` did not bound memory. A lingering value that was
// forgotten (or replaced by a stale-while-revalidate refresh) left the map but stayed in the
// linger queue's ring for the whole `lingerMs`: with maxKeys 10, forgetting 50,000 keys left
// 50,000 calls (and their values) in the ring. The ring is now compacted, so it stays within
// twice the lingering keys plus a small constant.
import { ManualClock } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';
import { heapAfterGc } from './heap.js';

const N = 50_000;
// Each forgotten call holds a Call, its promise and the value (a 1 KB string here): 50,000 of
// them are over 50 MB. 3 MB is noise plus a bounded ring.
const BOUND = 3_000_000;

describe('issue 9 review: maxKeys bounds what lingering keeps', () => {
  it('forgotten lingering values do not pile up (maxKeys 10, 5x10^4 fetch + forget)', async () => {
    const clock = new ManualClock();
    const valve = new BurstValve<string, number>({
      fetch: async (k) => `${k}`.padEnd(1024, '.'),
      lingerMs: 60_000,
      maxKeys: 10,
      clock,
    });
    const before = heapAfterGc();
    for (let i = 0; i < N; i++) {
      await valve.fetch(i);
      valve.forget(i);
    }
    expect(valve.size).toBe(0);
    expect(valve.stats().lingering).toBe(0);
    expect(heapAfterGc() - before).toBeLessThan(BOUND);
    // What is still lingering keeps lingering and expires on time.
    await valve.fetch(-1);
    await clock.advanceAsync(59_999);
    expect(valve.size).toBe(1);
    await clock.advanceAsync(1);
    expect(valve.size).toBe(0);
  });

  it('stale values replaced by their refresh do not pile up either', async () => {
    const clock = new ManualClock();
    let n = 0;
    const valve = new BurstValve<string, number>({
      fetch: async () => `${n++}`.padEnd(1024, '.'),
      lingerMs: 1,
      staleWhileRevalidateMs: 60_000,
      maxKeys: 10,
      clock,
    });
    await valve.fetch(1);
    const before = heapAfterGc();
    for (let i = 0; i < N; i++) {
      await clock.advanceAsync(1); // fresh -> stale
      await valve.fetch(1); // served stale; starts the refresh that replaces it
      await clock.advanceAsync(0);
    }
    expect(valve.size).toBe(1);
    expect(valve.stats().lingering).toBe(1);
    expect(heapAfterGc() - before).toBeLessThan(BOUND);
  });
});
