/**
 * Histogram.record finds a value's export bucket (`le`) from a table indexed by its fine bucket
 * instead of scanning every bound from the first. These properties pin that the exported
 * buckets are exactly what the scan gave, for random bounds (dense, negative, beyond the fine
 * range), export scales and values (on, next to and between bounds, at fine bucket edges, 0,
 * negative, subnormal, huge, Infinity, NaN).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BUCKETS, Histogram } from '../../src/index.js';

/** The previous record(): the first bound (in recorded units, widened as the class does) v is <= to. */
class LinearModel {
  private readonly bounds: number[];
  readonly counts: number[];
  count = 0;

  constructor(buckets: readonly number[], exportScale: number) {
    this.bounds = buckets.map((b) => (b / exportScale) * (1 + 1e-12));
    this.counts = buckets.map(() => 0);
  }

  record(value: number): void {
    if (Number.isNaN(value)) return;
    const v = value < 0 ? 0 : value;
    this.count++;
    for (let b = 0; b < this.bounds.length; b++) {
      if (v <= this.bounds[b]!) {
        this.counts[b]!++;
        return;
      }
    }
  }

  cumulative(buckets: readonly number[]): { le: number; count: number }[] {
    let acc = 0;
    return buckets.map((le, i) => {
      acc += this.counts[i]!;
      return { le, count: acc };
    });
  }
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
/** The next representable double above (`dir` 1) or below (-1) a finite positive x. */
function nextDouble(x: number, dir: 1 | -1): number {
  f64[0] = x;
  i64[0]! += BigInt(dir);
  return f64[0]!;
}

const MIN = 0.001;
const G = 1.02;

const scale = fc.oneof(
  fc.constantFrom(1, 0.001, 1000, 1e-6),
  fc.double({ min: 1e-6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
);

/** Ascending, distinct bounds: spread over 24 decades, or clustered (bounds closer than a fine bucket). */
const bounds = fc.oneof(
  fc.uniqueArray(fc.double({ min: -10, max: 1e15, noNaN: true, noDefaultInfinity: true }), {
    minLength: 1,
    maxLength: 40,
    size: 'max',
  }),
  fc.uniqueArray(
    fc.double({ min: 1e-9, max: 1e13, noNaN: true, noDefaultInfinity: true }).map((x) => 10 ** Math.log10(x)),
    { minLength: 1, maxLength: 40, size: 'max' },
  ),
  fc
    .tuple(
      fc.double({ min: 1e-6, max: 1e9, noNaN: true, noDefaultInfinity: true }),
      fc.array(fc.double({ min: 1e-12, max: 0.05, noNaN: true }), { minLength: 1, maxLength: 30, size: 'max' }),
    )
    .map(([start, gaps]) => {
      const out = [start];
      for (const gap of gaps) out.push(out.at(-1)! * (1 + gap));
      return out;
    }),
  // On the fine buckets' edges (as bounds in exported units with scale 1): a value a few ulps
  // below an edge can get the index above it, the case the table's margin is there for.
  fc.uniqueArray(
    fc.tuple(fc.integer({ min: 0, max: 1800 }), fc.integer({ min: -4, max: 4 })).map(([k, d]) => {
      let x = (MIN * G ** k) / (1 + 1e-12);
      for (let j = 0; j < Math.abs(d); j++) x = nextDouble(x, d > 0 ? 1 : -1);
      return x;
    }),
    { minLength: 1, maxLength: 40, size: 'max' },
  ),
);

function checkSame(buckets: readonly number[], exportScale: number, values: readonly number[]): void {
  const h = new Histogram({ buckets, exportScale });
  const model = new LinearModel(buckets, exportScale);
  for (const v of values) {
    h.record(v);
    model.record(v);
  }
  expect(h.count).toBe(model.count);
  expect(h.cumulativeBuckets()).toEqual(model.cumulative(buckets));
}

describe('Histogram export buckets: table lookup = linear scan', () => {
  it('property: random bounds, scales and values give exactly the linear scan buckets', () => {
    fc.assert(
      fc.property(
        bounds.map((b) => [...new Set(b)].sort((x, y) => x - y)).filter((b) => b.length > 0),
        scale,
        fc.array(fc.double({ min: -1, max: 1e16 }), { maxLength: 200, size: 'max' }),
        fc.array(fc.nat(), { maxLength: 200, size: 'max' }),
        fc.array(fc.integer({ min: -2, max: 1800 }), { maxLength: 100, size: 'max' }),
        (sorted, exportScale, randomValues, picks, edges) => {
          const recorded = sorted.map((b) => (b / exportScale) * (1 + 1e-12));
          const values = [...randomValues];
          // On and next to each bound (in recorded units, exactly as the class stores it).
          for (const p of picks) {
            const r = recorded[p % recorded.length]!;
            if (!(r > 0) || !Number.isFinite(r)) continue;
            values.push(r, nextDouble(r, 1), nextDouble(r, -1), r * (1 + 1e-13), r / exportScale);
          }
          // On and next to the fine buckets' edges, where the computed index can be off by one.
          for (const k of edges) {
            const e = MIN * G ** k;
            values.push(e, nextDouble(e, 1), nextDouble(e, -1));
          }
          values.push(0, -0, -5, 5e-324, MIN, 1e12, 1e13, 1e300, Number.POSITIVE_INFINITY, Number.NaN);
          checkSame(sorted, exportScale, values);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the default buckets in ms exported as seconds: every value near every bound and edge', () => {
    const values: number[] = [];
    for (const le of DEFAULT_BUCKETS) {
      const r = (le / 0.001) * (1 + 1e-12);
      for (let d = -3; d <= 3; d++) values.push(r * (1 + d * 1e-13), le * 1000 * (1 + d * 0.005));
      values.push(nextDouble(r, 1), nextDouble(r, -1));
    }
    for (let k = 0; k < 1800; k++) values.push(MIN * G ** k, nextDouble(MIN * G ** k, -1));
    checkSame(DEFAULT_BUCKETS, 0.001, values);
    checkSame(DEFAULT_BUCKETS, 1, values);
  });

  it('bounds closer together than a fine bucket each get their own values', () => {
    const buckets = [1, 1.000001, 1.000002, 1.00001, 1.01, 1.02];
    const h = new Histogram({ buckets });
    for (const v of [1, 1.0000005, 1.000001, 1.0000015, 1.000005, 1.005, 1.015, 1.0199, 1.03]) h.record(v);
    expect(h.cumulativeBuckets().map((b) => b.count)).toEqual([1, 3, 4, 5, 6, 8]);
    expect(h.count).toBe(9);
  });
});
