// The Valve contract (CONTRIBUTING.md, issue 14) for PromisePool: testkit's generic test, then the
// pool's own cases (the shared stats words, close() = done(), per-call option checks).
import { ClosedError, ManualClock, MetricsRegistry, REASONS } from '@valve/core';
import { deferred, flush, newUntyped, track, valveContract } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';

valveContract<PromisePool, MetricsRegistry>('PromisePool', {
  reasons: REASONS,
  create: (name, metrics = new MetricsRegistry()) => ({
    valve: new PromisePool({ name, metrics, maxWorkers: 1, clock: new ManualClock() }),
    metrics,
  }),
  work: async (pool) => {
    // One runs and succeeds, one waits and fails, one waits and its caller aborts (rejected).
    const gate = deferred<string>();
    const ok = pool.run(() => gate.promise);
    const bad = pool.run(() => Promise.reject(new Error('no')));
    const ac = new AbortController();
    const gone = pool.run(async () => 3, { signal: ac.signal });
    ac.abort(new Error('gone'));
    await expect(gone).rejects.toThrow('gone');
    gate.resolve('a');
    await ok;
    await expect(bad).rejects.toThrow('no');
    return { offered: 3, rejected: 1, completed: 1, failed: 1 };
  },
  badOptions: [
    { option: 'maxWorkers', construct: () => new PromisePool({ maxWorkers: 0 }) },
    { option: 'taskTimeoutMs', construct: () => new PromisePool({ taskTimeoutMs: -1 }) },
    { option: 'metrics', construct: () => new PromisePool({ metrics: {} as never }) },
    { option: 'clock', construct: () => new PromisePool({ clock: 5 as never }) },
    { option: 'maxWorkerz', construct: () => new PromisePool({ maxWorkerz: 1 } as never) },
  ],
  unknownOptions: [
    { call: 'new PromisePool(options)', with: (o) => new PromisePool(o) },
    { call: 'run(task, options)', with: (o) => new PromisePool().run(async () => 1, o) },
    { call: 'runWhenRoom(task, options)', with: (o) => new PromisePool().runWhenRoom(async () => 1, o) },
    { call: 'addWhenRoom(task, options)', with: (o) => new PromisePool().addWhenRoom(async () => {}, o) },
    { call: 'PromisePool.map(items, fn, options)', with: (o) => PromisePool.map([1], async (x) => x, o) },
    { call: 'PromisePool.mapSettled(items, fn, options)', with: (o) => PromisePool.mapSettled([1], async (x) => x, o) },
    {
      call: 'PromisePool.mapIterable(items, fn, options)',
      with: (o) => PromisePool.mapIterable([1], async (x) => x, o),
    },
  ],
  extraArguments: [
    { call: 'new PromisePool(options, extra)', with: (extra) => newUntyped(PromisePool, { maxWorkers: 2 }, extra) },
    { call: 'new PromisePool(undefined, extra)', with: (extra) => newUntyped(PromisePool, undefined, extra) },
  ],
});

describe('PromisePool and the Valve contract', () => {
  it('stats words: failed is what ran and failed; aborted while queued and refused after close are rejected', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    const head = pool.run(() => gate.promise);
    const ac = new AbortController();
    const queued = pool.run(async () => 1, { signal: ac.signal });
    const also = pool.run(async () => 2);
    expect(pool.stats()).toMatchObject({ admitted: 1, running: 1, queued: 2, rejected: 0 });
    ac.abort(new Error('stop'));
    await expect(queued).rejects.toThrow('stop');
    gate.resolve();
    await head;
    await also;
    const closing = pool.close();
    await expect(pool.run(async () => 3)).rejects.toBeInstanceOf(ClosedError);
    expect(() => pool.add(async () => {})).toThrow(ClosedError);
    await closing;
    const s = pool.stats();
    expect(s).toMatchObject({ admitted: 2, completed: 2, failed: 0, running: 0, queued: 0, rejected: 3, closed: true });
    expect(s.rejectedByReason).toMatchObject({ aborted: 1, shutdown: 2 });
    // offered (5) = rejected + queued + admitted
    expect(s.rejected + s.queued + s.admitted).toBe(5);
  });

  it('close() is done(): queued and running tasks finish, then it resolves (with nothing)', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    const order: number[] = [];
    pool.add(
      () => gate.promise.then(() => void order.push(1)),
      async () => void order.push(2),
    );
    const promise = pool.close();
    const closing = track(promise);
    await flush();
    expect(closing.state).toBe('pending');
    gate.resolve();
    await expect(promise).resolves.toBeUndefined();
    expect(order).toEqual([1, 2]);
    expect(await pool.done()).toMatchObject({ completed: 2 });
  });

  it('run() rejects unknown per-call options synchronously, naming them', () => {
    const pool = new PromisePool();
    expect(() => pool.run(async () => 1, { priorty: 1 } as never)).toThrow(/priorty/);
    expect(() => pool.run(async () => 1, { timeoutMs: 0 })).toThrow(RangeError);
  });
});
