// staleIfErrorMs: a stale value whose refresh failed keeps being served for a bounded time,
// as HTTP's stale-if-error (issue 19, Burst item 3). Time is a ManualClock.
import { ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../src/index.js';

/** A fetcher whose every run waits on a gate the test opens. */
function gated() {
  const runs: ReturnType<typeof deferred<number>>[] = [];
  const fetcher = () => {
    const gate = deferred<number>();
    runs.push(gate);
    return gate.promise;
  };
  return { runs, fetcher };
}

function setUp(staleIfErrorMs: number) {
  const clock = new ManualClock();
  const { runs, fetcher } = gated();
  const errors: unknown[] = [];
  const valve = new BurstValve<number, string>({
    fetch: fetcher,
    lingerMs: 10,
    staleWhileRevalidateMs: 20,
    staleIfErrorMs,
    clock,
    onError: (e, key) => errors.push([(e as Error).message, key]),
  });
  return { clock, runs, errors, valve };
}

/** Fetches 'k' once (value 1), then moves past lingerMs and fails one refresh. */
async function failOneRefresh(s: ReturnType<typeof setUp>) {
  const first = s.valve.fetch('k');
  s.runs[0]!.resolve(1);
  await first;
  await s.clock.advanceAsync(10); // stale from t=10 to t=30
  expect(await s.valve.fetch('k')).toBe(1); // starts refresh 1
  s.runs[1]!.reject(new Error('down'));
  await flush();
}

describe('staleIfErrorMs', () => {
  it('after a failed refresh, serves the stale value past its stale window, for at most staleIfErrorMs', async () => {
    const s = setUp(100);
    await failOneRefresh(s);
    expect(s.errors).toEqual([['down', 'k']]);
    await s.clock.advanceAsync(20); // t=30: stale window over; held on error until t=130
    expect(await s.valve.fetch('k')).toBe(1);
    expect(s.runs.length).toBe(3); // each hit while held starts one refresh (one at a time)
    expect(await s.valve.fetch('k')).toBe(1);
    expect(s.runs.length).toBe(3);
    s.runs[2]!.reject(new Error('still down'));
    await flush();
    expect(s.errors).toEqual([
      ['down', 'k'],
      ['still down', 'k'],
    ]);
    await s.clock.advanceAsync(99); // t=129
    expect(await s.valve.fetch('k')).toBe(1);
    s.runs[3]!.reject(new Error('down again'));
    await flush();
    await s.clock.advanceAsync(1); // t=130: the bound is not extended by later failures
    expect(s.valve.size).toBe(0);
    const next = s.valve.fetch('k');
    s.runs[4]!.reject(new Error('caller sees it'));
    await expect(next).rejects.toThrow('caller sees it');
  });

  it('a refresh that succeeds while held replaces the value', async () => {
    const s = setUp(100);
    await failOneRefresh(s);
    await s.clock.advanceAsync(20);
    expect(await s.valve.fetch('k')).toBe(1);
    s.runs[2]!.resolve(2);
    await flush();
    expect(await s.valve.fetch('k')).toBe(2);
    await s.clock.advanceAsync(10 + 20); // fresh then stale: no failed refresh, so no hold
    expect(s.valve.size).toBe(0);
  });

  it('a refresh still running when the stale window ends keeps the value held until it settles', async () => {
    const s = setUp(100);
    const first = s.valve.fetch('k');
    s.runs[0]!.resolve(1);
    await first;
    await s.clock.advanceAsync(10);
    expect(await s.valve.fetch('k')).toBe(1); // refresh running
    await s.clock.advanceAsync(20);
    expect(await s.valve.fetch('k')).toBe(1); // held
    s.runs[1]!.resolve(5);
    await flush();
    expect(await s.valve.fetch('k')).toBe(5);
  });

  it('without a failed refresh the value leaves at the end of its stale window (as before)', async () => {
    const s = setUp(100);
    const first = s.valve.fetch('k');
    s.runs[0]!.resolve(1);
    await first;
    await s.clock.advanceAsync(30);
    expect(s.valve.size).toBe(0);
  });

  it('is validated: a number >= 0, and only with staleWhileRevalidateMs', () => {
    expect(() => new BurstValve(async () => 1, { staleIfErrorMs: -1, staleWhileRevalidateMs: 5 })).toThrow(
      new RangeError('staleIfErrorMs must be a finite number >= 0, got -1'),
    );
    expect(() => new BurstValve(async () => 1, { staleIfErrorMs: 5 })).toThrow(
      new TypeError(
        "Burst Valve: staleIfErrorMs (5) needs staleWhileRevalidateMs > 0: only a stale value's failed refresh is served stale",
      ),
    );
  });

  it('close() drops held values and clears their timers', async () => {
    const s = setUp(100);
    await failOneRefresh(s);
    await s.clock.advanceAsync(20);
    await s.valve.fetch('k');
    s.runs[2]!.reject(new Error('x'));
    await flush();
    await s.valve.close();
    expect(s.clock.pendingTimers).toBe(0);
  });
});
