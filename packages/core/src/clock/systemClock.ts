import type { Clock, Timer } from './Clock.js';

class SystemTimer implements Timer {
  // Written once by the constructor; cleared by clear().
  private handle: NodeJS.Timeout | undefined;

  constructor(fn: () => void, ms: number) {
    this.handle = setTimeout(() => {
      this.handle = undefined;
      fn();
    }, ms);
    this.handle.unref();
  }

  clear(): void {
    if (this.handle !== undefined) {
      clearTimeout(this.handle);
      this.handle = undefined;
    }
  }

  ref(): this {
    this.handle?.ref();
    return this;
  }

  unref(): this {
    this.handle?.unref();
    return this;
  }
}

/**
 * The default clock: `performance.now()` (monotonic, unaffected by wall-clock changes) and
 * Node timers that start unref'd.
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): Timer => new SystemTimer(fn, Math.max(0, ms)),
});
