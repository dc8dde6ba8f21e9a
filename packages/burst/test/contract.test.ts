// The Valve contract (CONTRIBUTING.md), checked by testkit's generic test, plus burst's close()
// semantics, onSettled, the async context of the fetcher and the extension points.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ClosedError, isValveError, ManualClock, MetricsRegistry, REASONS } from '@valve/core';
import { deferred, flush, newUntyped, track, valveContract } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve, coalesce, type FetchContext, type SettledEvent } from '../src/index.js';

valveContract<BurstValve<number, number>, MetricsRegistry>('BurstValve', {
  reasons: REASONS,
  create: (name, metrics = new MetricsRegistry()) => ({
    valve: new BurstValve<number, number>({
      name,
      metrics,
      clock: new ManualClock(),
      fetch: async (k) => {
        if (k < 0) throw new Error(`bad key ${k}`);
        return k * 2;
      },
    }),
    metrics,
  }),
  work: async (valve) => {
    // 3 runs (1, 2, -1), a coalesced caller, an aborted caller (refused) and 2 callers refused after close.
    const results = await Promise.allSettled([valve.fetch(1), valve.fetch(1), valve.fetch(2), valve.fetch(-1)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    await expect(valve.fetch(3, { signal: aborted.signal })).rejects.toThrow('stop');
    return { offered: 4, rejected: 1, completed: 2, failed: 1 };
  },
  badOptions: [
    { option: 'timeoutMs', construct: () => new BurstValve(async () => 1, { timeoutMs: 0 }) },
    { option: 'lingerMs', construct: () => new BurstValve({ fetch: async () => 1, lingerMs: -1 }) },
    { option: 'metrics', construct: () => new BurstValve({ fetch: async () => 1, metrics: {} as never }) },
    { option: 'clock', construct: () => new BurstValve({ fetch: async () => 1, clock: 5 as never }) },
    { option: 'maxKeyz', construct: () => new BurstValve({ fetch: async () => 1, maxKeyz: 1 } as never) },
  ],
  unknownOptions: [
    { call: 'new BurstValve(options)', with: (o) => new BurstValve({ fetch: async () => 1, ...o }) },
    { call: 'new BurstValve(fetcher, options)', with: (o) => new BurstValve(async () => 1, o) },
    { call: 'new BurstValve(displayName, fetcher, options)', with: (o) => new BurstValve('n', async () => 1, o) },
    {
      call: 'new BurstValve({ batch, ...options })',
      with: (o) => new BurstValve({ batch: async (k: number[]) => k, ...o }),
    },
    { call: 'fetch(key, options)', with: (o) => new BurstValve(async (k: number) => k).fetch(1, o) },
    { call: 'fetchShared(key, options)', with: (o) => new BurstValve(async (k: number) => k).fetchShared(1, o) },
    { call: 'coalesce(fn, options)', with: (o) => coalesce(async (k: number) => k, o) },
  ],
  extraArguments: [
    {
      call: 'new BurstValve(options, extra)',
      with: (extra) => newUntyped(BurstValve, { fetch: async () => 1 }, extra),
    },
    {
      call: 'new BurstValve(fetcher, options, extra)',
      with: (extra) => newUntyped(BurstValve, async () => 1, {}, extra),
    },
    {
      call: 'new BurstValve(displayName, fetcher, options, extra)',
      with: (extra) => newUntyped(BurstValve, 'n', async () => 1, {}, extra),
    },
  ],
});

describe('BurstValve.close()', () => {
  it('lets calls in flight finish, refuses new callers, resolves when the last call settled', async () => {
    const gate = deferred<string>();
    const registry = new MetricsRegistry();
    const valve = new BurstValve<string, string>({ fetch: () => gate.promise, metrics: registry, name: 'c' });
    const inFlight = track(valve.fetch('k'));
    const closing = track(valve.close());
    await flush();
    expect(closing.state).toBe('pending');
    expect(valve.stats()).toMatchObject({ closed: true, running: 1, admitted: 1 });
    await expect(valve.fetch('k')).rejects.toBeInstanceOf(ClosedError);
    await expect(valve.fetch('other')).rejects.toSatisfy((e) => isValveError(e, 'ERR_VALVE_CLOSED'));
    await expect(valve.batch(['a', 'b'])).rejects.toBeInstanceOf(ClosedError);
    expect(registry.toPrometheus()).toContain('valve="c"');
    gate.resolve('v');
    await flush();
    expect(inFlight.value).toBe('v');
    expect(closing.state).toBe('resolved');
    expect(registry.toPrometheus()).toBe('');
    expect(valve.stats()).toMatchObject({
      rejected: 4,
      rejectedByReason: expect.objectContaining({ shutdown: 4 }),
      running: 0,
      completed: 1,
    });
  });

  it('drops lingering values at once (their timers too)', async () => {
    const clock = new ManualClock();
    let runs = 0;
    const valve = new BurstValve<number, string>({ fetch: async () => ++runs, lingerMs: 1000, clock });
    await valve.fetch('k');
    expect(valve.stats().lingering).toBe(1);
    expect(clock.pendingTimers).toBe(1);
    await valve.close();
    expect(valve.stats().lingering).toBe(0);
    expect(valve.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not wait for a call every caller gave up (its signal is aborted)', async () => {
    let signal: AbortSignal | undefined;
    const valve = new BurstValve<string, string>((_k, ctx) => {
      signal = ctx.signal;
      return new Promise<string>(() => {});
    });
    const ac = new AbortController();
    const call = track(valve.fetch('k', { signal: ac.signal }));
    ac.abort(new Error('gone'));
    await flush();
    expect(call.state).toBe('rejected');
    expect(signal?.aborted).toBe(true);
    await valve.close();
    expect(valve.stats()).toMatchObject({ running: 0, failed: 1, admitted: 1 });
  });
});

describe('BurstValve.onSettled', () => {
  it('reports { status } (and error), after the valve state is updated', async () => {
    const valve = new BurstValve<number, number>(async (k) => {
      if (k < 0) throw new Error('neg');
      return k;
    });
    const events: SettledEvent<number>[] = [];
    const sub = valve.onSettled((e) => {
      expect(valve.isActive(e.key)).toBe(false);
      events.push(e);
    });
    await Promise.allSettled([valve.fetch(1), valve.fetch(1), valve.fetch(-1)]);
    expect(events.map((e) => [e.key, e.status, e.callers])).toEqual([
      [1, 'fulfilled', 2],
      [-1, 'rejected', 1],
    ]);
    const failed = events[1]!;
    expect(failed.status === 'rejected' && (failed.error as Error).message).toBe('neg');
    // One event name per idea (issue 14): the pre-release `onSettle` alias is gone.
    expect((valve as unknown as Record<string, unknown>).onSettle).toBeUndefined();
    sub.dispose();
  });
});

describe('BurstValve: async context and extension points', () => {
  it('the fetcher runs in the AsyncLocalStorage context of the caller that started the call', async () => {
    const store = new AsyncLocalStorage<{ id: number }>();
    const seen: (number | undefined)[] = [];
    const valve = new BurstValve<number, string>(async (key) => {
      seen.push(store.getStore()?.id);
      await flush();
      seen.push(store.getStore()?.id);
      return Number(key);
    });
    const results = await Promise.all([
      store.run({ id: 1 }, () => valve.fetch('a')),
      store.run({ id: 2 }, () => valve.fetch('a')), // joins: the fetcher already runs in 1's context
      store.run({ id: 3 }, () => valve.fetch('b')),
    ]);
    expect(results).toEqual([Number('a'), Number('a'), Number('b')]);
    expect(seen).toEqual([1, 3, 1, 3]);
  });

  it('a subclass overriding execute() wraps every fetch', async () => {
    class Traced extends BurstValve<string, string> {
      readonly trace: string[] = [];
      protected override execute(key: string | undefined, context: FetchContext<string>): Promise<string> {
        this.trace.push(`start ${key}`);
        return Promise.resolve(super.execute(key, context)).finally(() => this.trace.push(`end ${key}`));
      }
    }
    const valve = new Traced(async (k) => k.toUpperCase());
    expect(await Promise.all([valve.fetch('a'), valve.fetch('a')])).toEqual(['A', 'A']);
    expect(valve.trace).toEqual(['start a', 'end a']);
  });
});
