import { Emitter } from '../events/Emitter.js';
import { clampLimit, type LimitBounds, resolveLimitBounds } from '../internal/limitBounds.js';
import { describeValue, rejectExtraArguments, validateFunction, validateInteger, validateNumber } from '../validate.js';
import type { Limit, LimitSample } from './Limit.js';

export interface Gradient2LimitOptions {
  /** The limit before any sample arrives, an integer in [minLimit, maxLimit]. @default 20 (clamped into the bounds) */
  initialLimit?: number;
  /** The limit never goes below this, an integer >= 1. @default 1 */
  minLimit?: number;
  /** The limit never goes above this, an integer >= minLimit or Infinity. @default 200 */
  maxLimit?: number;
  /**
   * How far each sample moves the limit towards its new estimate, in (0, 1]: 1 jumps straight
   * to it, small values damp oscillation. @default 0.2
   */
  smoothing?: number;
  /**
   * How much queueing the limit allows for while latency stays flat: the estimate grows by this
   * many slots per sample (before smoothing). A number >= 0, or a function of the current
   * (integer) limit. @default 4
   */
  queueSize?: number | ((limit: number) => number);
  /**
   * How far the current latency may exceed the long-term average before the limit shrinks: the
   * gradient is `tolerance * longRtt / shortRtt`, capped to [0.5, 1]. A number >= 1. @default 1.5
   */
  tolerance?: number;
  /**
   * Windows (see `windowSize`) in the long-term latency average, an exponential moving average
   * with factor `2 / (longWindow + 1)`; the first 10 windows are averaged plainly so one outlier
   * does not become the baseline. An integer >= 1. @default 600
   */
  longWindow?: number;
  /**
   * Samples aggregated into one update (their mean latency, the highest in-flight count, and
   * whether any was dropped). Netflix's Gradient2 runs once per time window (about a second) for
   * the same reason: one sample is too noisy to move the limit, and a `longWindow` counted in
   * single samples would let the baseline catch up with an overload in a few hundred requests.
   * An integer >= 1. @default 10
   */
  windowSize?: number;
}

const KNOWN = [
  'initialLimit',
  'minLimit',
  'maxLimit',
  'smoothing',
  'queueSize',
  'tolerance',
  'longWindow',
  'windowSize',
] as const;

/** Windows averaged plainly before the long-term average switches to exponential smoothing. */
const WARMUP_SAMPLES = 10;

/**
 * Latency-gradient limit, after Netflix concurrency-limits' Gradient2Limit: it compares the
 * latest latency (`shortRtt`) with a slow exponential average of all latencies (`longRtt`).
 * While they agree the limit grows by `queueSize` per sample (smoothed); when the latest
 * latency exceeds `tolerance * longRtt` the limit is multiplied by the gradient (at most halved).
 * It updates once per `windowSize` samples, from their mean latency, since it has no timers.
 *
 * Trade-offs: it uses an average rather than a minimum as its baseline, so bursty but healthy
 * latency does not cause load shedding; the price is that under sustained overload the baseline
 * creeps up and the limit recovers towards it. When `longRtt` is more than twice the latest
 * latency (load has passed), the baseline is cut by 10% per sample so the limit recovers quickly.
 *
 * Deviation from Netflix: a dropped sample counts as the maximum gradient (0.5) whatever its
 * latency, and its latency is kept out of both averages, since a fast failure is not a sign of a
 * healthy backend. Netflix's version ignores drops.
 */
export class Gradient2Limit implements Limit {
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly smoothing: number;
  readonly tolerance: number;
  readonly longWindow: number;
  readonly windowSize: number;
  private readonly queueSize: (limit: number) => number;
  private readonly bounds: LimitBounds;
  // Fractional estimate written by onSample; `limit` is its floor.
  private estimate: number;
  private current: number;
  // Latest latency sample (ms); NaN until the first valid sample.
  private short = Number.NaN;
  // Long-term average latency (ms) and how many samples fed it.
  private long = 0;
  private longCount = 0;
  // The window being filled: samples seen, latency sum over the undropped ones, their count,
  // the highest in-flight count, and whether any sample was dropped. Reset by flush().
  private windowCount = 0;
  private windowRttSum = 0;
  private windowRttCount = 0;
  private windowInflight = 0;
  private windowDropped = false;
  private readonly change$ = new Emitter<number>();
  readonly onChange = this.change$.event;

