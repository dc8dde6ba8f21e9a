import { rejectExtraArguments, rejectUnknownOptions, validateNumber, validateObject } from '../validate.js';

/**
 * A log-linear histogram for latencies and sizes.
 *
 * Internally, bucket i holds values in [MIN * G^i, MIN * G^(i+1)) with G = 1.02; a percentile is
 * answered with the bucket's harmonic midpoint 2ab/(a+b), whose relative error is at most
 * (G-1)/(G+1) < 1%, for every value from 0.001 to 3,600,000 (and beyond, to 1e12). Values below
 * 0.001 share one bucket answered by the exact minimum. Recording is O(1) with no allocation:
 * one log, one array increment, and the export bucket looked up from the fine bucket's index.
 *
 * Separately, exact cumulative counts are kept for the export bounds (`le`), so the Prometheus
 * `_bucket` lines are exact rather than estimated from the fine buckets. A value counts for the
 * first bound it is <= to. Instead of scanning the bounds from the first for each value, a table
 * built once per histogram gives, for each fine bucket, the first bound that a value in it could
 * be <= to; the comparison then starts there and moves on only past bounds between that start
 * (two fine buckets, 4%, below the value's bucket) and the value: at most one or two steps for
 * bounds 6% or more apart (the default ones, and any usual set), more only for bounds packed
 * closer than that. The result is exactly the scan's.
 */
const MIN = 0.001;
const G = 1.02;
const LOG_G = Math.log(G);
const MAX_INDEX = Math.ceil(Math.log(1e12 / MIN) / LOG_G);

/** Default export bounds, in the exported unit (seconds for `_seconds` histograms). */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

export interface HistogramOptions {
  /**
   * Upper bounds (`le`) of the exported buckets, ascending, in exported units.
   * @default DEFAULT_BUCKETS (0.5 ms to 30 s when exported in seconds)
   */
  buckets?: readonly number[];
  /**
   * Factor from recorded to exported units: 0.001 for a histogram recorded in milliseconds and
   * exported in seconds. @default 1
   */
  exportScale?: number;
}

/** `MIN * G^(i-2)` for every fine bucket index i, computed once per process (see `boundStarts`). */
let lowEdges: Float64Array | undefined;

/**
 * Start tables by export bounds: histograms with the same bounds (most use DEFAULT_BUCKETS, and
 * a labelled family repeats one set per child) share one read-only table instead of building and
 * holding 7 KB each. Bounded, so a program that makes histograms with ever-new bounds cannot grow
 * it: past the cap a table is built but not kept.
 */
const startTables = new Map<string, Uint32Array>();
const START_TABLES_CAP = 64;

/**
 * For each fine bucket index i, the number of bounds below MIN * G^(i-2): every value whose
 * computed index is i is at least that large, with margin to spare. The computed index can be
 * one above the exact one at a bucket edge (the log rounds), and G^(i-2) itself rounds, so the
 * table starts two buckets (4%) low instead of at the edge; values in [MIN * G^(i-2), v] cost
 * one comparison each. Indices clamped to MAX_INDEX (values above 1e12) start at its entry too.
 */
function boundStarts(bounds: Float64Array): Uint32Array {
  const key = bounds.join(',');
  const cached = startTables.get(key);
  if (cached !== undefined) return cached;
  if (lowEdges === undefined) {
    lowEdges = new Float64Array(MAX_INDEX + 1);
    for (let i = 0; i <= MAX_INDEX; i++) lowEdges[i] = MIN * G ** (i - 2);
  }
  const starts = new Uint32Array(MAX_INDEX + 1);
  let b = 0;
  for (let i = 0; i <= MAX_INDEX; i++) {
    const below = lowEdges[i]!;
    while (b < bounds.length && bounds[b]! < below) b++;
    starts[i] = b;
  }
  if (startTables.size < START_TABLES_CAP) startTables.set(key, starts);
  return starts;
}

export class Histogram {
  private readonly counts = new Float64Array(MAX_INDEX + 1);
  private zeroCount = 0;
  private n = 0;
  private total = 0;
  private lo = Number.POSITIVE_INFINITY;
  private hi = Number.NEGATIVE_INFINITY;
  /** Export bounds in recorded units, and the count of values <= each (not cumulative). */
  private readonly bounds: Float64Array;
  private readonly boundCounts: Float64Array;
  /** Per fine bucket index, where the search for the export bound starts (see `boundStarts`). */
  private readonly starts: Uint32Array;
  readonly buckets: readonly number[];
  readonly exportScale: number;

