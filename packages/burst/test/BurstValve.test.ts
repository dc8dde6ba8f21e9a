import { isValveError, ManualClock, MetricsRegistry } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { BurstValve, type FetchContext } from '../src/index.js';

/** A fetcher whose every run waits on its own gate; `runs[i]` is the i-th run. */
function gated<T, K = string>() {
  const runs: { key: K | undefined; ctx: FetchContext<K>; gate: ReturnType<typeof deferred<T>> }[] = [];
  const fetcher = (key: K | undefined, ctx: FetchContext<K>) => {
    const gate = deferred<T>();
    runs.push({ key, ctx, gate });
    return gate.promise;
  };
  return { runs, fetcher };
}

describe('BurstValve: coalescing', () => {
  it('runs the fetcher once for concurrent callers of one key and shares the value', async () => {
    const { runs, fetcher } = gated<number>();
    const valve = new BurstValve<number, string>(fetcher);
    const calls = [valve.fetch('a'), valve.fetch('a'), valve.fetch('a')];
    expect(runs.length).toBe(1);
    expect(valve.isActive('a')).toBe(true);
    expect(valve.size).toBe(1);
    runs[0]!.gate.resolve(42);
    expect(await Promise.all(calls)).toEqual([42, 42, 42]);
    expect(valve.isActive('a')).toBe(false);
    expect(valve.size).toBe(0);
    expect(valve.stats()).toMatchObject({ calls: 3, runs: 1, coalesced: 2, errors: 0, inFlight: 0 });
  });

  it('starts a new call once the previous one settled', async () => {
    let n = 0;
    const valve = new BurstValve<number>(async () => ++n);
    expect(await valve.fetch()).toBe(1);
    expect(await valve.fetch()).toBe(2);
  });

  it('keeps keys apart', async () => {
    const { runs, fetcher } = gated<string>();
    const valve = new BurstValve<string, string>(fetcher);
    const a = valve.fetch('a');
    const b = valve.fetch('b');
    expect(runs.map((r) => r.key)).toEqual(['a', 'b']);
    runs[1]!.gate.resolve('B');
    runs[0]!.gate.resolve('A');
    expect(await Promise.all([a, b])).toEqual(['A', 'B']);
  });

  it('accepts a non-promise return value and resolves with it', async () => {
    const valve = new BurstValve<number, number>((k) => (k ?? 0) * 2);
    expect(await valve.fetch(21)).toBe(42);
  });

  it('rejects every caller with exactly the rejection value, and the key is free again', async () => {
    const { runs, fetcher } = gated<number>();
    const valve = new BurstValve<number, string>(fetcher);
    const err = new Error('db down');
    const a = track(valve.fetch('k'));
    const b = track(valve.fetch('k'));
    runs[0]!.gate.reject(err);
    await flush();
    expect([a.error, b.error]).toEqual([err, err]);
    expect(a.settleCount + b.settleCount).toBe(2);
    expect(valve.stats().errors).toBe(1);
    expect(valve.isActive('k')).toBe(false);
  });

  it('keyOf maps object keys to one identity; the fetcher gets the first caller key', async () => {
    const { runs, fetcher } = gated<string, { id: number }>();
    const valve = new BurstValve<string, { id: number }>({ fetch: fetcher, keyOf: (q) => q.id });
    const first = { id: 7 };
    const a = valve.fetch(first);
    const b = valve.fetch({ id: 7 });
    expect(runs.length).toBe(1);
    expect(runs[0]!.key).toBe(first);
    expect(valve.isActive({ id: 7 })).toBe(true);
    runs[0]!.gate.resolve('seven');
    expect(await Promise.all([a, b])).toEqual(['seven', 'seven']);
  });

  it('fetchShared reports whether the value was shared', async () => {
    const { runs, fetcher } = gated<number>();
    const valve = new BurstValve<number, string>(fetcher);
    const a = valve.fetchShared('k');
    const b = valve.fetchShared('k');
    runs[0]!.gate.resolve(1);
    expect(await a).toEqual({ value: 1, shared: true });
    expect(await b).toEqual({ value: 1, shared: true });
    const c = valve.fetchShared('k');
    runs[1]!.gate.resolve(2);
    expect(await c).toEqual({ value: 2, shared: false });
    const ac = new AbortController();
    ac.abort(new Error('early'));
    await expect(valve.fetchShared('k', { signal: ac.signal })).rejects.toThrow('early');
  });

  it('a fetcher that fetches its own key synchronously joins its own call', async () => {
    let inner: Promise<number> | undefined;
    let runs = 0;
    const valve: BurstValve<number, string> = new BurstValve<number, string>((key) => {
      runs++;
      if (inner === undefined) inner = valve.fetch(key);
      return Promise.resolve(5);
    });
    expect(await valve.fetch('k')).toBe(5);
    expect(await inner).toBe(5);
    expect(runs).toBe(1);
  });

  it('infers value and key types', () => {
    const valve = new BurstValve(async (id?: number) => ({ id }));
    expectTypeOf(valve.fetch(1)).toEqualTypeOf<Promise<{ id: number | undefined }>>();
    const named = new BurstValve<string, string>('names', async (id: string) => id);
    expectTypeOf(named.batch(['a'])).toEqualTypeOf<Promise<Array<string | Error>>>();
    expectTypeOf(named.unsafeBatch(['a'])).toEqualTypeOf<Promise<string[]>>();
  });
});

