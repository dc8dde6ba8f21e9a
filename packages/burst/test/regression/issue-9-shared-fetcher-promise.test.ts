// Issue 9, hot key, and its review: callers share one promise per call, derived from the
// fetcher's (sharing the fetcher's own promise was tried and reverted). These pin what the
// derived promise guarantees: the valve's clean-up runs before any caller's continuation (even
// when the fetcher hands one promise to two keys), other promise types are adopted, a rejection
// nobody handles still surfaces, callers never get the fetcher's object, and a failure only
// signal callers share is not unhandled.
import { deferred, flush, track } from '@valve/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';

describe('issue 9: callers share one promise per call, derived from the fetcher promise', () => {
  it('a caller resumes after the slot is freed and onSettled has fired', async () => {
    const gate = deferred<number>();
    let runs = 0;
    const valve = new BurstValve<number, string>(() => {
      runs++;
      return runs === 1 ? gate.promise : Promise.resolve(2);
    });
    const settled: boolean[] = [];
    valve.onSettled((e) => settled.push(e.status === 'fulfilled'));
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

  it('a fetcher giving two keys one promise: the caller of one resumes with both freed', async () => {
    const gate = deferred<string>();
    let runs = 0;
    const valve = new BurstValve<string, string>(() => {
      runs++;
      return runs <= 2 ? gate.promise : Promise.resolve(`fresh-${runs}`);
    });
    const settledKeys: string[] = [];
    valve.onSettled((e) => settledKeys.push(String(e.key)));
    const a = valve.fetch('a').then((v) => {
      const state = [v, valve.isActive('b'), [...settledKeys]];
      return valve.fetch('b').then((b) => [...state, b]);
    });
    void valve.fetch('b');
    gate.resolve('old');
    expect(await a).toEqual(['old', false, ['a', 'b'], 'fresh-3']);
  });

  it('callers never get the object the fetcher returned', async () => {
    const own = Object.assign(Promise.resolve(1), { cancel: () => {} });
    const valve = new BurstValve<number, string>(() => own);
    const p = valve.fetch('k');
    expect(p).not.toBe(own);
    expect((p as unknown as { cancel?: unknown }).cancel).toBeUndefined();
    await expect(p).resolves.toBe(1);
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

describe('issue 9 review: a rejection nobody handles still surfaces', () => {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    seen.length = 0;
  });

  it('a caller that drops its fetch() promise gets an unhandledRejection, as with a plain promise', async () => {
    process.on('unhandledRejection', onUnhandled);
    const boom = new Error('dropped');
    const valve = new BurstValve<number, string>(() => Promise.reject(boom));
    void valve.fetch('k');
    // unhandledRejection is emitted after the microtask queue drains, on the next macrotask.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toContain(boom);
  });
});
