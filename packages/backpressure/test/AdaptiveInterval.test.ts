import { describe, expect, it } from 'vitest';
import { AdaptiveInterval } from '../src/AdaptiveInterval.js';

describe('AdaptiveInterval', () => {
  it('starts at the minimum', () => {
    expect(new AdaptiveInterval({ minFlushIntervalMs: 100 }).current).toBe(100);
  });

  it('grows x1.5 after a flush over 1.5x the target, up to the maximum', () => {
    const a = new AdaptiveInterval({ minFlushIntervalMs: 100, maxFlushIntervalMs: 300, targetLatencyMs: 500 });
    expect(a.record(751)).toBe(150);
    expect(a.record(751)).toBe(225);
    expect(a.record(10_000)).toBe(300);
    expect(a.record(10_000)).toBe(300);
  });

  it('shrinks x0.8 after a flush under 0.5x the target, down to the minimum', () => {
    const a = new AdaptiveInterval({ minFlushIntervalMs: 100, maxFlushIntervalMs: 1000, targetLatencyMs: 500 });
    a.record(1000);
    a.record(1000);
    expect(a.current).toBe(225);
    expect(a.record(249)).toBe(180);
    expect(a.record(0)).toBeCloseTo(144);
    expect(a.record(0)).toBe(115.2);
    expect(a.record(0)).toBe(100);
  });

  it('keeps the interval for latencies within [0.5, 1.5] x target (boundaries included)', () => {
    const a = new AdaptiveInterval({ minFlushIntervalMs: 100, maxFlushIntervalMs: 1000, targetLatencyMs: 500 });
    a.record(800);
    expect(a.record(750)).toBe(150);
    expect(a.record(250)).toBe(150);
    a.reset();
    expect(a.current).toBe(100);
  });

  it('validates its options', () => {
    expect(() => new AdaptiveInterval({ minFlushIntervalMs: 200, maxFlushIntervalMs: 100 })).toThrow(
      'maxFlushIntervalMs must be >= minFlushIntervalMs (200), got 100',
    );
    expect(() => new AdaptiveInterval({ targetLatencyMs: 0 })).toThrow(
      'targetLatencyMs must be a finite number > 0, got 0',
    );
    expect(() => new AdaptiveInterval({ minFlushIntervalMs: -1 })).toThrow(RangeError);
  });
});
