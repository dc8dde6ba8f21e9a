// Issue 9, "Memory": 10^5 distinct keys in flight and then settled leave no residue.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { deferred, flush, warmAbortSignals } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../src/index.js';

// A real full GC without restarting vitest with --expose-gc: the flag applies to new contexts.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('BurstValve memory', () => {
  it('10^5 keys in flight, then settled: the map is empty and the heap returns near its start', async () => {
    const gate = deferred<number>();
    const valve = new BurstValve<number, number>((k) => gate.promise.then(() => k!));
    const n = 100_000;
    // Allocated before the baseline: its 800 KB of slots are the test's, not the valve's.
    const calls = new Array<Promise<number>>(n).fill(undefined as never);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) calls[i] = valve.fetch(i);
    expect(valve.size).toBe(n);
    expect(valve.inFlight).toBe(n);
    gate.resolve(0);
    await Promise.all(calls);
    calls.fill(undefined as never);
    await flush();
    expect(valve.size).toBe(0);
    expect(valve.inFlight).toBe(0);
    expect(valve.stats().lingering).toBe(0);
    gc();
    const residue = process.memoryUsage().heapUsed - before;
    // 10^5 entries left behind would hold at least ~100 bytes each (10 MB); allow 1 MB of noise.
    expect(residue).toBeLessThan(1_000_000);
  });

  it('signal callers leave nothing behind either (waiters, listeners on a long-lived signal)', async () => {
    const gate = deferred<number>();
    const valve = new BurstValve<number, number>((k) => gate.promise.then(() => k!));
    const n = 50_000;
    // Callers of one hung call that give up must not stay in its waiter list while it hangs
    // (review of issue 9: 10^5 aborted callers kept 10^5 waiters). A retained waiter holds a
    // Waiter, a promise and its resolvers (over 150 bytes), so n of them would be over 7 MB.
    const plain = valve.fetch(-1);
    warmAbortSignals(n);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) {
      const ac = new AbortController();
      valve.fetch(-1, { signal: ac.signal }).catch(noop);
      // A string reason: a default DOMException would grow Node's own WeakMap of them.
      ac.abort('gave up');
    }
    await flush();
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(1_500_000);
    expect(valve.stats().aborts).toBe(n);
    // And many keys sharing one long-lived signal, all settled.
    const ac = new AbortController();
    const calls = Array.from({ length: n }, (_, i) => valve.fetch(i, { signal: ac.signal }));
    gate.resolve(0);
    await Promise.all(calls);
    await expect(plain).resolves.toBe(-1);
    expect(valve.size).toBe(0);
    expect(valve.inFlight).toBe(0);
    ac.abort('after the fact');
    await flush();
    calls.length = 0;
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(1_500_000);
  });
});

function noop(): void {}
