import { describe, expect, it } from 'vitest';
import { Watermarks } from '../src/Watermarks.js';

describe('Watermarks', () => {
  it('rises through the levels at the watermarks', () => {
    const w = new Watermarks({ lowWatermark: 0.5, highWatermark: 0.8 });
    expect(w.update(0)).toBe('normal');
    expect(w.update(0.49)).toBe('normal');
    expect(w.update(0.5)).toBe('elevated');
    expect(w.update(0.79)).toBe('elevated');
    expect(w.pressured).toBe(false);
    expect(w.update(0.8)).toBe('critical');
    expect(w.pressured).toBe(true);
    expect(w.update(1)).toBe('blocked');
  });

  it('holds pressure (critical) from the high watermark down to the low one: no flapping at 80%', () => {
    const w = new Watermarks({ lowWatermark: 0.5, highWatermark: 0.8 });
    w.update(0.8);
    for (const u of [0.79, 0.81, 0.79, 0.6, 0.51]) expect(w.update(u)).toBe('critical');
    expect(w.update(1)).toBe('blocked');
    expect(w.update(0.99)).toBe('critical');
    expect(w.update(0.5)).toBe('elevated');
    expect(w.pressured).toBe(false);
    expect(w.update(0.7)).toBe('elevated');
  });

  it('leaves elevated only hysteresis below the low watermark', () => {
    const w = new Watermarks({ lowWatermark: 0.5, highWatermark: 0.8, hysteresis: 0.1 });
    w.update(0.5);
    expect(w.update(0.45)).toBe('elevated');
    expect(w.update(0.41)).toBe('elevated');
    expect(w.update(0.39)).toBe('normal');
    // From normal, the band does not apply: 0.45 is normal.
    expect(w.update(0.45)).toBe('normal');
  });

  it('validates its options', () => {
    expect(() => new Watermarks({ lowWatermark: 0.8, highWatermark: 0.8 })).toThrow(
      'lowWatermark must be < highWatermark (0.8), got 0.8',
    );
    expect(() => new Watermarks({ highWatermark: 0 })).toThrow(
      'highWatermark must be a finite number > 0 and <= 1, got 0',
    );
    expect(() => new Watermarks({ highWatermark: 1.1 })).toThrow(RangeError);
    expect(() => new Watermarks({ lowWatermark: -0.1 })).toThrow(RangeError);
    expect(() => new Watermarks({ hysteresis: Number.NaN })).toThrow(TypeError);
  });
});
