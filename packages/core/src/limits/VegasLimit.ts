import { Emitter } from '../events/Emitter.js';
import { clampLimit, type LimitBounds, resolveLimitBounds } from '../internal/limitBounds.js';
import { describeValue, rejectExtraArguments, validateFunction, validateInteger, validateNumber } from '../validate.js';
import type { Limit, LimitSample } from './Limit.js';

/** A number, or a function of the current (integer) limit. */
export type LimitFunction = number | ((limit: number) => number);

export interface VegasLimitOptions {
  /** The limit before any sample arrives, an integer in [minLimit, maxLimit]. @default 20 (clamped into the bounds) */
  initialLimit?: number;
  /** The limit never goes below this, an integer >= 1. @default 1 */
  minLimit?: number;
  /** The limit never goes above this, an integer >= minLimit or Infinity. @default 1000 */
  maxLimit?: number;
  /** How far each change moves the limit towards its new estimate, in (0, 1]. @default 1 */
  smoothing?: number;
  /**
   * Below this estimated queue (in slots) the limit grows by `log10(limit)`.
   * @default limit => 3 * max(1, floor(log10(limit)))
   */
  alpha?: LimitFunction;
  /**
   * Above this estimated queue the limit shrinks by `log10(limit)`; between alpha and beta it
   * holds. @default limit => 6 * max(1, floor(log10(limit)))
   */
  beta?: LimitFunction;
  /**
   * At or below this estimated queue the limit grows fast, by `beta`.
   * @default limit => max(1, floor(log10(limit)))
   */
  threshold?: LimitFunction;
  /**
   * The no-load latency is re-learned from a fresh sample every `probeMultiplier * limit`
   * samples (times a random jitter in [0.5, 1)), so a backend whose baseline really moved is
   * not judged by a stale minimum forever. An integer >= 1. @default 30
   */
  probeMultiplier?: number;
  /** Source of the probe jitter, returning a number in [0, 1); inject one for deterministic tests. @default Math.random */
  random?: () => number;
}

const KNOWN = [
  'initialLimit',
  'minLimit',
  'maxLimit',
  'smoothing',
  'alpha',
  'beta',
  'threshold',
  'probeMultiplier',
  'random',
] as const;

/** max(1, floor(log10(limit))): steps that grow slowly with the limit, as Netflix's Log10RootFunction. */
function log10Root(limit: number): number {
  return Math.max(1, Math.floor(Math.log10(Math.max(1, limit))));
}

function limitFunction(value: unknown, name: string, fallback: (limit: number) => number): (limit: number) => number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') {
    validateNumber(value, name, { min: 0 });
    return () => value;
  }
  if (typeof value === 'function') return validateFunction<(limit: number) => number>(value, name);
  throw new TypeError(`${name} must be a finite number >= 0 or a function, got ${describeValue(value)}`);
}

/**
 * Delay-based limit after TCP Vegas, as in Netflix concurrency-limits' VegasLimit. It keeps the
 * lowest latency seen (`rttNoLoad`) and estimates how many requests are queueing at the backend:
 * `queue = limit * (1 - rttNoLoad / rtt)`. Little queueing grows the limit (fast at first), a
 * queue above `beta` shrinks it, and in between it holds.
 *
 * Trade-off: judging against a minimum reacts early, before latency visibly degrades, but a
 * minimum set by one lucky sample makes every later sample look queued; the periodic probe
 * re-learns it. A drop always shrinks the limit, and a dropped sample's latency never becomes
 * the no-load latency (a fast failure is not an idle backend).
 */
export class VegasLimit implements Limit {
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly smoothing: number;
  readonly probeMultiplier: number;
  private readonly alpha: (limit: number) => number;
  private readonly beta: (limit: number) => number;
  private readonly threshold: (limit: number) => number;
  private readonly random: () => number;
  private readonly bounds: LimitBounds;
  // Fractional estimate written by onSample; `limit` is its floor.
  private estimate: number;
  private current: number;
  // Lowest latency since the last probe (ms); NaN until the first valid sample.
  private noLoad = Number.NaN;
  // Samples since the last probe, and this probe period's jitter in [0.5, 1).
  private probeCount = 0;
  private probeJitter: number;
  private readonly change$ = new Emitter<number>();
  readonly onChange = this.change$.event;

  constructor(options?: VegasLimitOptions) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new VegasLimit()');
    const o = resolveLimitBounds(options, 'VegasLimit', KNOWN, { initialLimit: 20, minLimit: 1, maxLimit: 1000 });
    this.bounds = o.bounds;
    this.minLimit = o.bounds.minLimit;
    this.maxLimit = o.bounds.maxLimit;
    this.estimate = this.current = o.bounds.initialLimit;
    this.smoothing = validateNumber(o.smoothing ?? 1, 'smoothing', { above: 0, max: 1 });
    this.alpha = limitFunction(o.alpha, 'alpha', (l) => 3 * log10Root(l));
    this.beta = limitFunction(o.beta, 'beta', (l) => 6 * log10Root(l));
    this.threshold = limitFunction(o.threshold, 'threshold', log10Root);
    if (typeof o.alpha === 'number' && typeof o.beta === 'number' && o.beta < o.alpha) {
      throw new RangeError(`beta must be >= alpha (${o.alpha}), got ${o.beta}`);
    }
    this.probeMultiplier = validateInteger(o.probeMultiplier ?? 30, 'probeMultiplier', { min: 1 });
    this.random = o.random === undefined ? Math.random : validateFunction<() => number>(o.random, 'random');
    this.probeJitter = this.nextJitter();
  }

  get limit(): number {
    return this.current;
  }

  /** The latency the backend shows without queueing, in ms (NaN before the first sample). */
  get rttNoLoadMs(): number {
    return this.noLoad;
  }

  onSample(sample: LimitSample): void {
    const est = this.estimate;
    let target: number;
    if (sample.dropped) {
      target = est - log10Root(est);
    } else {
      const rtt = sample.rttMs;
      // A zero or invalid latency (work that finished within one clock tick) carries no signal.
      if (!(rtt > 0 && rtt < Number.POSITIVE_INFINITY)) return;
      if (++this.probeCount >= this.probeJitter * this.probeMultiplier * est) {
        this.probeCount = 0;
        this.probeJitter = this.nextJitter();
        this.noLoad = rtt;
        return;
      }
      if (!(rtt >= this.noLoad)) {
        // A new minimum (or the first sample): it defines no-load, so it shows no queue.
        this.noLoad = rtt;
        return;
      }
      // App-limited: less than half the limit in use says nothing about a higher limit.
      if (sample.inflight * 2 < est) return;
      const queue = Math.ceil(est * (1 - this.noLoad / rtt));
      const whole = Math.floor(est);
      if (queue <= this.threshold(whole)) {
        target = est + this.beta(whole);
      } else if (queue < this.alpha(whole)) {
        target = est + log10Root(whole);
      } else if (queue > this.beta(whole)) {
        target = est - log10Root(whole);
      } else {
        return;
      }
    }
    const next = clampLimit(est * (1 - this.smoothing) + clampLimit(target, this.bounds) * this.smoothing, this.bounds);
    this.estimate = next;
    const limit = Math.floor(next);
    if (limit === this.current) return;
    this.current = limit;
    this.change$.emit(limit);
  }

  private nextJitter(): number {
    return 0.5 + this.random() * 0.5;
  }
}
