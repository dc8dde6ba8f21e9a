import { type Clock, type Timer, validateNumber } from '@valve/core';

/**
 * `pause()`, `resume()` and `pauseFor(ms)` of a pool: whether it may start tasks, and the timer
 * that ends a timed pause. The timer keeps the process alive only while accepted work waits for
 * it (`hold()` / `release()` as the queue fills and empties).
 */
export class PauseControl {
  paused = false;
  private timer: Timer | undefined = undefined;
  private until = 0;

  /**
   * `changed(paused, timed)` is called on every switch (the pool tells its admission and drain);
   * `timed` for the start of a `pauseFor`, whose own ref'd timer keeps the process alive.
   */
  constructor(
    private readonly clock: Clock,
    private readonly changed: (paused: boolean, timed: boolean) => void,
  ) {}

  pause(): void {
    this.clear();
    this.paused = true;
    this.changed(true, false);
  }

  resume(): void {
    this.clear();
    if (!this.paused) return;
    this.paused = false;
    this.changed(false, false);
  }

  /**
   * Pauses for `ms`: a longer pause extends it, a shorter one does not shorten it, and after
   * `pause()` it does nothing (`resume()` ends both). `waiting`: tasks wait (ref the timer).
   */
  pauseFor(ms: number, waiting: boolean): void {
    validateNumber(ms, 'ms', { min: 0 });
    if (this.paused && this.timer === undefined) return;
    const until = this.clock.now() + ms;
    if (this.timer !== undefined && until <= this.until) return;
    this.timer?.clear();
    this.paused = true;
    this.until = until;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.paused = false;
      this.changed(false, false);
    }, ms);
    if (waiting) this.timer.ref();
    this.changed(true, true);
  }

  /** Tasks now wait: a timed pause keeps the process alive until it ends. */
  hold(): void {
    this.timer?.ref();
  }

  /** Nothing waits any more. */
  release(): void {
    this.timer?.unref();
  }

  clear(): void {
    this.timer?.clear();
    this.timer = undefined;
  }
}