  constructor(options?: Gradient2LimitOptions) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new Gradient2Limit()');
    const o = resolveLimitBounds(options, 'Gradient2Limit', KNOWN, { initialLimit: 20, minLimit: 1, maxLimit: 200 });
    this.bounds = o.bounds;
    this.minLimit = o.bounds.minLimit;
    this.maxLimit = o.bounds.maxLimit;
    this.estimate = this.current = o.bounds.initialLimit;
    this.smoothing = validateNumber(o.smoothing ?? 0.2, 'smoothing', { above: 0, max: 1 });
    this.tolerance = validateNumber(o.tolerance ?? 1.5, 'tolerance', { min: 1 });
    this.longWindow = validateInteger(o.longWindow ?? 600, 'longWindow', { min: 1 });
    this.windowSize = validateInteger(o.windowSize ?? 10, 'windowSize', { min: 1 });
    const q = o.queueSize ?? 4;
    if (typeof q === 'number') {
      validateNumber(q, 'queueSize', { min: 0 });
      this.queueSize = () => q;
    } else if (typeof q === 'function') {
      this.queueSize = validateFunction<(limit: number) => number>(q, 'queueSize');
    } else {
      throw new TypeError(`queueSize must be a finite number >= 0 or a function, got ${describeValue(q)}`);
    }
  }

  get limit(): number {
    return this.current;
  }

  /** The latest window's mean latency in ms (NaN before the first window). */
  get shortRttMs(): number {
    return this.short;
  }

  /** The long-term average latency in ms (NaN before the first window). */
  get longRttMs(): number {
    return this.longCount === 0 ? Number.NaN : this.long;
  }

  onSample(sample: LimitSample): void {
    if (sample.dropped) {
      this.windowDropped = true;
    } else {
      const rtt = sample.rttMs;
      // A zero or invalid latency (work that finished within one clock tick) carries no signal
      // and would make the gradient infinite.
      if (!(rtt > 0 && rtt < Number.POSITIVE_INFINITY)) return;
      this.windowRttSum += rtt;
      this.windowRttCount++;
    }
    if (sample.inflight > this.windowInflight) this.windowInflight = sample.inflight;
    if (++this.windowCount >= this.windowSize) this.flush();
  }

  private flush(): void {
    const dropped = this.windowDropped;
    const inflight = this.windowInflight;
    const rtt = this.windowRttCount > 0 ? this.windowRttSum / this.windowRttCount : Number.NaN;
    this.windowCount = this.windowRttCount = this.windowInflight = this.windowRttSum = 0;
    this.windowDropped = false;

    const est = this.estimate;
    let target: number;
    if (dropped) {
      target = est * 0.5;
    } else {
      this.short = rtt;
      this.addLong(rtt);
      if (this.long / rtt > 2) {
        // Load has passed: pull the baseline down faster than the average would.
        this.long *= 0.9;
      }
      // App-limited: less than half the limit in use says nothing about a higher limit.
      if (inflight < est / 2) return;
      const gradient = Math.max(0.5, Math.min(1, (this.tolerance * this.long) / rtt));
      target = est * gradient + this.queueSize(Math.floor(est));
    }
    const next = clampLimit(est * (1 - this.smoothing) + target * this.smoothing, this.bounds);
    this.estimate = next;
    const limit = Math.floor(next);
    if (limit === this.current) return;
    this.current = limit;
    this.change$.emit(limit);
  }

  private addLong(rtt: number): void {
    this.longCount++;
    if (this.longCount <= WARMUP_SAMPLES) {
      this.long += (rtt - this.long) / this.longCount;
    } else {
      const factor = 2 / (this.longWindow + 1);
      this.long = this.long * (1 - factor) + rtt * factor;
    }
  }
}