describe('BurstValve: forget (ownership)', () => {
  it('the next fetch starts a new call; the old call only removes its own entry', async () => {
    const { runs, fetcher } = gated<string>();
    const valve = new BurstValve<string, string>(fetcher);
    const a = valve.fetch('k');
    expect(valve.forget('k')).toBe(true);
    expect(valve.forget('k')).toBe(false);
    const b = valve.fetch('k');
    expect(runs.length).toBe(2);
    runs[0]!.gate.resolve('old');
    expect(await a).toBe('old');
    // The old call settled, but the newer call still owns the key.
    expect(valve.isActive('k')).toBe(true);
    const c = valve.fetch('k');
    expect(runs.length).toBe(2);
    runs[1]!.gate.resolve('new');
    expect(await Promise.all([b, c])).toEqual(['new', 'new']);
    expect(valve.size).toBe(0);
  });
});

describe('BurstValve: signals', () => {
  it('creates no AbortController unless the fetcher reads signal', async () => {
    const original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const plain = new BurstValve<number, number>(async (k) => k ?? 0);
      await Promise.all([plain.fetch(1), plain.fetch(2)]);
      expect(made).toBe(0);
      const reading = new BurstValve<boolean, number>(async (_k, { signal }) => signal.aborted);
      expect(await reading.fetch(1)).toBe(false);
      expect(made).toBe(1);
    } finally {
      globalThis.AbortController = original;
    }
  });

  it('an aborting caller rejects with its reason; the others keep waiting', async () => {
    const { runs, fetcher } = gated<string>();
    const valve = new BurstValve<string, string>(fetcher);
    const ac = new AbortController();
    const a = track(valve.fetch('k', { signal: ac.signal }));
    const b = track(valve.fetch('k'));
    const reason = new Error('client went away');
    ac.abort(reason);
    await flush();
    expect(a.error).toBe(reason);
    expect(b.state).toBe('pending');
    expect(runs[0]!.ctx.signal.aborted).toBe(false);
    runs[0]!.gate.resolve('v');
    await flush();
    expect(b.value).toBe('v');
    expect(a.settleCount).toBe(1);
    expect(valve.stats().aborts).toBe(1);
  });

  it('when every caller aborted, the shared signal aborts and the key is free for a new call', async () => {
    const { runs, fetcher } = gated<string>();
    const valve = new BurstValve<string, string>(fetcher);
    const ac1 = new AbortController();
    const ac2 = new AbortController();
    const a = track(valve.fetch('k', { signal: ac1.signal }));
    const b = track(valve.fetch('k', { signal: ac2.signal }));
    const signal = runs[0]!.ctx.signal;
    ac1.abort('r1');
    expect(signal.aborted).toBe(false);
    ac2.abort('r2');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('r2');
    expect(valve.isActive('k')).toBe(false);
    const c = valve.fetch('k');
    expect(runs.length).toBe(2);
    runs[0]!.gate.resolve('late'); // ignored: nobody waits for it
    runs[1]!.gate.resolve('fresh');
    expect(await c).toBe('fresh');
    await flush();
    expect([a.error, b.error]).toEqual(['r1', 'r2']);
  });

  it('a signal read after the call was abandoned is already aborted', async () => {
    let ctx: FetchContext<string> | undefined;
    const gate = deferred<string>();
    const valve = new BurstValve<string, string>((_k, c) => {
      ctx = c;
      return gate.promise;
    });
    const ac = new AbortController();
    const p = track(valve.fetch('k', { signal: ac.signal }));
    ac.abort('bye');
    expect(ctx!.signal.aborted).toBe(true);
    expect(ctx!.signal.reason).toBe('bye');
    gate.resolve('x');
    await flush();
    expect(p.error).toBe('bye');
  });

  it('an already aborted signal rejects at once without starting a call', async () => {
    const { runs, fetcher } = gated<string>();
    const valve = new BurstValve<string, string>(fetcher);
    const ac = new AbortController();
    ac.abort('gone');
    await expect(valve.fetch('k', { signal: ac.signal })).rejects.toBe('gone');
    expect(runs.length).toBe(0);
  });

  it('adds one abort listener per distinct caller signal, not one per call', async () => {
    const { runs, fetcher } = gated<number, number>();
    const valve = new BurstValve<number, number>(fetcher);
    const ac = new AbortController();
    let listeners = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++;
      return add(...args);
    }) as typeof add;
    const calls = [1, 2, 3, 1].map((k) => track(valve.fetch(k, { signal: ac.signal })));
    expect(listeners).toBe(1);
    for (const r of runs) r.gate.resolve(r.key! * 10);
    await flush();
    expect(calls.map((c) => c.value)).toEqual([10, 20, 30, 10]);
    // After they settled, an abort of that signal touches nothing.
    ac.abort('late');
    await flush();
    expect(calls.every((c) => c.settleCount === 1)).toBe(true);
  });

  it('one signal shared by two valves aborts the callers of both', async () => {
    const one = new BurstValve<number, number>(() => new Promise<number>(() => {}));
    const two = new BurstValve<number, number>(() => new Promise<number>(() => {}));
    const ac = new AbortController();
    const a = track(one.fetch(1, { signal: ac.signal }));
    const b = track(two.fetch(1, { signal: ac.signal }));
    const c = track(two.fetch(2, { signal: ac.signal }));
    ac.abort('stop');
    await flush();
    expect([a.error, b.error, c.error]).toEqual(['stop', 'stop', 'stop']);
    expect(one.size + two.size).toBe(0);
  });

  it('validates per-call options: bad ones throw synchronously (issue 14: one rule for bad input)', () => {
    const valve = new BurstValve<number, number>(async () => 1);
    expect(() => valve.fetch(1, { signal: {} as AbortSignal })).toThrow(
      'options.signal must be an AbortSignal, got an object',
    );
    expect(() => valve.fetch(1, { timeoutMs: 0 })).toThrow('options.timeoutMs must be a number > 0, got 0');
    expect(() => valve.fetch(1, { timeout: 5 } as never)).toThrow(
      'options.timeout is not a known option; known options are signal, timeoutMs',
    );
    expect(() => valve.fetchShared(1, null as never)).toThrow('options must be an object, got null');
    expect(() => (valve.batch as (...a: unknown[]) => unknown)([1], { signal: undefined })).toThrow(
      'batch() takes 1 argument, got 2',
    );
    expect(valve.stats().admitted).toBe(0);
  });
});

