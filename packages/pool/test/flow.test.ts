import { ManualClock, TokenBucket } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';
import { FakeAsyncConcurrency, FakeAsyncRate, FakeLimit } from './fakes.js';

describe('pause, resume, pauseFor', () => {
  it('pause() stops starts (running tasks continue); resume() restarts', async () => {
    const pool = new PromisePool({ maxWorkers: 2 });
    const gate = deferred();
    pool.add(() => gate.promise);
    pool.pause();
    expect(pool.isPaused).toBe(true);
    const ran: number[] = [];
    expect(pool.add(async () => void ran.push(1))).toBe(0);
    gate.resolve();
    await flush();
    expect(ran).toEqual([]);
    pool.resume();
    await pool.drain();
    expect(ran).toEqual([1]);
  });

  it('pauseFor(ms) resumes on the clock, extends but never shortens, and refs its timer only while tasks wait', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ clock });
    pool.pauseFor(100);
    expect(clock.refedTimers).toBe(0);
    const call = track(pool.run(async () => 'x'));
    expect(clock.refedTimers).toBe(1);
    pool.pauseFor(50);
    await clock.advanceAsync(60);
    expect(call.state).toBe('pending');
    pool.pauseFor(200); // until 260
    await clock.advanceAsync(199);
    expect(call.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(call.value).toBe('x');
    expect(pool.isPaused).toBe(false);
    expect(() => pool.pauseFor(-1)).toThrow('ms must be a finite number >= 0, got -1');
  });

  it('pauseFor does nothing after pause(); resume() ends both', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ clock });
    pool.pause();
    pool.pauseFor(10);
    const call = track(pool.run(async () => 1));
    await clock.advanceAsync(100);
    expect(call.state).toBe('pending');
    pool.resume();
    await flush();
    expect(call.state).toBe('resolved');
  });
});

describe('rate limit (token bucket: rate, hz, tokenLimit)', () => {
  it('starts at most `rate` tasks per `hz` ms after the initial burst, woken by the bucket', async () => {
    const clock = new ManualClock();
    const pool = new PromisePool({ maxWorkers: 100, rate: 2, hz: 1000, tokenLimit: 3, clock });
    const started: number[] = [];
    for (let i = 0; i < 8; i++) pool.add(async () => void started.push(clock.now()));
    expect(started).toEqual([0, 0, 0]);
    expect(clock.refedTimers).toBeGreaterThanOrEqual(1);
    await clock.advanceAsync(999);
    expect(started).toHaveLength(3);
    await clock.advanceAsync(1);
    expect(started).toEqual([0, 0, 0, 1000, 1000]);
    await clock.advanceAsync(2000);
    expect(started).toEqual([0, 0, 0, 1000, 1000, 2000, 2000, 3000]);
    await pool.drain();
    expect(clock.refedTimers).toBe(0);
  });

  it('uses a sync rateSource: tryAcquire, then waits for onAvailable (never polls)', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ tokenLimit: 1, clock }); // no hz: only replenish() adds
    const pool = new PromisePool({ rateSource: bucket, clock });
    const a = track(pool.run(async () => 'a'));
    const b = track(pool.run(async () => 'b'));
    await flush();
    expect([a.state, b.state]).toEqual(['resolved', 'pending']);
    expect(clock.pendingTimers).toBe(0);
    bucket.replenish(1);
    await flush();
    expect(b.value).toBe('b');
  });
});

describe('concurrency sources', () => {
  it('an async concurrency source: the head of the queue asks, in priority order; permits are released', async () => {
    const source = new FakeAsyncConcurrency();
    const pool = new PromisePool({ concurrencySource: source });
    const order: string[] = [];
    const a = pool.run(async () => void order.push('a'));
    const b = pool.run(async () => void order.push('b'));
    const c = pool.run(async () => void order.push('c'), { priority: 1 });
    await flush();
    expect(source.requests).toHaveLength(1); // one acquisition at a time
    source.grant(0);
    await flush();
    // A permit goes to the head of the line when it is granted: c (priority 1) arrived while the
    // pool was asking, so c starts first.
    expect(order).toEqual(['c']);
    expect(source.requests).toHaveLength(2);
    source.grant(1);
    await flush();
    source.grant(2);
    await Promise.all([a, b, c]);
    expect(order).toEqual(['c', 'a', 'b']);
    expect(source.released).toBe(3);
    expect(source.inUse).toBe(0);
  });

  it('an error from acquire rejects that task with the error unchanged; the next task proceeds', async () => {
    const source = new FakeAsyncConcurrency();
    const errors: unknown[] = [];
    const pool = new PromisePool({ concurrencySource: source, onError: (e) => errors.push(e) });
    const refused = new Error('redis down');
    const first = track(pool.run(async () => 1));
    pool.add(async () => {});
    await flush();
    source.requests[0]!.gate.reject(refused);
    await flush();
    expect(first.error).toBe(refused);
    source.grant(1);
    const s = await pool.drain();
    expect(s).toMatchObject({ completed: 1, failed: 1, errors: [refused] });
    expect(errors).toEqual([]);
  });

  it('an abort while acquiring rejects with the reason and drops the permit if granted', async () => {
    const source = new FakeAsyncConcurrency();
    const pool = new PromisePool({ concurrencySource: source });
    const ac = new AbortController();
    const call = track(pool.run(async () => 1, { signal: ac.signal }));
    await flush();
    // The pool asks for the head of its line with a signal of its own: the head may change (a
    // higher priority arrives, the head aborts) while the source decides.
    expect(source.requests[0]!.signal?.aborted).toBe(false);
    ac.abort('bye');
    await flush();
    expect(call.error).toBe('bye');
    // Nobody waits any more: the pending request is withdrawn.
    expect(source.requests[0]!.signal?.aborted).toBe(true);
    expect(pool.stats()).toMatchObject({ failed: 0, rejected: 1, active: 0 });
  });

  it('an async rate source gates each start', async () => {
    const rateSource = new FakeAsyncRate();
    const pool = new PromisePool({ rateSource, maxWorkers: 1 });
    const a = track(pool.run(async () => 'a'));
    const b = track(pool.run(async () => 'b'));
    await flush();
    expect(rateSource.gates).toHaveLength(1);
    rateSource.gates[0]!.resolve();
    await flush();
    expect(a.value).toBe('a');
    rateSource.gates[1]!.resolve();
    await flush();
    expect(b.value).toBe('b');
  });
});

describe('adaptive concurrency (maxWorkers: Limit)', () => {
  it('follows the limit as it moves and feeds it latency samples', async () => {
    const clock = new ManualClock();
    const limit = new FakeLimit(1);
    const pool = new PromisePool({ maxWorkers: limit, clock });
    const gates = Array.from({ length: 4 }, () => deferred());
    for (const g of gates) pool.add(() => g.promise);
    expect(pool.active).toBe(1);
    limit.set(3);
    expect(pool.active).toBe(3);
    expect(pool.stats().limit).toBe(3);
    await clock.advanceAsync(40);
    gates[0]!.resolve();
    await flush();
    expect(limit.samples).toEqual([{ rttMs: 40, inflight: 1, dropped: false }]);
    gates[1]!.reject(new Error('overload'));
    await flush();
    expect(limit.samples[1]).toMatchObject({ dropped: true });
    limit.set(1);
    gates[2]!.resolve();
    gates[3]!.resolve();
    await pool.drain();
    expect(pool.stats()).toMatchObject({ completed: 3, failed: 1 });
  });
});