  constructor(options: HistogramOptions = {}) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new Histogram()');
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['buckets', 'exportScale']);
    const buckets = options.buckets ?? DEFAULT_BUCKETS;
    this.exportScale = validateNumber(options.exportScale ?? 1, 'exportScale', { above: 0 });
    if (!Array.isArray(buckets) || buckets.length === 0) {
      throw new TypeError(`buckets must be a non-empty array of ascending numbers, got ${String(buckets)}`);
    }
    for (let i = 0; i < buckets.length; i++) {
      validateNumber(buckets[i], `buckets[${i}]`, i > 0 ? { above: buckets[i - 1] } : {});
    }
    this.buckets = Object.freeze([...buckets]);
    // Dividing into recorded units rounds (0.7 / 0.001 is 699.9999999999999, which would leave
    // a 700 ms value out of le="0.7"), so each bound is widened by a relative 1e-12: far below
    // any real difference between two values, far above the rounding error.
    this.bounds = Float64Array.from(buckets, (b) => (b / this.exportScale) * (1 + 1e-12));
    this.boundCounts = new Float64Array(buckets.length);
    this.starts = boundStarts(this.bounds);
  }

  /** Records one value (NaN is ignored; negative values count as 0). */
  record(value: number): void {
    if (Number.isNaN(value)) return;
    const v = value < 0 ? 0 : value;
    let b = 0;
    if (v < MIN) {
      this.zeroCount++;
    } else {
      const f = Math.floor(Math.log(v / MIN) / LOG_G);
      const i = f > MAX_INDEX ? MAX_INDEX : f;
      this.counts[i]!++;
      b = this.starts[i]!;
    }
    this.n++;
    this.total += v;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
    // Every bound before `b` is below v; the first bound v is <= to is at `b` or after it.
    const bounds = this.bounds;
    const nb = bounds.length;
    while (b < nb && v > bounds[b]!) b++;
    if (b < nb) this.boundCounts[b]!++;
  }

  get count(): number {
    return this.n;
  }

  get sum(): number {
    return this.total;
  }

  get min(): number {
    return this.n === 0 ? Number.NaN : this.lo;
  }

  get max(): number {
    return this.n === 0 ? Number.NaN : this.hi;
  }

  get mean(): number {
    return this.n === 0 ? Number.NaN : this.total / this.n;
  }

  /**
   * The nearest-rank percentile, `p` from 0 to 100 (`percentile(99)` is p99), within 1%
   * relative error; NaN when empty.
   */
  percentile(p: number): number {
    validateNumber(p, 'p', { min: 0, max: 100 });
    if (this.n === 0) return Number.NaN;
    if (p === 0) return this.lo;
    // (p / 100) * n rounds: 0.07 * 100 is 7.000000000000001, whose ceil picks rank 8, not 7.
    // Snap results within rounding noise of an integer to it before taking the ceiling.
    const exact = (p * this.n) / 100;
    const nearest = Math.round(exact);
    const rank = Math.max(1, Math.abs(exact - nearest) <= 1e-9 * nearest ? nearest : Math.ceil(exact));
    if (rank >= this.n) return this.hi;
    let seen = this.zeroCount;
    if (seen >= rank) return this.lo;
    const counts = this.counts;
    for (let i = 0; i <= MAX_INDEX; i++) {
      const c = counts[i]!;
      if (c === 0) continue;
      seen += c;
      if (seen >= rank) {
        const a = MIN * G ** i;
        const b = a * G;
        const estimate = (2 * a * b) / (a + b);
        return Math.min(this.hi, Math.max(this.lo, estimate));
      }
    }
    return this.hi;
  }

  /** Cumulative counts per export bound, for `_bucket{le=…}` (the `+Inf` bucket is `count`). */
  cumulativeBuckets(): { le: number; count: number }[] {
    let acc = 0;
    return this.buckets.map((le, i) => {
      acc += this.boundCounts[i]!;
      return { le, count: acc };
    });
  }

  reset(): void {
    this.counts.fill(0);
    this.boundCounts.fill(0);
    this.zeroCount = 0;
    this.n = 0;
    this.total = 0;
    this.lo = Number.POSITIVE_INFINITY;
    this.hi = Number.NEGATIVE_INFINITY;
  }
}
