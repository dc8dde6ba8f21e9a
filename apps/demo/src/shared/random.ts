/**
 * Seeded randomness for the load generators (the dashboard's and bench/load's): the same seed
 * gives the same sequence on every run, so two runs (or the dashboard and the bench) offer the
 * same requests.
 */

/** mulberry32: a 32-bit-state PRNG, uniform in [0, 1). Small and fast; not for cryptography. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Zipf-distributed ids 1..n (P(k) ∝ 1/k^s) from a seeded mulberry32: a cumulative table built once
 * (O(n) floats, so callers cap n) and a binary search per draw (O(log n)).
 */
export function zipfSampler(n: number, s: number, seed = 42): () => number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${n}`);
  if (!(s > 0)) throw new RangeError(`s must be > 0, got ${s}`);
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / k ** s;
    cdf[k - 1] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i] = (cdf[i] as number) / sum;
  const random = mulberry32(seed);
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}
