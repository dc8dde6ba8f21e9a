// Issue 9, callers with a signal: a valve listens to a signal through one listener object shared
// by every signal, and forgets a signal as soon as none of its callers waits. These pin what that
// must keep: one listener per valve on a signal that keeps coming back, aborts that still reach
// the callers waiting when the signal fires, and valves that do not see each other's callers.
import { getEventListeners } from 'node:events';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';

describe('issue 9: abort listeners on signals that come back', () => {
  it('a long-lived signal keeps one listener per valve across calls that settled', async () => {
    let gate = deferred<number>();
    const valve = new BurstValve<number, number>(() => gate.promise);
    const ac = new AbortController();
    for (let round = 0; round < 3; round++) {
      const calls = [1, 2, 1].map((k) => track(valve.fetch(k, { signal: ac.signal })));
      gate.resolve(round);
      await flush();
      expect(calls.map((c) => c.value)).toEqual([round, round, round]);
      gate = deferred<number>();
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    // The listener left from earlier rounds still routes an abort to the callers waiting now.
    const waiting = track(valve.fetch(3, { signal: ac.signal }));
    const other = track(valve.fetch(3));
    ac.abort('stop');
    await flush();
    expect(waiting.error).toBe('stop');
    expect(waiting.settleCount).toBe(1);
    gate.resolve(30);
    await flush();
    expect(other.value).toBe(30);
  });

  it('an abort reaches only the waiting callers, once, after earlier ones settled', async () => {
    const gate = deferred<number>();
    const valve = new BurstValve<number, number>(() => gate.promise);
    const ac = new AbortController();
    const early = deferred<number>();
    const first = new BurstValve<number, number>(() => early.promise);
    const settled = track(first.fetch(1, { signal: ac.signal }));
    early.resolve(1);
    await flush();
    const a = track(valve.fetch(1, { signal: ac.signal }));
    const b = track(valve.fetch(2, { signal: ac.signal }));
    ac.abort('gone');
    await flush();
    expect(settled.value).toBe(1);
    expect(settled.settleCount).toBe(1);
    expect([a.error, b.error]).toEqual(['gone', 'gone']);
    expect(valve.stats().aborts).toBe(2);
    expect(first.stats().aborts).toBe(0);
    // Every caller of the key gave up: the valve is free for the next caller.
    expect(valve.size).toBe(0);
  });

  it('two valves on one signal each listen once and each reject their own callers', async () => {
    const gate = deferred<number>();
    const one = new BurstValve<number, number>(() => gate.promise);
    const two = new BurstValve<number, number>(() => gate.promise);
    const ac = new AbortController();
    const calls = [one.fetch(1, { signal: ac.signal }), two.fetch(1, { signal: ac.signal })].map(track);
    one.fetch(2, { signal: ac.signal }).catch(() => {});
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(2);
    ac.abort('both');
    await flush();
    expect(calls.map((c) => c.error)).toEqual(['both', 'both']);
    expect(one.stats().aborts).toBe(2);
    expect(two.stats().aborts).toBe(1);
  });
});
