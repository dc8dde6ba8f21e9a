/**
 * Issue 19, items 2 and 3: `clear()` (p-queue's leaves the cleared promises pending forever;
 * p-limit's `clearQueue` does too unless `rejectOnClear`) and `pool.concurrency = n` at run
 * time (p-queue's `concurrency` setter, p-limit's `limit.concurrency`).
 */
import { getEventListeners } from 'node:events';
import { AimdLimit, isValveError, ManualClock } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PoolClearedError, PromisePool } from '../../src/index.js';
import { FakeAsyncConcurrency } from '../fakes.js';

describe('clear()', () => {
  it('rejects queued run() promises with PoolClearedError, leaves running work alone, and the drain settles', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred<string>();
    const running = pool.run(() => gate.promise);
    const queued = [pool.run(async () => 1), pool.run(async () => 2, { priority: 5 })];
    const ran: string[] = [];
    pool.add(async () => void ran.push('added'));
    const drain = track(pool.drain());
    expect(pool.clear()).toBe(3);
    expect(pool.size).toBe(0);
    for (const p of queued) {
      await expect(p).rejects.toBeInstanceOf(PoolClearedError);
      await expect(p).rejects.toMatchObject({ code: 'ERR_VALVE_CLEARED', reason: 'shutdown' });
      await expect(p).rejects.toSatisfy((e) => isValveError(e, 'ERR_VALVE_CLEARED'));
    }
    await flush();
    expect(drain.state).toBe('pending'); // the running task is still running
    gate.resolve('kept');
    await expect(running).resolves.toBe('kept');
    await flush();
    expect(drain.state).toBe('resolved');
    expect(drain.value).toMatchObject({ completed: 1, failed: 3 });
    expect(ran).toEqual([]);
    const s = pool.stats();
    expect(s.rejected).toBe(3);
    expect(s.rejectedByReason.shutdown).toBe(3);
    expect(s.completed).toBe(1);
    expect(s.failed).toBe(0);
    // The pool stays open.
    await expect(pool.run(async () => 'after')).resolves.toBe('after');
  });

  it('clears per-task jobs too: their signals are no longer listened to, their timeouts never fire', async () => {
    const pool = new PromisePool({ maxWorkers: 1, taskTimeoutMs: 50 });
    const gate = deferred();
    void pool.run(() => gate.promise);
    const controller = new AbortController();
    const queued = pool.run(async () => 1, { signal: controller.signal });
    pool.clear();
    await expect(queued).rejects.toBeInstanceOf(PoolClearedError);
    controller.abort(); // nothing left to abort: no double settle, no count
    expect(pool.stats().rejectedByReason).toMatchObject({ shutdown: 1, aborted: 0 });
    gate.resolve();
    await pool.drain();
  });

  it('removes the abort listeners of cleared tasks, also of a signal shared with a running task', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const controller = new AbortController();
    const { signal } = controller;
    const gate = deferred();
    const running = pool.run(() => gate.promise, { signal });
    const queued = [pool.run(async () => 1, { signal }), pool.run(async () => 2, { signal })];
    expect(getEventListeners(signal, 'abort')).toHaveLength(1); // one per distinct signal (issue 18)
    pool.clear();
    for (const p of queued) await expect(p).rejects.toBeInstanceOf(PoolClearedError);
    // The running task still listens: aborting it later settles it, and only it.
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    controller.abort(new Error('stop'));
    await expect(running).rejects.toThrow('stop');
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(pool.stats().rejectedByReason).toMatchObject({ shutdown: 2, aborted: 0 });
    gate.resolve();
  });

  it('resolves onEmpty / onSizeLessThan at once, and onIdle once running work ends', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    pool.add(
      () => gate.promise,
      async () => {},
      async () => {},
    );
    const empty = track(pool.onEmpty());
    const below = track(pool.onSizeLessThan(1));
    const idle = track(pool.onIdle());
    pool.clear();
    await flush();
    expect(empty.state).toBe('resolved');
    expect(below.state).toBe('resolved');
    expect(idle.state).toBe('pending');
    gate.resolve();
    await flush();
    expect(idle.state).toBe('resolved');
  });

  it('gives the freed room to producers waiting under maxQueued; returns 0 when nothing waits', async () => {
    const pool = new PromisePool({ maxWorkers: 1, maxQueued: 1 });
    expect(pool.clear()).toBe(0);
    const gate = deferred();
    void pool.run(() => gate.promise);
    const cleared = pool.run(async () => 'cleared');
    const waiting = pool.runWhenRoom(async () => 'waited');
    pool.clear();
    await expect(cleared).rejects.toBeInstanceOf(PoolClearedError);
    expect(pool.size).toBe(1); // the producer's task took the room
    gate.resolve();
    await expect(waiting).resolves.toBe('waited');
  });
});

