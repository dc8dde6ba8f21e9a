/**
 * Issue 19, items 4 and 6: `runningTasks` (with `trackRunning`), `isSaturated`, `onRateLimit`
 * (p-queue 9's `runningTasks`, `isSaturated`, `rateLimit`/`rateLimitCleared` events), and
 * priority aging (`agingMs`), all on a ManualClock.
 */
import { ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../../src/index.js';

describe('runningTasks (trackRunning: true)', () => {
  it('lists what runs, since when on the pool clock, with the caller meta; entries leave when tasks settle', async () => {
    const clock = new ManualClock(1000);
    const pool = new PromisePool({ maxWorkers: 2, clock, trackRunning: true });
    const a = deferred();
    const b = deferred();
    void pool.run(() => a.promise, { meta: { id: 'user-1' }, priority: 3 });
    clock.advance(5);
    pool.add(() => b.promise);
    void pool.run(async () => {}, { meta: 'queued' });
    clock.advance(10);
    expect(pool.runningTasks).toEqual([
      { startedAt: 1000, runningMs: 15, priority: 3, meta: { id: 'user-1' }, attempt: 1 },
      { startedAt: 1005, runningMs: 10, priority: 0, meta: undefined, attempt: 1 },
    ]);
    a.resolve();
    await flush();
    // 'queued' started in a's slot and settled at once: only the add()ed task still runs.
    expect(pool.runningTasks).toEqual([{ startedAt: 1005, runningMs: 10, priority: 0, meta: undefined, attempt: 1 }]);
    b.resolve();
    await pool.drain();
    expect(pool.runningTasks).toEqual([]);
  });

  it('is opt-in: runningTasks and meta throw a TypeError without trackRunning', () => {
    const pool = new PromisePool();
    expect(() => pool.runningTasks).toThrow(/trackRunning: true/);
    expect(() => pool.run(async () => {}, { meta: 1 })).toThrow(TypeError);
    expect(() => new PromisePool({ trackRunning: 'yes' as never })).toThrow(TypeError);
  });

  it('a snapshot, not a live view', async () => {
    const pool = new PromisePool({ trackRunning: true });
    const gate = deferred();
    void pool.run(() => gate.promise, { meta: 'm' });
    const snap = pool.runningTasks;
    gate.resolve();
    await pool.drain();
    expect(snap).toHaveLength(1);
    expect(pool.runningTasks).toHaveLength(0);
  });
});

describe('isSaturated', () => {
  it('is true while tasks wait because every slot is taken', async () => {
    const pool = new PromisePool({ maxWorkers: 1 });
    const gate = deferred();
    pool.add(() => gate.promise);
    expect(pool.isSaturated).toBe(false); // running, nothing waits
    pool.add(async () => {});
    expect(pool.isSaturated).toBe(true);
    gate.resolve();
    await pool.drain();
    expect(pool.isSaturated).toBe(false);
  });

  it('is true while tasks wait for a rate token, false while they wait only for a pause', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 5, rate: 1, hz: 100, clock });
    pool.add(
      async () => {},
      async () => {},
    );
    expect(pool.size).toBe(1);
    expect(pool.isSaturated).toBe(true);
    await clock.advanceAsync(100);
    expect(pool.isSaturated).toBe(false);
    pool.pause();
    pool.add(async () => {});
    expect(pool.isSaturated).toBe(false);
    pool.resume();
    await clock.advanceAsync(100);
    await pool.drain();
  });
});

describe('onRateLimit / onRateLimitCleared', () => {
  it('fires once when tasks start waiting for a token, and cleared when the wait ends', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 10, rate: 2, hz: 100, clock });
    const limited: unknown[] = [];
    let cleared = 0;
    pool.onRateLimit((e) => limited.push(e));
    pool.onRateLimitCleared(() => cleared++);
    pool.add(
      async () => {},
      async () => {},
    ); // two tokens: no wait
    expect(limited).toEqual([]);
    pool.add(
      async () => {},
      async () => {},
      async () => {},
    );
    expect(limited).toEqual([{ queued: 1, nextTokenInMs: 100 }]);
    expect(cleared).toBe(0);
    await clock.advanceAsync(100); // two more start, one still waits
    expect(limited).toHaveLength(1);
    await clock.advanceAsync(100);
    await flush();
    expect(cleared).toBe(1);
    await pool.drain();
    expect(limited).toHaveLength(1);
  });

  it('fires when a task that waited for a slot then has to wait for a token', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 1, rate: 1, hz: 100, clock });
    const events: string[] = [];
    pool.onRateLimit(() => events.push('limited'));
    const gate = deferred();
    pool.add(
      () => gate.promise,
      async () => {},
    );
    expect(events).toEqual([]); // waiting for the slot, not for a token
    gate.resolve();
    await flush();
    expect(events).toEqual(['limited']);
    await clock.advanceAsync(100);
    await pool.drain();
  });

  it('a listener can unsubscribe; a pool without a rate limit never fires', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 1, rate: 1, hz: 100, clock });
    let n = 0;
    const sub = pool.onRateLimit(() => n++);
    sub.dispose();
    pool.add(
      async () => {},
      async () => {},
    );
    expect(n).toBe(0);
    await clock.advanceAsync(100);
    await pool.drain();
    const plain = new PromisePool({ maxWorkers: 1 });
    plain.onRateLimit(() => n++);
    plain.add(
      async () => {},
      async () => {},
    );
    await plain.drain();
    expect(n).toBe(0);
  });
});

/**
 * One slot; a priority -10 task waits while a priority 10 task arrives every 300 ms and holds the
 * slot until the next one arrives. Returns the order tasks started in.
 */
async function starvation(agingMs: number | undefined): Promise<string[]> {
  const clock = new ManualClock();
  const pool = new PromisePool({ maxWorkers: 1, clock, ...(agingMs === undefined ? {} : { agingMs }) });
  const order: string[] = [];
  let gate = deferred();
  const hold = () => gate.promise;
  pool.add(hold); // occupies the slot
  void pool.run(async () => void order.push('low'), { priority: -10 });
  for (let t = 0; t < 5; t++) {
    void pool.run(
      async () => {
        order.push(`high${t}`);
        await hold();
      },
      { priority: 10 },
    );
    clock.advance(300);
    const g = gate;
    gate = deferred();
    g.resolve();
    await flush();
  }
  gate.resolve();
  await pool.drain();
  return order;
}

describe('priority aging (agingMs)', () => {
  it('a low-priority task that waited agingMs starts before newer high-priority ones', async () => {
    const order = await starvation(1000);
    // 'low' had waited 1200 ms when high3 arrived.
    expect(order.indexOf('low')).toBeGreaterThan(0);
    expect(order.indexOf('low')).toBeLessThan(order.indexOf('high4'));
  });

  it('without aging the same arrival pattern starves the low priority until the high ones stop', async () => {
    expect((await starvation(undefined)).at(-1)).toBe('low');
  });

  it('aged tasks start oldest first, ahead of every task that has not aged; agingMs must be > 0', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 1, agingMs: 100, clock });
    const order: string[] = [];
    const gate = deferred();
    pool.add(() => gate.promise);
    void pool.run(async () => void order.push('p1-old'), { priority: 1 });
    clock.advance(10);
    void pool.run(async () => void order.push('p0-old'), { priority: 0 });
    clock.advance(150);
    void pool.run(async () => void order.push('p9-new'), { priority: 9 });
    gate.resolve();
    await pool.drain();
    expect(order).toEqual(['p1-old', 'p0-old', 'p9-new']);
    expect(() => new PromisePool({ agingMs: 0 })).toThrow(RangeError);
  });
});
