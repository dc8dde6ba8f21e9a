import { describe, expect, it } from 'vitest';
import { flush, track } from '@valve/testkit';
import { type Clock, ClosedError, ManualClock, TokenBucket } from '../../src/index.js';

/** A clock whose timers fire `lateMs` after they were due, like an event loop under load. */
function lateClock(inner: ManualClock, lateMs: number): Clock {
  return { now: () => inner.now(), setTimeout: (fn, ms) => inner.setTimeout(fn, ms + lateMs) };
}

describe('TokenBucket', () => {
  it('starts full and arms no timer while full', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 3, rate: 1, hz: 100, clock });
    expect(b.available).toBe(3);
    expect(clock.pendingTimers).toBe(0);
    expect(b.nextTokenInMs()).toBe(0);
    expect(b.tryAcquire()).toBe(true);
    expect(clock.pendingTimers).toBe(1);
  });

  it('refills `rate` per `hz` ms, capped at tokenLimit, and stops its timer when full', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 5, rate: 2, hz: 100, clock });
    for (let i = 0; i < 5; i++) expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    expect(b.nextTokenInMs()).toBe(100);
    clock.advance(40);
    expect(b.nextTokenInMs()).toBe(60);
    clock.advance(60);
    expect(b.available).toBe(2);
    clock.advance(200);
    expect(b.available).toBe(5); // 2 + 2 + 2, capped at 5
    expect(clock.pendingTimers).toBe(0);
  });

  it('refills on the grid start + k * hz however late its timers fire (no drift)', () => {
    const inner = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 100, rate: 1, hz: 10, clock: lateClock(inner, 7) });
    for (let i = 0; i < 100; i++) b.tryAcquire();
    // 1000 ms is 100 grid points; a drifting bucket re-arming "hz from now" would add only
    // 1000 / 17 ≈ 58 tokens.
    inner.advance(1000);
    expect(b.available).toBeGreaterThanOrEqual(99);
    inner.advance(7);
    expect(b.available).toBe(100);
  });

  it('skips grid points that passed while full (they refilled nothing)', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 2, rate: 1, hz: 100, clock });
    clock.advance(1050);
    b.tryAcquire();
    b.tryAcquire();
    expect(b.nextTokenInMs()).toBe(50);
    clock.advance(50);
    expect(b.available).toBe(1);
  });

  it('wakes waiters in FIFO order as tokens arrive; waiting refs the timer', async () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 1, rate: 1, hz: 100, clock });
    expect(b.tryAcquire()).toBe(true);
    expect(clock.refedTimers).toBe(0);
    const first = track(b.acquire());
    const second = track(b.acquire());
    expect(clock.refedTimers).toBe(1);
    await clock.advanceAsync(100);
    expect([first.state, second.state]).toEqual(['resolved', 'pending']);
    await clock.advanceAsync(100);
    expect(second.state).toBe('resolved');
    expect(b.available).toBe(0);
  });

  it('acquire does not let a newcomer barge past a waiter', async () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 1, rate: 1, clock });
    b.tryAcquire();
    const waiter = track(b.acquire());
    b.replenish();
    await flush();
    expect(waiter.state).toBe('resolved');
    expect(b.tryAcquire()).toBe(false);
  });

  it('without hz: no timer ever, tokens only from replenish(), nextTokenInMs is Infinity', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 3, clock });
    expect(b.rate).toBe(3);
    b.tryAcquire();
    b.tryAcquire();
    b.tryAcquire();
    expect(clock.pendingTimers).toBe(0);
    expect(b.nextTokenInMs()).toBe(Number.POSITIVE_INFINITY);
    b.replenish(1);
    expect(b.available).toBe(1);
    b.replenish();
    expect(b.available).toBe(3);
  });

  it('onAvailable fires when tokens were added', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 1, rate: 1, hz: 10, clock });
    let n = 0;
    b.onAvailable(() => n++);
    b.tryAcquire();
    clock.advance(10);
    expect(n).toBe(1);
  });

  it('an aborted acquire rejects with signal.reason', async () => {
    const b = new TokenBucket({ tokenLimit: 1, clock: new ManualClock() });
    b.tryAcquire();
    const c = new AbortController();
    const t = track(b.acquire(c.signal));
    c.abort('stop');
    await flush();
    expect(t.error).toBe('stop');
  });

  it('close() rejects waiters with ClosedError, clears the timer and refuses further work', async () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 1, rate: 1, hz: 10, clock });
    b.tryAcquire();
    const t = track(b.acquire());
    b.close();
    b.close();
    await flush();
    expect(t.error).toBeInstanceOf(ClosedError);
    expect(clock.pendingTimers).toBe(0);
    expect(b.tryAcquire()).toBe(false);
    await expect(b.acquire()).rejects.toBeInstanceOf(ClosedError);
  });

  it('validates options', () => {
    expect(() => new TokenBucket({ tokenLimit: 0 })).toThrow(
      new RangeError('tokenLimit must be an integer >= 1, got 0'),
    );
    expect(() => new TokenBucket({ tokenLimit: 1, hz: 0, rate: 1 })).toThrow('hz must be a finite number > 0, got 0');
    expect(() => new TokenBucket({ tokenLimit: 1, hz: 10 })).toThrow('rate is required when hz is set (hz = 10)');
    expect(() => new TokenBucket({ tokenLimit: 1, hz: 10, rate: 0 })).toThrow('rate must be an integer >= 1, got 0');
    const b = new TokenBucket({ tokenLimit: 1 });
    expect(() => b.replenish(-1)).toThrow('n must be an integer >= 0, got -1');
  });
});
