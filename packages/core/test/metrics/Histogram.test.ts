import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BUCKETS, Histogram } from '../../src/index.js';

/** Exact nearest-rank percentile with p given in thousandths of a percent (integer arithmetic). */
function exactPercentile(sorted: readonly number[], pMilli: number): number {
  if (pMilli === 0) return sorted[0]!;
  const rank = Math.max(1, Math.ceil((pMilli * sorted.length) / 100_000));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

describe('Histogram', () => {
  it('property: every percentile is within 1% of the exact nearest-rank percentile (0.001..3.6e6)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.001, max: 3.6e6, noNaN: true }), { minLength: 1, maxLength: 400, size: 'max' }),
        fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 20, size: 'max' }),
        (values, ps) => {
          const h = new Histogram();
          for (const v of values) h.record(v);
          const sorted = [...values].sort((a, b) => a - b);
          for (const pMilli of [...ps, 0, 50_000, 99_000, 99_900, 100_000]) {
            const exact = exactPercentile(sorted, pMilli);
            const got = h.percentile(pMilli / 1000);
            expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(0.01);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('picks the right rank where p * n / 100 is an integer (0.07 * 100 rounded up to rank 8)', () => {
    const h = new Histogram();
    // 1, 2, 4, … : neighbouring ranks differ by 2x, so an off-by-one rank is far outside 1%.
    for (let i = 0; i < 100; i++) h.record(2 ** (i % 20) * (1 + Math.floor(i / 20) * 0.001));
    const sorted = Array.from({ length: 100 }, (_, i) => 2 ** (i % 20) * (1 + Math.floor(i / 20) * 0.001)).sort(
      (a, b) => a - b,
    );
    for (let p = 1; p <= 100; p++) {
      const exact = sorted[p - 1]!;
      expect(Math.abs(h.percentile(p) - exact) / exact).toBeLessThanOrEqual(0.01);
    }
  });

  it('count, sum, min, max, mean and reset', () => {
    const h = new Histogram();
    expect([h.count, h.sum]).toEqual([0, 0]);
    expect(h.min).toBeNaN();
    expect(h.max).toBeNaN();
    expect(h.mean).toBeNaN();
    expect(h.percentile(50)).toBeNaN();
    for (const v of [5, 1, 9, Number.NaN, -3]) h.record(v);
    // NaN is ignored; a negative value counts as 0
    expect([h.count, h.sum, h.min, h.max, h.mean]).toEqual([4, 15, 0, 9, 3.75]);
    expect(h.percentile(0)).toBe(0);
    expect(h.percentile(100)).toBe(9);
    h.reset();
    expect([h.count, h.sum]).toEqual([0, 0]);
    expect(h.min).toBeNaN();
    expect(h.cumulativeBuckets().every((b) => b.count === 0)).toBe(true);
  });

  it('validates p and its options', () => {
    const h = new Histogram();
    expect(() => h.percentile(-0.1)).toThrow(new RangeError('p must be a finite number >= 0 and <= 100, got -0.1'));
    expect(() => h.percentile(100.1)).toThrow(RangeError);
    expect(() => new Histogram({ buckets: [] })).toThrow(TypeError);
    expect(() => new Histogram({ buckets: [1, 1] })).toThrow('buckets[1] must be a finite number > 1, got 1');
    expect(() => new Histogram({ exportScale: 0 })).toThrow('exportScale must be a finite number > 0, got 0');
  });

  it('property: export buckets are exact cumulative counts of values <= le (ms recorded, seconds exported)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 15, size: 'max' }),
        fc.array(fc.integer({ min: 0, max: 120_000 }), { maxLength: 300, size: 'max' }),
        (boundsMs, valuesMs) => {
          const sortedMs = [...boundsMs].sort((a, b) => a - b);
          // le in seconds, as a user writes it (0.7 is not exactly 700 / 1000 in binary).
          const buckets = sortedMs.map((ms) => Number((ms / 1000).toFixed(3)));
          const h = new Histogram({ buckets, exportScale: 0.001 });
          for (const v of valuesMs) h.record(v);
          const got = h.cumulativeBuckets();
          expect(got.map((b) => b.le)).toEqual(buckets);
          expect(got.map((b) => b.count)).toEqual(sortedMs.map((ms) => valuesMs.filter((v) => v <= ms).length));
        },
      ),
    );
  });

  it('counts a value equal to a decimal bound in that bucket (0.7 / 0.001 is 699.9999999999999)', () => {
    const h = new Histogram({ buckets: [0.35, 0.7], exportScale: 0.001 });
    h.record(350);
    h.record(700);
    h.record(700.001);
    expect(h.cumulativeBuckets()).toEqual([
      { le: 0.35, count: 1 },
      { le: 0.7, count: 2 },
    ]);
  });

  it('has 15 default bounds from 0.5 ms to 30 s', () => {
    expect(DEFAULT_BUCKETS).toHaveLength(15);
    expect(new Histogram().buckets).toEqual(DEFAULT_BUCKETS);
  });
});
