/** The one definition of median and percentile the dashboard, bench/load and the micro-benchmarks use. */
import { describe, expect, it } from 'vitest';
import { median, percentile, percentileOf } from '../../src/shared/stats.js';

describe('median', () => {
  it('is the middle value for an odd count and the mean of the two middle ones for an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
  it('is NaN for no values and leaves its input unsorted', () => {
    expect(median([])).toBeNaN();
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe('percentile (nearest rank)', () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  it('returns a measured value: the smallest with at least p% at or below it', () => {
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile([10, 20, 30], 50)).toBe(20);
    expect(percentile([10, 20, 30], 99)).toBe(30);
  });
  it('is NaN for no values; percentileOf sorts a copy first', () => {
    expect(percentile([], 99)).toBeNaN();
    expect(percentileOf([30, 10, 20], 50)).toBe(20);
    expect(percentile(Float64Array.from([1, 2, 3, 4]), 75)).toBe(3);
  });
});
