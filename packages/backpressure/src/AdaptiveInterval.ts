import { rejectExtraArguments, rejectUnknownOptions, validateNumber, validateObject } from '@valve/core';

export interface AdaptiveIntervalOptions {
  /** Shortest interval, ms. @default 100 */
  minFlushIntervalMs?: number;
  /** Longest interval, ms. @default 30000 */
  maxFlushIntervalMs?: number;
  /** Flush latency the interval steers towards, ms. @default 500 */
  targetLatencyMs?: number;
}

/**
 * The seed's adaptive pacing rule as a pure object: after a flush that took more than 1.5x the
 * target the interval grows x1.5, after one under 0.5x the target it shrinks x0.8, always within
 * [min, max]. It paces *idle* flushing only (how long a partial batch may linger): the controller
 * never waits on it while a full batch or a backlog is buffered, which is how the seed capped a
 * backlog at one batch per interval.
 */
export class AdaptiveInterval {
  readonly min: number;
  readonly max: number;
  readonly target: number;
  /** Written only by `record()` and `reset()`. */
  private value: number;

  constructor(options: AdaptiveIntervalOptions = {}) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new AdaptiveInterval()');
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['minFlushIntervalMs', 'maxFlushIntervalMs', 'targetLatencyMs']);
    this.min = validateNumber(options.minFlushIntervalMs ?? 100, 'minFlushIntervalMs', { min: 0 });
    this.max = validateNumber(options.maxFlushIntervalMs ?? 30_000, 'maxFlushIntervalMs', { min: 0 });
    if (this.max < this.min) {
      throw new RangeError(`maxFlushIntervalMs must be >= minFlushIntervalMs (${this.min}), got ${this.max}`);
    }
    this.target = validateNumber(options.targetLatencyMs ?? 500, 'targetLatencyMs', { above: 0 });
    this.value = this.min;
  }

  /** The interval to wait now, ms. */
  get current(): number {
    return this.value;
  }

  /** Feeds the latency of a finished flush; returns the new interval. */
  record(latencyMs: number): number {
    if (latencyMs > this.target * 1.5) this.value = Math.min(this.value * 1.5, this.max);
    else if (latencyMs < this.target * 0.5) this.value = Math.max(this.value * 0.8, this.min);
    return this.value;
  }

  reset(): void {
    this.value = this.min;
  }
}
