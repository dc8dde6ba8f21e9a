// Issue 17 items 5 and 6: a bucket reconfigured at run time, and weighted takes.
import { describe, expect, it } from 'vitest';
import { ManualClock, TokenBucket } from '../../src/index.js';

describe('TokenBucket.reconfigure / tryAcquireMany (issue 17)', () => {
  it('keeps its tokens, clamped to a lowered tokenLimit', () => {
    const b = new TokenBucket({ tokenLimit: 5, rate: 1, hz: 10, clock: new ManualClock() });
    b.tryAcquire();
    b.reconfigure({ tokenLimit: 3 });
    expect(b.available).toBe(3);
    expect(b.tokenLimit).toBe(3);
    b.reconfigure({ tokenLimit: 10 });
    expect(b.available).toBe(3);
  });

  it('a raised limit starts the refill of a full bucket, on the same grid, at the new rate', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 2, rate: 1, hz: 100, clock });
    clock.advance(150);
    expect(clock.pendingTimers).toBe(0);
    b.reconfigure({ tokenLimit: 6, rate: 3 });
    expect(b.rate).toBe(3);
    expect(b.nextTokenInMs(3)).toBe(50); // next grid point at 200
    clock.advance(50);
    expect(b.available).toBe(5);
    clock.advance(100);
    expect(b.available).toBe(6);
    expect(clock.pendingTimers).toBe(0);
  });

  it('tryAcquireMany takes n tokens or none; nextTokenInMs(n) is the time to n tokens', () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ tokenLimit: 5, rate: 2, hz: 100, clock });
    expect(b.tryAcquireMany(6)).toBe(false);
    expect(b.tryAcquireMany(4)).toBe(true);
    expect(b.available).toBe(1);
    expect(b.tryAcquireMany(2)).toBe(false);
    expect(b.available).toBe(1);
    expect(b.nextTokenInMs(1)).toBe(0);
    expect(b.nextTokenInMs(3)).toBe(100);
    expect(b.nextTokenInMs(5)).toBe(200);
    expect(b.nextTokenInMs(6)).toBe(Number.POSITIVE_INFINITY);
    clock.advance(200);
    expect(b.tryAcquireMany(5)).toBe(true);
  });

  it('validates reconfigure() options', () => {
    const b = new TokenBucket({ tokenLimit: 5, clock: new ManualClock() });
    expect(() => b.reconfigure({ tokenLimit: 0 })).toThrow('tokenLimit must be an integer >= 1, got 0');
    expect(() => b.reconfigure({ rate: 1.5 })).toThrow(/rate/);
    expect(() => b.reconfigure({ hz: 3 } as never)).toThrow(/hz/);
    expect(b.tokenLimit).toBe(5);
  });
});
