import type { Clock, Counter } from '@valve/core';

/**
 * Completions per ms, measured over windows of at least a second, for `retryAfterMs()`: read
 * lazily, only when asked (the hot path never pays for it), from the valve's `completed` counter.
 */
export class Throughput {
  /** Completions counted since `since`. */
  private since: number;
  private base = 0;
  private perMs = 0;

  constructor(
    private readonly clock: Clock,
    private readonly completed: Counter,
  ) {
    this.since = clock.now();
  }

  /** Time to serve `waiting` jobs, in ms, at the measured throughput; 1 s when none is known. */
  msFor(waiting: number): number {
    const now = this.clock.now();
    const elapsed = now - this.since;
    const done = this.completed.value - this.base;
    if (elapsed >= 1000 && done > 0) {
      // Roll the window.
      this.perMs = done / elapsed;
      this.since = now;
      this.base = this.completed.value;
    }
    const perMs = this.perMs > 0 ? this.perMs : elapsed > 0 && done > 0 ? done / elapsed : 0;
    if (perMs === 0) return 1000;
    return Math.ceil(waiting / perMs);
  }
}
