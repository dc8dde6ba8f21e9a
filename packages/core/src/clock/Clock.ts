/**
 * A source of time and timers. Every time-dependent class in valve takes one as its `clock`
 * option, so tests can drive time with a {@link ManualClock} instead of sleeping.
 */
export interface Clock {
  /** Monotonic milliseconds (not wall-clock; only differences are meaningful). */
  now(): number;
  /**
   * Calls `fn` once after `ms` milliseconds. Timers start unref'd: a valve that is idle never
   * keeps the process alive. A valve that holds accepted work calls `timer.ref()` so that the
   * work is not lost to an early exit (CONTRIBUTING.md, "Time").
   */
  setTimeout(fn: () => void, ms: number): Timer;
}

export interface Timer {
  /** Cancels the timer; calling it again, or after the timer fired, does nothing. */
  clear(): void;
  /** Makes the timer keep the process alive until it fires or is cleared. */
  ref(): this;
  /** Lets the process exit while the timer is pending (the default). */
  unref(): this;
}
