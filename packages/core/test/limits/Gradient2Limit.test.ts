import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Gradient2Limit, isLimit } from '../../src/index.js';
import { kneeBackend, simulate, watch } from './simulate.js';

describe('Gradient2Limit', () => {
  it('has documented defaults and implements Limit', () => {
    const l = new Gradient2Limit();
    expect(isLimit(l)).toBe(true);
    expect(l.limit).toBe(20);
    expect([l.minLimit, l.maxLimit, l.smoothing, l.tolerance, l.longWindow, l.windowSize]).toEqual([
      1, 200, 0.2, 1.5, 600, 10,
    ]);
    expect(l.shortRttMs).toBeNaN();
    expect(l.longRttMs).toBeNaN();
  });

  it('updates once per window, from the mean latency of the window', () => {
    const l = new Gradient2Limit({ windowSize: 4 });
    for (const rtt of [10, 20, 30]) l.onSample({ rttMs: rtt, inflight: 20, dropped: false });
    expect(l.shortRttMs).toBeNaN();
    expect(l.limit).toBe(20);
    l.onSample({ rttMs: 40, inflight: 20, dropped: false });
    expect(l.shortRttMs).toBe(25);
    expect(l.longRttMs).toBe(25);
    // gradient 1: estimate = 20 * 0.8 + (20 + 4) * 0.2 = 20.8, so the integer limit stays 20
    expect(l.limit).toBe(20);
  });

  it('ignores zero and invalid latencies (no signal, and they would make the gradient infinite)', () => {
    const l = new Gradient2Limit({ windowSize: 1 });
    for (const rttMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      l.onSample({ rttMs, inflight: 20, dropped: false });
    expect(l.shortRttMs).toBeNaN();
    expect(l.limit).toBe(20);
  });

  it('rises while latency is flat and the limit is in use', () => {
    const l = new Gradient2Limit();
    const seen = watch(l);
    const limits = simulate(l, kneeBackend(10, Number.POSITIVE_INFINITY), 30).map((h) => h.limit);
    for (let i = 1; i < limits.length; i++) expect(limits[i]).toBeGreaterThanOrEqual(limits[i - 1]!);
    expect(limits.at(-1)).toBeGreaterThan(100);
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) expect(s.value).toBe(s.current);
  });

  it('does not rise while app-limited', () => {
    const l = new Gradient2Limit();
    simulate(l, kneeBackend(10, Number.POSITIVE_INFINITY), 50, { demand: 9 });
    expect(l.limit).toBe(20);
  });

  it('tolerates latency up to `tolerance` times the baseline, and shrinks beyond it', () => {
    const grow = new Gradient2Limit({ windowSize: 1, initialLimit: 50 });
    for (let i = 0; i < 20; i++) grow.onSample({ rttMs: 10, inflight: 50, dropped: false });
    const before = grow.limit;
    for (let i = 0; i < 5; i++) grow.onSample({ rttMs: 14, inflight: 50, dropped: false });
    expect(grow.limit).toBeGreaterThan(before);

    const shrink = new Gradient2Limit({ windowSize: 1, initialLimit: 50 });
    for (let i = 0; i < 20; i++) shrink.onSample({ rttMs: 10, inflight: 50, dropped: false });
    const high = shrink.limit;
    for (let i = 0; i < 5; i++) shrink.onSample({ rttMs: 40, inflight: 50, dropped: false });
    expect(shrink.limit).toBeLessThan(high);
  });

  it('falls when a simulated backend passes its knee, and stays well below where it was', () => {
    const l = new Gradient2Limit();
    const flat = simulate(l, kneeBackend(10, Number.POSITIVE_INFINITY), 40);
    expect(flat.at(-1)!.limit).toBe(200);
    // Now the backend has 40 workers: at 200 in flight each request takes 50 ms.
    const loaded = simulate(l, kneeBackend(10, 40), 10);
    expect(loaded[1]!.limit).toBeLessThan(100);
    for (const h of loaded.slice(1)) expect(h.limit).toBeLessThan(100);
    // Documented trade-off: under sustained overload the long-term baseline creeps up (here after
    // about 30 rounds of 20 windows), so the limit climbs back; it never leaves the bounds.
    const later = simulate(l, kneeBackend(10, 40), 100);
    for (const h of later) expect(h.limit).toBeLessThanOrEqual(200);
  });

  it('falls on dropped samples whatever their latency', () => {
    const l = new Gradient2Limit({ initialLimit: 100 });
    const history = simulate(l, kneeBackend(1, Number.POSITIVE_INFINITY), 5, { dropWhen: () => true });
    const limits = history.map((h) => h.limit);
    for (let i = 1; i < limits.length; i++) expect(limits[i]).toBeLessThan(limits[i - 1]!);
    // a dropped sample's latency is not a baseline
    expect(l.longRttMs).toBeNaN();
  });

  it('recovers quickly when load passes (the baseline is pulled down when twice the latest latency)', () => {
    const l = new Gradient2Limit({ windowSize: 1, longWindow: 100 });
    for (let i = 0; i < 200; i++) l.onSample({ rttMs: 100, inflight: 20, dropped: false });
    const baseline = l.longRttMs;
    l.onSample({ rttMs: 10, inflight: 20, dropped: false });
    // plain EMA would give 100 - 90 * 2/101 = 98.2; the pull-down gives 0.9 of that
    expect(l.longRttMs).toBeCloseTo((baseline - (90 * 2) / 101) * 0.9, 9);
  });

  it('accepts queueSize as a function of the limit', () => {
    const calls: number[] = [];
    const l = new Gradient2Limit({
      windowSize: 1,
      smoothing: 1,
      queueSize: (limit) => {
        calls.push(limit);
        return 10;
      },
    });
    l.onSample({ rttMs: 10, inflight: 20, dropped: false });
    expect(calls).toEqual([20]);
    expect(l.limit).toBe(30);
  });

  it('property: any sample sequence keeps the limit an integer inside the bounds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(
          fc.record({
            rttMs: fc.double({ min: 0, max: 1e4, noNaN: true }),
            inflight: fc.nat(200),
            dropped: fc.boolean(),
          }),
          { maxLength: 200, size: 'max' },
        ),
        (minLimit, span, windowSize, samples) => {
          const l = new Gradient2Limit({ minLimit, maxLimit: minLimit + span, windowSize, smoothing: 1 });
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
      [{ smoothing: 1.01 }, RangeError, 'smoothing must be a finite number > 0 and <= 1, got 1.01'],
      [{ tolerance: 0.99 }, RangeError, 'tolerance must be a finite number >= 1, got 0.99'],
      [{ longWindow: 0 }, RangeError, 'longWindow must be an integer >= 1, got 0'],
      [{ windowSize: 0 }, RangeError, 'windowSize must be an integer >= 1, got 0'],
      [{ queueSize: -1 }, RangeError, 'queueSize must be a finite number >= 0, got -1'],
      [{ queueSize: '4' }, TypeError, 'queueSize must be a finite number >= 0 or a function, got "4"'],
      [{ minLimit: 0 }, RangeError, 'minLimit must be an integer >= 1, got 0'],
      [{ initialLimit: 201 }, RangeError, 'initialLimit must be an integer >= 1 and <= 200, got 201'],
      [{ longwindow: 5 }, TypeError, 'options.longwindow is not a known option'],
    ])('%o throws %s', (options, type, message) => {
      expect(() => new Gradient2Limit(options as never)).toThrow(type);
      expect(() => new Gradient2Limit(options as never)).toThrow(message);
    });

    it('accepts the boundaries', () => {
      expect(new Gradient2Limit({ smoothing: 1, tolerance: 1, longWindow: 1, windowSize: 1, queueSize: 0 }).limit).toBe(
        20,
      );
    });
  });
});
