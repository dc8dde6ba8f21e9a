import { Emitter } from '../events/Emitter.js';
import { type LimitBounds, resolveLimitBounds, validateHalfOpen } from '../internal/limitBounds.js';
import { rejectExtraArguments, validateNumber } from '../validate.js';
import type { Limit, LimitSample } from './Limit.js';

export interface AimdLimitOptions {
  /** The limit before any sample arrives, an integer in [minLimit, maxLimit]. @default 20 (clamped into the bounds) */
  initialLimit?: number;
  /** The limit never goes below this, an integer >= 1. @default 1 */
  minLimit?: number;
  /** The limit never goes above this, an integer >= minLimit or Infinity. @default 200 */
  maxLimit?: number;
  /**
   * The factor a drop multiplies the limit by, in [0.5, 1). The limit always falls by at least 1.
   * @default 0.9
   */
  backoffRatio?: number;
  /** Work that ran longer than this many ms counts as dropped, a number > 0 or Infinity. @default 5000 */
  timeoutMs?: number;
}

const KNOWN = ['initialLimit', 'minLimit', 'maxLimit', 'backoffRatio', 'timeoutMs'] as const;

/**
 * Loss-based limit (TCP Reno's additive increase, multiplicative decrease), after Netflix
 * concurrency-limits' AIMDLimit: +1 per successful sample while the valve is using at least half
 * of the limit, `limit * backoffRatio` (at least -1) per dropped or timed-out sample.
 *
 * Trade-off: it ignores latency below `timeoutMs`, so it only backs off once work fails. That makes
 * it the right choice when failures are the only overload signal (a remote rate limiter, a
 * connection pool that times out) and a poor one when you want to stop before latency degrades:
 * use {@link Gradient2Limit} or {@link VegasLimit} there.
 */
export class AimdLimit implements Limit {
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly backoffRatio: number;
  readonly timeoutMs: number;
  // Written only by onSample; always an integer in [minLimit, maxLimit].
  private current: number;
  private readonly change$ = new Emitter<number>();
  readonly onChange = this.change$.event;

  constructor(options?: AimdLimitOptions) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new AimdLimit()');
    const o = resolveLimitBounds(options, 'AimdLimit', KNOWN, { initialLimit: 20, minLimit: 1, maxLimit: 200 });
    const bounds: LimitBounds = o.bounds;
    this.minLimit = bounds.minLimit;
    this.maxLimit = bounds.maxLimit;
    this.current = bounds.initialLimit;
    this.backoffRatio = validateHalfOpen(o.backoffRatio ?? 0.9, 'backoffRatio', 0.5, 1);
    this.timeoutMs = validateNumber(o.timeoutMs ?? 5000, 'timeoutMs', { above: 0, allowInfinity: true });
  }

  get limit(): number {
    return this.current;
  }

  onSample(sample: LimitSample): void {
    const limit = this.current;
    let next: number;
    if (sample.dropped || sample.rttMs > this.timeoutMs) {
      next = Math.min(limit - 1, Math.floor(limit * this.backoffRatio));
    } else if (sample.inflight * 2 >= limit) {
      next = limit + 1;
    } else {
      // App-limited: the valve used less than half the limit, so success says nothing about
      // whether a higher limit would be safe. Growing here would let the limit drift upwards
      // forever during quiet periods and then admit a burst the backend cannot take.
      return;
    }
    next = Math.min(this.maxLimit, Math.max(this.minLimit, next));
    if (next === limit) return;
    this.current = next;
    this.change$.emit(next);
  }
}
