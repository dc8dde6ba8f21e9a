// The safetyvalve rules (jlouis/safetyvalve 2.5.1, sv_queue.erl), one test each, on a ManualClock.
import { isValveError, ManualClock, type QueueFullError } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';
import { gated } from './helpers.js';

describe('token bucket rules', () => {
  it('starts with a full bucket: tokenLimit jobs start at once', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 100, rate: 1, tokenLimit: 3, size: 10, concurrency: 10, clock });
    expect(valve.stats().tokens).toBe(3);
    const log: string[] = [];
    const jobs = ['a', 'b', 'c', 'd'].map((n) => gated(log, n));
    const runs = jobs.map((j) => track(valve.run(j.fn)));
    expect(log).toEqual(['a', 'b', 'c']);
    expect(valve.stats()).toMatchObject({ tokens: 0, running: 3, queued: 1 });
    for (const j of jobs) j.finish();
    await clock.advanceAsync(100);
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    await flush();
    expect(runs.map((r) => r.value)).toEqual(['a', 'b', 'c', 'd']);
    valve.close();
  });

  it('refills rate tokens every hz ms on the grid start + k*hz, capped at tokenLimit', async () => {
    const clock = new ManualClock(1000);
    const valve = new SafetyValve({ hz: 100, rate: 2, tokenLimit: 5, size: 100, concurrency: 100, clock });
    clock.advance(30);
    for (let i = 0; i < 5; i++) void valve.run(() => i);
    expect(valve.stats().tokens).toBe(0);
    clock.advance(69); // t = 1099
    expect(valve.stats().tokens).toBe(0);
    clock.advance(1); // t = 1100: the grid point, not 30 + 100
    expect(valve.stats().tokens).toBe(2);
    clock.advance(100);
    expect(valve.stats().tokens).toBe(4);
    clock.advance(100);
    expect(valve.stats().tokens).toBe(5); // capped
    // Taking one at t = 1350 refills at 1400 (grid), not at 1450.
    clock.advance(50);
    void valve.run(() => 0);
    expect(valve.stats().tokens).toBe(4);
    clock.advance(49);
    expect(valve.stats().tokens).toBe(4);
    clock.advance(1);
    expect(valve.stats().tokens).toBe(5);
    valve.close();
    await flush();
  });

  it('finishing a job returns no token: tokens gate starts, concurrency gates work in flight', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ rate: 1, tokenLimit: 1, size: 10, concurrency: 5, clock });
    expect(await valve.run(() => 'first')).toBe('first');
    const log: string[] = [];
    const second = gated(log, 'second');
    const p = track(valve.run(second.fn));
    await flush();
    expect(log).toEqual([]); // the slot is free, the bucket is empty
    expect(valve.stats()).toMatchObject({ tokens: 0, running: 0, queued: 1 });
    valve.replenish(); // no hz: tokens come only from replenish()
    expect(log).toEqual(['second']);
    second.finish();
    await flush();
    expect(p.value).toBe('second');
    valve.close();
  });

  it('a refill starts several waiters at once, in order, as far as slots allow', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 100, rate: 3, tokenLimit: 2, size: 10, concurrency: 4, clock });
    const log: string[] = [];
    const jobs = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => gated(log, n));
    for (const j of jobs) void valve.run(j.fn);
    expect(log).toEqual(['a', 'b']);
    clock.advance(100); // adds rate 3 to an empty bucket, capped at tokenLimit 2
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    expect(valve.stats()).toMatchObject({ running: 4, queued: 2, tokens: 0 });
    clock.advance(100); // 2 tokens, but no slot
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    expect(valve.stats().tokens).toBe(2);
    jobs[0]!.finish();
    await flush();
    expect(log).toEqual(['a', 'b', 'c', 'd', 'e']);
    jobs[1]!.finish();
    await flush();
    expect(log).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    for (const j of jobs) j.finish();
    await flush();
    expect(valve.stats()).toMatchObject({ running: 0, queued: 0, completed: 6 });
    valve.close();
  });
});