describe('BurstValve: timeouts', () => {
  it('timeoutMs rejects the waiting callers with TimeoutError and aborts the shared signal', async () => {
    const clock = new ManualClock();
    const { runs, fetcher } = gated<string>();
    const valve = new BurstValve<string, string>({ fetch: fetcher, timeoutMs: 100, clock });
    const a = track(valve.fetch('k'));
    const ac = new AbortController();
    const b = track(valve.fetch('k', { signal: ac.signal }));
    expect(clock.refedTimers).toBe(1);
    await clock.advanceAsync(99);
    expect(a.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(isValveError(a.error, 'ERR_VALVE_TIMEOUT')).toBe(true);
    expect(b.error).toBe(a.error);
    expect((a.error as Error).message).toMatch(/timed out after 100 ms/);
    expect(runs[0]!.ctx.signal.aborted).toBe(true);
    expect(valve.isActive('k')).toBe(false);
    runs[0]!.gate.resolve('too late');
    await flush();
    expect(a.settleCount + b.settleCount).toBe(2);
    expect(valve.stats().timeouts).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a settled call clears its deadline', async () => {
    const clock = new ManualClock();
    const valve = new BurstValve<number, number>({ fetch: async (k) => k ?? 0, timeoutMs: 50, clock });
    expect(await valve.fetch(3)).toBe(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a per-call timeoutMs times out only that caller', async () => {
    const clock = new ManualClock();
    const { runs, fetcher } = gated<string>();
    const valve = new BurstValve<string, string>({ fetch: fetcher, clock });
    const a = track(valve.fetch('k', { timeoutMs: 10 }));
    const b = track(valve.fetch('k'));
    await clock.advanceAsync(10);
    expect(isValveError(a.error, 'ERR_VALVE_TIMEOUT')).toBe(true);
    expect(b.state).toBe('pending');
    expect(runs[0]!.ctx.signal.aborted).toBe(false);
    runs[0]!.gate.resolve('v');
    await flush();
    expect(b.value).toBe('v');
  });

  it('when the only caller times out, the call is abandoned and its later failure goes to onError', async () => {
    const clock = new ManualClock();
    const { runs, fetcher } = gated<string>();
    const seen: unknown[] = [];
    const valve = new BurstValve<string, string>({
      fetch: fetcher,
      clock,
      onError: (error, key) => seen.push([error, key]),
    });
    const a = track(valve.fetch('k', { timeoutMs: 5 }));
    await clock.advanceAsync(5);
    expect(runs[0]!.ctx.signal.aborted).toBe(true);
    expect(a.state).toBe('rejected');
    runs[0]!.gate.reject('failed later');
    await flush();
    expect(seen).toEqual([['failed later', 'k']]);
  });
});

describe('BurstValve: linger, stale-while-revalidate, maxKeys', () => {
  it('serves a settled value for lingerMs, then fetches again; the map empties', async () => {
    const clock = new ManualClock();
    let n = 0;
    const valve = new BurstValve<number, string>({ fetch: async () => ++n, lingerMs: 100, clock });
    expect(await valve.fetch('k')).toBe(1);
    expect(valve.size).toBe(1);
    expect(valve.isActive('k')).toBe(false);
    await clock.advanceAsync(99);
    expect(await valve.fetch('k')).toBe(1);
    expect(valve.stats().lingerHits).toBe(1);
    expect(clock.refedTimers).toBe(0); // a cache never keeps the process alive
    await clock.advanceAsync(1);
    expect(valve.size).toBe(0);
    expect(await valve.fetch('k')).toBe(2);
  });

  it('errors never linger', async () => {
    const clock = new ManualClock();
    let n = 0;
    const valve = new BurstValve<number, string>({
      fetch: async () => {
        if (n++ === 0) throw new Error('first');
        return n;
      },
      lingerMs: 100,
      clock,
    });
    await expect(valve.fetch('k')).rejects.toThrow('first');
    expect(valve.size).toBe(0);
    expect(await valve.fetch('k')).toBe(2);
  });

  it('forget drops a lingering value', async () => {
    const clock = new ManualClock();
    let n = 0;
    const valve = new BurstValve<number, string>({ fetch: async () => ++n, lingerMs: 100, clock });
    await valve.fetch('k');
    expect(valve.forget('k')).toBe(true);
    expect(await valve.fetch('k')).toBe(2);
    expect(valve.stats().lingering).toBe(1);
  });

  it('stale-while-revalidate serves the stale value while exactly one refresh runs', async () => {
    const clock = new ManualClock();
    const { runs, fetcher } = gated<number>();
    const valve = new BurstValve<number, string>({
      fetch: fetcher,
      lingerMs: 10,
      staleWhileRevalidateMs: 100,
      clock,
    });
    const first = valve.fetch('k');
    runs[0]!.gate.resolve(1);
    expect(await first).toBe(1);
    await clock.advanceAsync(10); // now stale
    expect(await valve.fetch('k')).toBe(1);
    expect(await valve.fetch('k')).toBe(1);
    expect(runs.length).toBe(2); // one refresh
    expect(valve.isActive('k')).toBe(true);
    runs[1]!.gate.resolve(2);
    await flush();
    expect(await valve.fetch('k')).toBe(2);
    expect(valve.stats().lingering).toBe(1);
    await clock.advanceAsync(110);
    expect(valve.size).toBe(0);
  });

  it('a failed refresh goes to onError and keeps the stale value until its window ends', async () => {
    const clock = new ManualClock();
    const { runs, fetcher } = gated<number>();
    const errors: unknown[] = [];
    const valve = new BurstValve<number, string>({
      fetch: fetcher,
      lingerMs: 10,
      staleWhileRevalidateMs: 50,
      clock,
      onError: (e) => errors.push(e),
    });
    const first = valve.fetch('k');
    runs[0]!.gate.resolve(1);
    await first;
    await clock.advanceAsync(10);
    expect(await valve.fetch('k')).toBe(1);
    runs[1]!.gate.reject(new Error('refresh failed'));
    await flush();
    expect(errors.map((e) => (e as Error).message)).toEqual(['refresh failed']);
    expect(await valve.fetch('k')).toBe(1);
    expect(runs.length).toBe(3); // the next hit tries again
    runs[2]!.gate.resolve(3);
    await clock.advanceAsync(50);
    expect(valve.size).toBe(1); // the refresh replaced the stale value and lingers afresh
    expect(await valve.fetch('k')).toBe(3);
  });

  it('maxKeys evicts the oldest lingering value; in-flight calls do not count', async () => {
    const clock = new ManualClock();
    const valve = new BurstValve<string, string>({ fetch: async (k) => `v${k}`, lingerMs: 1000, maxKeys: 2, clock });
    await valve.fetch('a');
    await valve.fetch('b');
    await valve.fetch('c');
    expect(valve.size).toBe(2);
    expect(valve.stats().lingering).toBe(2);
    await valve.fetch('b');
    await valve.fetch('c');
    expect(valve.stats().lingerHits).toBe(2);
    await clock.advanceAsync(1000);
    expect(valve.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('BurstValve: stats and metrics', () => {
  it('registers counters, gauges and the duration histogram under the valve label', async () => {
    const clock = new ManualClock();
    const metrics = new MetricsRegistry();
    const { runs, fetcher } = gated<number>();
    const valve = new BurstValve<number, string>({ fetch: fetcher, metrics, name: 'users', clock });
    const a = valve.fetch('k');
    const b = valve.fetch('k');
    await clock.advanceAsync(30);
    runs[0]!.gate.resolve(1);
    await Promise.all([a, b]);
    const text = metrics.toPrometheus();
    expect(text).toContain('valve_burst_fetches_total{valve="users"} 1');
    expect(text).toContain('valve_burst_coalesced_total{valve="users"} 1');
    expect(text).toContain('valve_burst_in_flight_keys{valve="users"} 0');
    expect(text).toContain('valve_burst_fetch_duration_seconds_count{valve="users"} 1');
    expect(text).toContain('valve_burst_fetch_duration_seconds_sum{valve="users"} 0.03');
    expect(valve.stats().duration.count).toBe(1);
  });

  it('onSettled reports each run with its callers', async () => {
    const valve = new BurstValve<number, string>(async () => 1);
    const events: unknown[] = [];
    const sub = valve.onSettled((e) => events.push({ key: e.key, ok: e.status === 'fulfilled', callers: e.callers }));
    await Promise.all([valve.fetch('k'), valve.fetch('k')]);
    sub.dispose();
    await valve.fetch('k');
    expect(events).toEqual([{ key: 'k', ok: true, callers: 2 }]);
  });
});

describe('BurstValve: construction', () => {
  it('accepts burst-valve 1.4.0 constructor forms', async () => {
    expect(await new BurstValve<number>(async () => 1).fetch()).toBe(1);
    const named = new BurstValve<number>('named', async () => 2);
    expect(named.displayName).toBe('named');
    expect(await named.fetch()).toBe(2);
    expect(new BurstValve<number>({ fetch: async () => 3 }).displayName).toBe('Burst Valve');
  });

  it('needs exactly one of fetch and batch', () => {
    expect(() => new BurstValve<number>({})).toThrow('Burst Valve: give exactly one of fetch and batch, got neither');
    expect(
      () => new BurstValve<number, number>({ displayName: 'x', fetch: async () => 1, batch: async () => [] }),
    ).toThrow('x: give exactly one of fetch and batch, got both');
  });

  it.each([
    [{ timeoutMs: 0 }, 'timeoutMs must be a number > 0, got 0'],
    [{ timeoutMs: -1 }, 'timeoutMs must be a number > 0, got -1'],
    [{ timeoutMs: Number.NaN }, 'timeoutMs must be a number > 0, got NaN'],
    [{ lingerMs: -1 }, 'lingerMs must be a finite number >= 0, got -1'],
    [{ lingerMs: Number.POSITIVE_INFINITY }, 'lingerMs must be a finite number >= 0, got Infinity'],
    [{ staleWhileRevalidateMs: -5 }, 'staleWhileRevalidateMs must be a finite number >= 0, got -5'],
    [{ maxKeys: 0 }, 'maxKeys must be an integer or Infinity >= 1, got 0'],
    [{ maxKeys: 1.5 }, 'maxKeys must be an integer or Infinity >= 1, got 1.5'],
    [{ maxBatchSize: 0 }, 'maxBatchSize must be an integer or Infinity >= 1, got 0'],
    [{ keyOf: 'id' }, 'keyOf must be a function, got "id"'],
    [{ onError: 1 }, 'onError must be a function, got 1'],
    [{ clock: {} }, 'clock must be a Clock (an object with now() and setTimeout()), got an object'],
    [{ metrics: {} }, 'metrics must be a MetricsRegistry, got an object'],
    [{ name: '' }, 'name must be a non-empty string, got ""'],
    [{ displayName: 5 }, 'displayName must be a string, got 5'],
    [{ fetch: 'nope' }, 'fetch must be a function, got "nope"'],
    [{ lingerMS: 5 }, 'options.lingerMS is not a known option'],
  ])('rejects %o', (bad, message) => {
    const base = 'fetch' in bad ? {} : { fetch: async () => 1 };
    expect(() => new BurstValve({ ...base, ...bad } as never)).toThrow(message);
  });

  it('accepts the boundary values', () => {
    expect(
      () =>
        new BurstValve<number>({
          fetch: async () => 1,
          timeoutMs: Number.POSITIVE_INFINITY,
          lingerMs: 0,
          staleWhileRevalidateMs: 0,
          maxKeys: 1,
        }),
    ).not.toThrow();
    expect(() => new BurstValve<number, number>({ batch: async (keys) => keys, maxBatchSize: 1 })).not.toThrow();
    expect(
      () => new BurstValve<number>({ fetch: async () => 1, timeoutMs: 0.5, maxKeys: Number.POSITIVE_INFINITY }),
    ).not.toThrow();
  });

  it('rejects a (displayName, fetcher) pair without a function', () => {
    expect(() => new BurstValve<number>('x', undefined as never)).toThrow('fetcher must be a function, got undefined');
  });
});
