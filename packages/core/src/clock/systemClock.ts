import type { Clock, Timer } from './Clock.js';

/**
 * Node fires a timer whose delay exceeds 2^31 - 1 ms (about 24.8 days), or is Infinity, after
 * 1 ms with a TimeoutOverflowWarning. Long delays are therefore armed in chunks of at most this
 * size, and an infinite delay arms nothing (it never fires).
 */
const MAX_DELAY = 2 ** 31 - 1;

class SystemTimer implements Timer {
  // The pending Node timer: set by arm(), cleared when it fires or by clear().
  private handle: NodeJS.Timeout | undefined;
  // Whether the caller asked for ref(); carried over when a long delay re-arms.
  private refed = false;
  private cleared = false;

  constructor(
    private readonly fn: () => void,
    ms: number,
  ) {
    this.arm(ms);
  }

  private arm(ms: number): void {
    if (ms === Number.POSITIVE_INFINITY) return;
    const chunk = Math.min(ms, MAX_DELAY);
    this.handle = setTimeout(() => {
      this.handle = undefined;
      if (this.cleared) return;
      if (ms > chunk) this.arm(ms - chunk);
      else this.fn();
    }, chunk);
    if (!this.refed) this.handle.unref();
  }

  clear(): void {
    this.cleared = true;
    if (this.handle !== undefined) {
      clearTimeout(this.handle);
      this.handle = undefined;
    }
  }

  ref(): this {
    this.refed = true;
    this.handle?.ref();
    return this;
  }

  unref(): this {
    this.refed = false;
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
  // NaN counts as 0 (Node would use 1 ms and warn).
  setTimeout: (fn: () => void, ms: number): Timer => new SystemTimer(fn, ms > 0 ? ms : 0),
});