describe('queue and concurrency rules', () => {
  it('rejects with queue_full at exactly size waiters, before any discipline', async () => {
    const valve = new SafetyValve({ size: 2, concurrency: 1, queue: 'codel', clock: new ManualClock() });
    const log: string[] = [];
    const a = gated(log, 'a');
    void valve.run(a.fn);
    const b = track(valve.run(() => 'b'));
    const c = track(valve.run(() => 'c'));
    const d = track(valve.run(() => 'd'));
    await flush();
    expect(b.state).toBe('pending');
    expect(c.state).toBe('pending');
    expect(d.state).toBe('rejected');
    expect(isValveError(d.error, 'ERR_VALVE_QUEUE_FULL')).toBe(true);
    expect((d.error as QueueFullError).reason).toBe('queue_full');
    expect((d.error as Error).message).toContain('1 running, 2 waiting (size 2)');
    a.finish();
    await flush();
    expect([b.value, c.value]).toEqual(['b', 'c']);
    expect(valve.stats().rejectedByReason.queue_full).toBe(1);
    valve.close();
  });

  it('size 0 means no waiting: a job either starts now or is refused', async () => {
    const valve = new SafetyValve({ size: 0, concurrency: 1, clock: new ManualClock() });
    const gate = deferred();
    const first = valve.run(() => gate.promise);
    await expect(valve.run(() => 1)).rejects.toMatchObject({ reason: 'queue_full' });
    await expect(valve.ask()).rejects.toMatchObject({ reason: 'queue_full' });
    gate.resolve();
    await first;
    const permit = await valve.ask();
    permit.done();
    valve.close();
  });

  it('never runs more than concurrency jobs', async () => {
    const valve = new SafetyValve({ size: 100, concurrency: 3, clock: new ManualClock() });
    let running = 0;
    let max = 0;
    const gates = Array.from({ length: 20 }, () => deferred());
    const all = gates.map((g) =>
      valve.run(async () => {
        running++;
        max = Math.max(max, running);
        await g.promise;
        running--;
      }),
    );
    for (const g of gates) {
      g.resolve();
      await flush();
    }
    await Promise.all(all);
    expect(max).toBe(3);
    valve.close();
  });

  it('no barging: a freed slot goes to the head waiter synchronously (cockatiel scenario gives A B C D)', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 1, clock: new ManualClock() });
    const log: string[] = [];
    const a = await valve.ask();
    log.push('A');
    const b = gated(log, 'B');
    const pb = valve.run(b.fn);
    // Cockatiel's bulkhead frees the slot, then starts the waiter on a later tick, so a caller
    // arriving right after the release runs first (A C B D). Here the release hands over at once.
    a.done();
    expect(log).toEqual(['A', 'B']);
    const c = gated(log, 'C');
    const pc = valve.run(c.fn); // arrives during the hand-over: must queue behind B
    const d = gated(log, 'D');
    const pd = valve.run(d.fn);
    expect(log).toEqual(['A', 'B']);
    b.finish();
    await pb;
    c.finish();
    await pc;
    d.finish();
    await pd;
    expect(log).toEqual(['A', 'B', 'C', 'D']);
    valve.close();
  });

  it('no barging across a run() hand-over either', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 1, clock: new ManualClock() });
    const log: string[] = [];
    const a = gated(log, 'A');
    const b = gated(log, 'B');
    const c = gated(log, 'C');
    // C's arrival is registered on A's gate before A runs, so it lands in the same turn as A's end.
    a.gate.promise.then(() => valve.run(c.fn));
    const pa = valve.run(a.fn);
    void valve.run(b.fn);
    a.finish();
    await pa;
    expect(log).toEqual(['A', 'B']);
    b.finish();
    await flush();
    expect(log).toEqual(['A', 'B', 'C']);
    c.finish();
    valve.close();
  });
});
