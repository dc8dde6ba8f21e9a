import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VegasLimit, isLimit } from '../../src/index.js';
import { kneeBackend, simulate, watch } from './simulate.js';

const ok = (rttMs: number, inflight: number) => ({ rttMs, inflight, dropped: false });
// Fixed jitter, so probes happen at a known sample count.
const fixed = () => 0.5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

describe('VegasLimit', () => {
  it('has documented defaults and implements Limit', () => {
    const l = new VegasLimit();
    expect(isLimit(l)).toBe(true);
    expect([l.limit, l.minLimit, l.maxLimit, l.smoothing, l.probeMultiplier]).toEqual([20, 1, 1000, 1, 30]);
    expect(l.rttNoLoadMs).toBeNaN();
  });

  it('learns the no-load latency from the lowest sample, which itself never moves the limit', () => {
    const l = new VegasLimit({ random: fixed });
    l.onSample(ok(12, 20));
    expect(l.rttNoLoadMs).toBe(12);
    expect(l.limit).toBe(20);
    l.onSample(ok(10, 20));
    expect(l.rttNoLoadMs).toBe(10);
    expect(l.limit).toBe(20);
  });

  it('grows by beta when there is no queue, holds between alpha and beta, shrinks above beta', () => {
    // limit 20: log10 root 1, so threshold 1, alpha 3, beta 6
    const l = new VegasLimit({ random: fixed });
    l.onSample(ok(10, 20));
    l.onSample(ok(10, 20)); // queue = ceil(20 * 0) = 0 <= 1: +6
    expect(l.limit).toBe(26);
    const hold = new VegasLimit({ random: fixed });
    hold.onSample(ok(10, 20));
    hold.onSample(ok(12.5, 20)); // queue = ceil(20 * 0.2) = 4, in [3, 6]: hold
    expect(hold.limit).toBe(20);
    const slow = new VegasLimit({ random: fixed });
    slow.onSample(ok(10, 20));
    slow.onSample(ok(11, 20)); // queue = ceil(20 * 0.0909) = 2, in (1, 3): +1
    expect(slow.limit).toBe(21);
    const shrink = new VegasLimit({ random: fixed });
    shrink.onSample(ok(10, 20));
    shrink.onSample(ok(20, 20)); // queue = 10 > 6: -1
    expect(shrink.limit).toBe(19);
  });

  it('does not grow while app-limited', () => {
    const l = new VegasLimit({ random: fixed });
    for (let i = 0; i < 50; i++) l.onSample(ok(10, 9));
    expect(l.limit).toBe(20);
  });

  it('shrinks on every drop, and a dropped sample never becomes the no-load latency', () => {
    const l = new VegasLimit({ random: fixed, initialLimit: 20 });
    l.onSample({ rttMs: 1, inflight: 1, dropped: true });
    l.onSample({ rttMs: 1, inflight: 1, dropped: true });
    expect(l.limit).toBe(18);
    expect(l.rttNoLoadMs).toBeNaN();
  });

  it('re-learns the no-load latency every probeMultiplier * limit * jitter samples', () => {
    const l = new VegasLimit({ random: fixed, probeMultiplier: 2, minLimit: 10, maxLimit: 10 });
    // 0.75 * 2 * 10 = 15: the 15th sample is a probe
    l.onSample(ok(10, 10));
    for (let i = 2; i < 15; i++) l.onSample(ok(30, 10));
    expect(l.rttNoLoadMs).toBe(10);
    l.onSample(ok(30, 10));
    expect(l.rttNoLoadMs).toBe(30);
  });

  it('applies smoothing and custom alpha/beta/threshold', () => {
    const l = new VegasLimit({ random: fixed, smoothing: 0.5, threshold: 0, alpha: 1, beta: 2, initialLimit: 100 });
    l.onSample(ok(10, 100));
    l.onSample(ok(10, 100)); // queue 0 <= threshold 0: target 100 + beta 2 = 102, halfway: 101
    expect(l.limit).toBe(101);
  });

  it('on a simulated backend: rises while flat, then falls and settles near the knee', () => {
    const l = new VegasLimit({ random: fixed });
    const seen = watch(l);
    const flat = simulate(l, kneeBackend(10, Number.POSITIVE_INFINITY), 10).map((h) => h.limit);
    for (let i = 1; i < flat.length; i++) expect(flat[i]).toBeGreaterThan(Math.min(999, flat[i - 1]!));
    expect(flat.at(-1)).toBe(1000);
    // Now only 40 requests run without queueing; latencies spread by ±10%, as real ones do.
    // (Without spread, a no-load probe taken while overloaded would make 25x latency look
    // normal, since no lower sample ever corrects it: a known weakness of Vegas' probe.)
    const knee = simulate(l, kneeBackend(10, 40, 0.1), 200).map((h) => h.limit);
    expect(knee[1]).toBeLessThan(100);
    const settled = median(knee.slice(20));
    expect(settled).toBeGreaterThanOrEqual(30);
    expect(settled).toBeLessThanOrEqual(90);
    for (const s of seen) expect(s.value).toBe(s.current);
  });

  it('property: any sample sequence keeps the limit an integer inside the bounds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.array(
          fc.record({
            rttMs: fc.double({ min: 0, max: 1e4, noNaN: true }),
            inflight: fc.nat(200),
            dropped: fc.boolean(),
          }),
          { maxLength: 200, size: 'max' },
        ),
        (minLimit, span, samples) => {
          const l = new VegasLimit({ minLimit, maxLimit: minLimit + span, random: fixed, probeMultiplier: 1 });
          const seen = watch(l);
          for (const s of samples) {
            l.onSample(s);
            expect(Number.isInteger(l.limit)).toBe(true);
            expect(l.limit).toBeGreaterThanOrEqual(minLimit);
            expect(l.limit).toBeLessThanOrEqual(minLimit + span);
          }
          for (const s of seen) expect(s.value).toBe(s.current);
        },
      ),
    );
  });

  describe('validation', () => {
    it.each([
      [{ smoothing: 0 }, RangeError, 'smoothing must be a finite number > 0 and <= 1, got 0'],
      [{ alpha: -1 }, RangeError, 'alpha must be a finite number >= 0, got -1'],
      [{ beta: 'x' }, TypeError, 'beta must be a finite number >= 0 or a function, got "x"'],
      [{ alpha: 5, beta: 4 }, RangeError, 'beta must be >= alpha (5), got 4'],
      [{ threshold: Number.NaN }, TypeError, 'threshold must be a finite number >= 0, got NaN'],
      [{ probeMultiplier: 0 }, RangeError, 'probeMultiplier must be an integer >= 1, got 0'],
      [{ random: 1 }, TypeError, 'random must be a function, got 1'],
      [{ maxLimit: 0 }, RangeError, 'maxLimit must be an integer or Infinity >= 1, got 0'],
      [{ probe: 1 }, TypeError, 'options.probe is not a known option'],
    ])('%o throws %s', (options, type, message) => {
      expect(() => new VegasLimit(options as never)).toThrow(type);
      expect(() => new VegasLimit(options as never)).toThrow(message);
    });

    it('accepts the boundaries', () => {
      const l = new VegasLimit({
        smoothing: 1,
        alpha: 0,
        beta: 0,
        threshold: 0,
        probeMultiplier: 1,
        minLimit: 1,
        maxLimit: 1,
      });
      expect(l.limit).toBe(1);
    });
  });
});
