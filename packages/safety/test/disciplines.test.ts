// codel-timer, deadline and adaptive LIFO: the queue disciplines that bound waiting by timer.
import { ManualClock } from '@valve/core';
import { flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';
import { gated } from './helpers.js';

describe("queue: 'deadline'", () => {
  it('rejects a job that waited deadlineMs with reason deadline, exactly then', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ size: 10, concurrency: 1, queue: 'deadline', deadlineMs: 10, clock });
    const log: string[] = [];
    const a = gated(log, 'a');
    void valve.run(a.fn);
    const b = track(valve.run(() => 'b'));
    const c = track(valve.run(() => 'c', { deadlineMs: 30 })); // a call's own deadline wins
    await clock.advanceAsync(9);
    expect(b.state).toBe('pending');
    expect(clock.refedTimers).toBe(2); // the waiters' deadlines keep the process alive
    await clock.advanceAsync(1);
    expect(b.state).toBe('rejected');
    expect(b.error).toMatchObject({ reason: 'deadline', code: 'ERR_VALVE_TIMEOUT' });
    expect(valve.stats().queued).toBe(1);
    a.finish();
    await flush();
    expect(c.value).toBe('c');
    expect(clock.pendingTimers).toBe(0); // a started job's deadline is cleared
    valve.close();
  });
});

describe("queue: 'codel-timer'", () => {
  it('limits waits to intervalMs, then to targetMs once the queue has stood for intervalMs', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ size: 100, concurrency: 1, queue: 'codel-timer', clock });
    const log: string[] = [];
    const a = gated(log, 'a');
    void valve.run(a.fn);
    const early = track(valve.run(() => 'early')); // t = 0
    await clock.advanceAsync(97);
    const late = track(valve.run(() => 'late')); // t = 97
    await clock.advanceAsync(2); // t = 99: the queue has not stood for 100 ms yet
    expect(early.state).toBe('pending');
    await clock.advanceAsync(1); // t = 100: standing; waits above 5 ms are dropped now
    expect(early.error).toMatchObject({ reason: 'overload' });
    expect(late.state).toBe('pending'); // waited 3 ms
    await clock.advanceAsync(1); // t = 101
    expect(late.state).toBe('pending');
    await clock.advanceAsync(1); // t = 102 = 97 + 5
    expect(late.error).toMatchObject({ reason: 'overload' });
    // The queue emptied: the next waiter gets the long limit again.
    const fresh = track(valve.run(() => 'fresh'));
    await clock.advanceAsync(99);
    expect(fresh.state).toBe('pending');
    a.finish();
    await flush();
    expect(fresh.value).toBe('fresh');
    expect(clock.refedTimers).toBe(0);
    valve.close();
  });
});

describe("lifo: 'adaptive'", () => {
  it('serves the oldest first, and the newest while the queue is standing', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ size: 100, concurrency: 1, lifo: 'adaptive', clock });
    const log: string[] = [];
    const a = gated(log, 'a');
    void valve.run(a.fn);
    const b = gated(log, 'b');
    const c = gated(log, 'c');
    const d = gated(log, 'd');
    void valve.run(b.fn);
    void valve.run(c.fn);
    a.finish();
    await flush();
    expect(log).toEqual(['a', 'b']); // not standing yet: FIFO
    void valve.run(d.fn);
    await clock.advanceAsync(100); // the queue (c, d) has stood since t = 0
    b.finish();
    await flush();
    expect(log).toEqual(['a', 'b', 'd']); // LIFO
    d.finish();
    await flush();
    expect(log).toEqual(['a', 'b', 'd', 'c']);
    c.finish();
    valve.close();
  });
});
