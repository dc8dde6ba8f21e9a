// core's TokenBucket checked against safetyvalve's bucket rules, on its own (the valve relies on it).
import { type Clock, ManualClock, type Timer, TokenBucket } from '@valve/core';
import { describe, expect, it } from 'vitest';

/** A clock whose timers fire `lateMs` late, as a busy event loop does. */
function lateClock(inner: ManualClock, lateMs: number): Clock {
  return { now: () => inner.now(), setTimeout: (fn, ms): Timer => inner.setTimeout(fn, ms + lateMs) };
}

describe('TokenBucket (safetyvalve rules)', () => {
  it('starts full and refills rate per hz, capped at tokenLimit', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ hz: 100, rate: 2, tokenLimit: 3, clock });
    expect(bucket.available).toBe(3);
    for (let i = 0; i < 3; i++) expect(bucket.tryAcquire()).toBe(true);
    expect(bucket.tryAcquire()).toBe(false);
    expect(bucket.nextTokenInMs()).toBe(100);
    clock.advance(100);
    expect(bucket.available).toBe(2);
    clock.advance(100);
    expect(bucket.available).toBe(3);
    expect(clock.pendingTimers).toBe(0); // a full bucket runs no timer
    bucket.close();
  });

  it('does not drift: a late timer adds every refill it missed, and the grid stays start + k*hz', () => {
    const inner = new ManualClock();
    const bucket = new TokenBucket({ hz: 100, rate: 1, tokenLimit: 10, clock: lateClock(inner, 150) });
    for (let i = 0; i < 10; i++) bucket.tryAcquire();
    inner.advance(249);
    expect(bucket.available).toBe(0);
    inner.advance(1); // the 100 ms timer fires at 250: refills for 100 and 200
    expect(bucket.available).toBe(2);
    // The next timer aims at 300 (+150 late = 450): refills for 300 and 400, none lost or doubled.
    inner.advance(200);
    expect(bucket.available).toBe(4);
    bucket.close();
  });

  it('without hz there is no timer; replenish adds rate (or n), capped', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 2, tokenLimit: 3, clock });
    bucket.tryAcquire();
    bucket.tryAcquire();
    bucket.tryAcquire();
    expect(clock.pendingTimers).toBe(0);
    expect(bucket.nextTokenInMs()).toBe(Number.POSITIVE_INFINITY);
    bucket.replenish();
    expect(bucket.available).toBe(2);
    bucket.replenish(5);
    expect(bucket.available).toBe(3);
    bucket.close();
  });

  it('emits onAvailable when a refill brings tokens', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ hz: 10, rate: 1, tokenLimit: 1, clock });
    let fired = 0;
    bucket.onAvailable(() => fired++);
    bucket.tryAcquire();
    clock.advance(10);
    expect(fired).toBe(1);
    bucket.close();
  });
});
