import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AimdLimit, isLimit } from '../../src/index.js';
import { kneeBackend, simulate, watch } from './simulate.js';

const ok = (inflight: number, rttMs = 10) => ({ rttMs, inflight, dropped: false });
const drop = (inflight: number, rttMs = 10) => ({ rttMs, inflight, dropped: true });

describe('AimdLimit', () => {
  it('has documented defaults and implements Limit', () => {
    const l = new AimdLimit();
    expect(isLimit(l)).toBe(true);
    expect(l.limit).toBe(20);
    expect(l.minLimit).toBe(1);
    expect(l.maxLimit).toBe(200);
    expect(l.backoffRatio).toBe(0.9);
    expect(l.timeoutMs).toBe(5000);
  });

  it('clamps the default initialLimit into the bounds but rejects an explicit one outside', () => {
    expect(new AimdLimit({ maxLimit: 10 }).limit).toBe(10);
    expect(new AimdLimit({ minLimit: 30 }).limit).toBe(30);
    expect(() => new AimdLimit({ maxLimit: 10, initialLimit: 11 })).toThrow(
      new RangeError('initialLimit must be an integer >= 1 and <= 10, got 11'),
    );
  });

  it('adds one per successful sample when at least half the limit is in use', () => {
    const l = new AimdLimit({ initialLimit: 10 });
    const seen = watch(l);
    l.onSample(ok(5));
    expect(l.limit).toBe(11);
    l.onSample(ok(11));
    expect(l.limit).toBe(12);
    expect(seen).toEqual([
      { value: 11, current: 11 },
      { value: 12, current: 12 },
    ]);
  });

  it('does not grow while app-limited (less than half the limit in use)', () => {
    const l = new AimdLimit({ initialLimit: 10 });
    const seen = watch(l);
    for (let i = 0; i < 100; i++) l.onSample(ok(4));
    expect(l.limit).toBe(10);
    expect(seen).toEqual([]);
  });

  it('multiplies by backoffRatio on a drop, always falling by at least one', () => {
    const l = new AimdLimit({ initialLimit: 100, backoffRatio: 0.5 });
    l.onSample(drop(1));
    expect(l.limit).toBe(50);
    const small = new AimdLimit({ initialLimit: 5, backoffRatio: 0.9 });
    // floor(5 * 0.9) = 4, and 5 - 1 = 4
    small.onSample(drop(5));
    expect(small.limit).toBe(4);
    const tiny = new AimdLimit({ initialLimit: 3, backoffRatio: 0.99 });
    // floor(3 * 0.99) = 2: without the "at least one" rule a ratio near 1 could never shrink
    tiny.onSample(drop(3));
    expect(tiny.limit).toBe(2);
  });

  it('treats a sample slower than timeoutMs as a drop', () => {
    const l = new AimdLimit({ initialLimit: 20, timeoutMs: 100 });
    l.onSample(ok(20, 100));
    expect(l.limit).toBe(21);
    l.onSample(ok(21, 100.5));
    expect(l.limit).toBe(18);
  });

  it('stays within [minLimit, maxLimit] and emits only real changes', () => {
    const l = new AimdLimit({ initialLimit: 3, minLimit: 2, maxLimit: 5 });
    const seen = watch(l);
    for (let i = 0; i < 10; i++) l.onSample(ok(10));
    expect(l.limit).toBe(5);
    for (let i = 0; i < 10; i++) l.onSample(drop(10));
    expect(l.limit).toBe(2);
    expect(seen.map((s) => s.value)).toEqual([4, 5, 4, 3, 2]);
  });

  it('on a simulated backend: rises while healthy, backs off when work times out, recovers', () => {
    const l = new AimdLimit({ initialLimit: 10, timeoutMs: 50 });
    // 10 ms up to 20 in flight; past 100 in flight requests take more than 50 ms and time out.
    const backend = kneeBackend(10, 20);
    const history = simulate(l, backend, 60, { dropWhen: (rtt) => rtt > 50 });
    const limits = history.map((h) => h.limit);
    // It climbs from 10 past the point where timeouts start (100 in flight)...
    expect(limits[1]).toBeGreaterThan(limits[0]!);
    expect(Math.max(...limits)).toBeGreaterThan(100);
    // ...and every timed-out round is followed by a lower limit.
    for (let i = 0; i + 1 < history.length; i++) {
      if (history[i]!.rttMs > 50) expect(history[i + 1]!.limit).toBeLessThan(history[i]!.limit);
    }
    expect(history.some((h) => h.rttMs > 50)).toBe(true);
    expect(Math.max(...limits)).toBeLessThanOrEqual(200);
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
          const l = new AimdLimit({ minLimit, maxLimit: minLimit + span });
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
      [{ minLimit: 0 }, RangeError, 'minLimit must be an integer >= 1, got 0'],
      [{ minLimit: 1.5 }, RangeError, 'minLimit must be an integer >= 1, got 1.5'],
      [{ maxLimit: 0 }, RangeError, 'maxLimit must be an integer or Infinity >= 1, got 0'],
      [{ minLimit: 5, maxLimit: 4 }, RangeError, 'maxLimit must be an integer or Infinity >= 5, got 4'],
      [{ initialLimit: 0 }, RangeError, 'initialLimit must be an integer >= 1 and <= 200, got 0'],
      [{ initialLimit: '3' }, TypeError, 'initialLimit must be an integer >= 1 and <= 200, got "3"'],
      [{ backoffRatio: 0.49 }, RangeError, 'backoffRatio must be a finite number >= 0.5 and < 1, got 0.49'],
      [{ backoffRatio: 1 }, RangeError, 'backoffRatio must be a finite number >= 0.5 and < 1, got 1'],
      [{ backoffRatio: Number.NaN }, TypeError, 'backoffRatio must be a finite number >= 0.5 and < 1, got NaN'],
      [{ timeoutMs: 0 }, RangeError, 'timeoutMs must be a number > 0, got 0'],
      [{ backofRatio: 0.5 }, TypeError, 'options.backofRatio is not a known option'],
    ])('%o throws %s', (options, type, message) => {
      expect(() => new AimdLimit(options as never)).toThrow(type);
      expect(() => new AimdLimit(options as never)).toThrow(message);
    });

    it('accepts the boundaries', () => {
      expect(new AimdLimit({ minLimit: 1, maxLimit: 1 }).limit).toBe(1);
      expect(new AimdLimit({ backoffRatio: 0.5 }).backoffRatio).toBe(0.5);
      expect(new AimdLimit({ maxLimit: Number.POSITIVE_INFINITY }).maxLimit).toBe(Number.POSITIVE_INFINITY);
      expect(new AimdLimit({ timeoutMs: Number.POSITIVE_INFINITY }).timeoutMs).toBe(Number.POSITIVE_INFINITY);
      expect(() => new AimdLimit(null as never)).toThrow('AimdLimit options must be an object, got null');
    });
  });
});
