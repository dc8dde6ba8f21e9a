/** The seeded samplers shared by the dashboard's generator and bench/load. */
import { describe, expect, it } from 'vitest';
import { mulberry32, zipfSampler } from '../../src/shared/random.js';

describe('mulberry32', () => {
  it('is deterministic per seed and uniform in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // Ten equal bins each hold 10% +- 1.5% of 10,000 draws (a fixed seed: this is not flaky).
    const bins = new Array(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]++;
    for (const n of bins) expect(Math.abs(n - 1000)).toBeLessThan(150);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });
});

describe('zipfSampler', () => {
  it('draws ids 1..n, the same sequence per seed, with P(k) proportional to 1/k^s', () => {
    const n = 1000;
    const s = 1.1;
    const next = zipfSampler(n, s, 7);
    const again = zipfSampler(n, s, 7);
    const counts = new Array(n + 1).fill(0);
    const draws = 50_000;
    for (let i = 0; i < draws; i++) {
      const id = next();
      expect(id).toBe(again());
      counts[id]++;
    }
    expect(counts[0]).toBe(0);
    let h = 0;
    for (let k = 1; k <= n; k++) h += 1 / k ** s;
    // The head of the law, within 10% of its expected share.
    for (const k of [1, 2, 3, 10]) {
      const expected = draws / (k ** s * h);
      expect(Math.abs(counts[k] - expected) / expected).toBeLessThan(0.1);
    }
  });
  it('rejects a bad n or exponent, naming it', () => {
    expect(() => zipfSampler(0, 1.1)).toThrow('n must be an integer >= 1, got 0');
    expect(() => zipfSampler(10, 0)).toThrow('s must be > 0, got 0');
  });
});
