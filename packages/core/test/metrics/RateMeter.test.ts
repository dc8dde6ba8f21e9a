import { describe, expect, it } from 'vitest';
import { ManualClock, RateMeter } from '../../src/index.js';

describe('RateMeter', () => {
  it('reports the first full tick as the rate, then moves by alpha per tick', () => {
    const clock = new ManualClock();
    const m = new RateMeter({ clock, windowMs: 5000, tickMs: 1000 });
    m.mark(10);
    expect(m.rate()).toBe(0); // no tick has completed yet
    clock.advance(1000);
    expect(m.rate()).toBeCloseTo(10, 9);
    const alpha = 1 - Math.exp(-1000 / 5000);
    m.mark(30);
    clock.advance(1000);
    expect(m.rate()).toBeCloseTo(10 + alpha * (30 - 10), 9);
    // idle ticks decay towards 0
    clock.advance(3000);
    const expected = (10 + alpha * 20) * (1 - alpha) ** 3;
    expect(m.rate()).toBeCloseTo(expected, 9);
    expect(m.count).toBe(40);
  });

  it('a steady rate converges to that rate', () => {
    const clock = new ManualClock();
    const m = new RateMeter({ clock });
    for (let s = 0; s < 60; s++) {
      m.mark(250);
      clock.advance(1000);
    }
    expect(m.rate()).toBeCloseTo(250, 6);
  });

  it('drops to 0 after a very long idle period without looping over it', () => {
    const clock = new ManualClock();
    const m = new RateMeter({ clock, tickMs: 1 });
    m.mark(5);
    clock.advance(1);
    expect(m.rate()).toBeGreaterThan(0);
    clock.advance(10_000_000);
    expect(m.rate()).toBe(0);
  });

  it('validates options', () => {
    expect(() => new RateMeter({ windowMs: 0 })).toThrow(new RangeError('windowMs must be a finite number > 0, got 0'));
    expect(() => new RateMeter({ tickMs: -1 })).toThrow(new RangeError('tickMs must be a finite number > 0, got -1'));
  });
});