describe('pool.concurrency = n', () => {
  it('raising it starts queued tasks at once', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    pool.add(
      () => gate.promise,
      () => gate.promise,
      () => gate.promise,
    );
    expect(pool.active).toBe(1);
    pool.concurrency = 3;
    expect(pool.concurrency).toBe(3);
    expect(pool.limit).toBe(3);
    expect(pool.active).toBe(3); // synchronously
    expect(pool.size).toBe(0);
    gate.resolve();
    await pool.drain();
  });

  it('lowering it lets running tasks finish and starts none until active is below it', async () => {
    const pool = new PromisePool({ maxWorkers: 3 });
    const gates = [deferred(), deferred(), deferred(), deferred()];
    let started = 0;
    for (const g of gates) {
      pool.add(() => {
        started++;
        return g.promise;
      });
    }
    expect(started).toBe(3);
    pool.concurrency = 1;
    gates[0]!.resolve();
    await flush();
    expect(started).toBe(3);
    expect(pool.active).toBe(2);
    gates[1]!.resolve();
    await flush();
    expect(started).toBe(3); // active 1 = the new limit: still no start
    gates[2]!.resolve();
    await flush();
    expect(started).toBe(4);
    gates[3]!.resolve();
    await pool.drain();
  });

  it('wakes onSizeLessThan waiters when raising it drains the queue', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    pool.add(
      () => gate.promise,
      () => gate.promise,
      () => gate.promise,
    );
    const below = track(pool.onSizeLessThan(1));
    pool.concurrency = Number.POSITIVE_INFINITY;
    await flush();
    expect(below.state).toBe('resolved');
    gate.resolve();
    await pool.drain();
  });

  it('onSizeLessThan also resolves when a rate-limit refill drains the queue', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 10, rate: 2, hz: 100, clock });
    pool.add(...Array.from({ length: 6 }, () => async () => {}));
    expect(pool.size).toBe(4);
    const below = track(pool.onSizeLessThan(1));
    await clock.advanceAsync(100);
    expect(below.state).toBe('pending');
    await clock.advanceAsync(100);
    expect(below.state).toBe('resolved');
    await pool.drain();
  });

  it('RangeError for a bad value; TypeError on a pool whose limit is adaptive or from a source', () => {
    const pool = new PromisePool({ maxWorkers: 2 });
    for (const bad of [0, -1, 1.5, Number.NEGATIVE_INFINITY]) {
      expect(() => (pool.concurrency = bad)).toThrow(RangeError);
    }
    // Not a number at all (NaN included): a TypeError, as everywhere in valve.
    expect(() => (pool.concurrency = '3' as never)).toThrow(TypeError);
    expect(() => (pool.concurrency = Number.NaN)).toThrow(TypeError);
    expect(pool.concurrency).toBe(2);
    const adaptive = new PromisePool({ maxWorkers: new AimdLimit({ initialLimit: 2 }) });
    expect(() => (adaptive.concurrency = 4)).toThrow(TypeError);
    const sourced = new PromisePool({ concurrencySource: new FakeAsyncConcurrency() });
    expect(() => (sourced.concurrency = 4)).toThrow(/numeric maxWorkers/);
  });
});
