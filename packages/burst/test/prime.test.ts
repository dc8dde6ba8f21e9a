// prime / clear / clearAll on the linger cache (issue 19, Burst item 1). Behaviours checked
// against dataloader's public suite, written here in valve's own words.
import { ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../src/index.js';

function counting(lingerMs = 100) {
  const fetched: string[] = [];
  const clock = new ManualClock();
  const valve = new BurstValve<string, string>(
    async (k) => {
      fetched.push(k);
      return `fetched ${k}`;
    },
    { lingerMs, clock },
  );
  return { valve, fetched, clock };
}

describe('prime(key, value)', () => {
  it('serves a primed value without calling the fetcher, for lingerMs', async () => {
    const { valve, fetched, clock } = counting();
    expect(valve.prime('a', 'primed a')).toBe(true);
    expect(await Promise.all([valve.fetch('a'), valve.fetch('b')])).toEqual(['primed a', 'fetched b']);
    expect(fetched).toEqual(['b']);
    expect(valve.stats()).toMatchObject({ lingering: 2, lingerHits: 1, runs: 1, admitted: 1 });
    await clock.advanceAsync(100);
    expect(await valve.fetch('a')).toBe('fetched a');
  });

  it('never replaces an entry: a lingering value, a call in flight; clear() first to overwrite', async () => {
    const { valve, fetched } = counting();
    valve.prime('a', 'x');
    expect(valve.prime('a', 'y')).toBe(false);
    expect(await valve.fetch('a')).toBe('x');
    const gate = deferred<string>();
    const slow = new BurstValve<string, string>(() => gate.promise, { lingerMs: 100 });
    const inFlight = slow.fetch('k');
    expect(slow.prime('k', 'primed')).toBe(false);
    gate.resolve('fetched');
    expect(await inFlight).toBe('fetched');
    expect(await slow.fetch('k')).toBe('fetched');
    expect(valve.clear('a')).toBe(true);
    expect(valve.prime('a', 'y')).toBe(true);
    expect(await valve.fetch('a')).toBe('y');
    expect(fetched).toEqual([]);
  });

  it('uses keyOf, as fetch does', async () => {
    const valve = new BurstValve<string, { id: number }>(async (q) => `fetched ${q.id}`, {
      lingerMs: 10,
      keyOf: (q) => q.id,
    });
    valve.prime({ id: 1 }, 'primed');
    expect(await valve.fetch({ id: 1 })).toBe('primed');
  });

  it('refuses what it cannot keep: no lingering, an Error, a promise; false once closed', async () => {
    const plain = new BurstValve<string, string>(async (k) => k);
    expect(() => plain.prime('a', 'x')).toThrow(TypeError);
    expect(() => plain.prime('a', 'x')).toThrow(/prime\(\) needs lingerMs or staleWhileRevalidateMs > 0/);
    const { valve } = counting();
    expect(() => valve.prime('a', new Error('no') as unknown as string)).toThrow(/got an Error/);
    expect(() => valve.prime('a', Promise.resolve('x') as unknown as string)).toThrow(/got a promise/);
    await valve.close();
    expect(valve.prime('a', 'x')).toBe(false);
  });

  it('with staleWhileRevalidateMs only, a primed value is stale at once: served while one refresh runs', async () => {
    const fetched: string[] = [];
    const valve = new BurstValve<string, string>(
      async (k) => {
        fetched.push(k);
        return `fetched ${k}`;
      },
      { staleWhileRevalidateMs: 50, clock: new ManualClock() },
    );
    valve.prime('a', 'primed');
    expect(await valve.fetch('a')).toBe('primed');
    await flush();
    expect(fetched).toEqual(['a']);
    expect(await valve.fetch('a')).toBe('fetched a');
  });

  it('counts toward maxKeys like a fetched value', async () => {
    const valve = new BurstValve<string, string>(async (k) => k, {
      lingerMs: 100,
      maxKeys: 2,
      clock: new ManualClock(),
    });
    valve.prime('a', 'A');
    valve.prime('b', 'B');
    valve.prime('c', 'C');
    expect(valve.stats().lingering).toBe(2);
    expect(await valve.fetch('a')).toBe('a'); // evicted: the oldest
  });
});

describe('clear(key) and clearAll()', () => {
  it('clear of a key in flight: its callers get the outcome, the next fetch starts anew, the old value is not kept', async () => {
    const gates = [deferred<number>(), deferred<number>()];
    let n = 0;
    const valve = new BurstValve<number, string>(() => gates[n++]!.promise, {
      lingerMs: 100,
      clock: new ManualClock(),
    });
    const old = valve.fetch('k');
    expect(valve.clear('k')).toBe(true);
    const fresh = valve.fetch('k');
    expect(n).toBe(2);
    gates[0]!.resolve(1);
    expect(await old).toBe(1);
    expect(valve.isActive('k')).toBe(true); // the newer call still owns the key
    gates[1]!.resolve(2);
    expect(await fresh).toBe(2);
    expect(await valve.fetch('k')).toBe(2);
    expect(valve.clear('missing')).toBe(false);
  });

  it('clearAll drops every lingering value and detaches calls in flight', async () => {
    const { valve, fetched } = counting();
    await Promise.all([valve.fetch('a'), valve.fetch('b')]);
    const gate = deferred<string>();
    const slow = new BurstValve<string, string>(() => gate.promise, { lingerMs: 100 });
    const inFlight = slow.fetch('k');
    expect(slow.clearAll()).toBe(1);
    gate.resolve('v');
    expect(await inFlight).toBe('v');
    expect(slow.size).toBe(0); // the detached call kept nothing
    expect(valve.clearAll()).toBe(2);
    expect(valve.stats().lingering).toBe(0);
    await Promise.all([valve.fetch('a'), valve.fetch('b')]);
    expect(fetched).toEqual(['a', 'b', 'a', 'b']);
  });

  it('clearAll clears the expiry timers', async () => {
    const clock = new ManualClock();
    const valve = new BurstValve<string, string>(async (k) => k, { lingerMs: 100, clock });
    await valve.fetch('a');
    expect(clock.pendingTimers).toBe(1);
    valve.clearAll();
    expect(clock.pendingTimers).toBe(0);
  });
});
