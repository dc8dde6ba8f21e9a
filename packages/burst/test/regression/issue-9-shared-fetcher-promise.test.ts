// Issue 9, hot key: callers share the fetcher's own promise (no promise derived per call). These
// pin what the derived promise used to guarantee: the valve's clean-up runs before any caller's
// continuation, other promise types are adopted, and a failure nobody shares is not unhandled.
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';

describe('issue 9: callers share the fetcher promise', () => {
  it('a caller resumes after the slot is freed and onSettle has fired', async () => {
    const gate = deferred<number>();
    let runs = 0;
    const valve = new BurstValve<number, string>(() => {
      runs++;
      return runs === 1 ? gate.promise : Promise.resolve(2);
    });
    const settled: boolean[] = [];
    valve.onSettle((e) => settled.push(e.ok));
    const seen: unknown[] = [];
    const first = valve.fetch('k').then((v) => {
      seen.push(v, valve.isActive('k'), valve.size, valve.inFlight, settled.length);
      return valve.fetch('k');
    });
    const second = track(valve.fetch('k'));
    gate.resolve(1);
    await expect(first).resolves.toBe(2);
    expect(seen).toEqual([1, false, 0, 0, 1]);
    expect(second.value).toBe(1);
    expect(runs).toBe(2);
  });

  it('a promise subclass or a thenable from the fetcher reaches callers as a native promise', async () => {
    class Sub<V> extends Promise<V> {}
    const sub = new BurstValve<number, number>((k) => Sub.resolve(k));
    const p = sub.fetch(1);
    expect(p.constructor).toBe(Promise);
    await expect(p).resolves.toBe(1);
    const thenable = new BurstValve<number, number>(
      // biome-ignore lint/suspicious/noThenProperty: the point is a fetcher returning a thenable.
      (k) => ({ then: (resolve: (v: number) => void) => resolve(k * 2) }) as unknown as Promise<number>,
    );
    await expect(thenable.fetch(2)).resolves.toBe(4);
  });

  it('a rejection that only callers with a signal wait for is theirs alone (nothing unhandled)', async () => {
    const gate = deferred<number>();
    const errors: unknown[] = [];
    const valve = new BurstValve<number, string>({ fetch: () => gate.promise, onError: (e) => errors.push(e) });
    const ac = new AbortController();
    const waiter = track(valve.fetch('k', { signal: ac.signal }));
    const boom = new Error('boom');
    gate.reject(boom);
    await flush();
    expect(waiter.error).toBe(boom);
    expect(waiter.settleCount).toBe(1);
    expect(errors).toEqual([]);
    expect(valve.size).toBe(0);
  });
});
