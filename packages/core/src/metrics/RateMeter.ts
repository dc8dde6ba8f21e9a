import type { Clock } from '../clock/Clock.js';
import {
  rejectExtraArguments,
  rejectUnknownOptions,
  validateClock,
  validateNumber,
  validateObject,
} from '../validate.js';

export interface RateMeterOptions {
  /** Time constant of the moving average, in ms. @default 5000 */
  windowMs?: number;
  /** Length of one averaging tick, in ms. @default 1000 */
  tickMs?: number;
  /** @default systemClock */
  clock?: Clock;
}

/**
 * An exponentially weighted moving rate (events per second), as in Unix load averages.
 * It needs no timer: elapsed ticks are caught up lazily when the meter is marked or read.
 */
export class RateMeter {
  private readonly clock: Clock;
  private readonly tickMs: number;
  private readonly alpha: number;
  private pending = 0;
  private ratePerMs = 0;
  private lastTick: number;
  private started = false;
  private total = 0;

  constructor(options: RateMeterOptions = {}) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new RateMeter()');
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['windowMs', 'tickMs', 'clock']);
    const windowMs = validateNumber(options.windowMs ?? 5000, 'windowMs', { above: 0 });
    this.tickMs = validateNumber(options.tickMs ?? 1000, 'tickMs', { above: 0 });
    this.clock = validateClock(options.clock);
    this.alpha = 1 - Math.exp(-this.tickMs / windowMs);
    this.lastTick = this.clock.now();
  }

  mark(n = 1): void {
    this.catchUp();
    this.pending += n;
    this.total += n;
  }

  /** Total events marked. */
  get count(): number {
    return this.total;
  }

  /** Events per second, averaged over the window. */
  rate(): number {
    this.catchUp();
    return this.ratePerMs * 1000;
  }

  private catchUp(): void {
    const now = this.clock.now();
    const elapsed = Math.floor((now - this.lastTick) / this.tickMs);
    if (elapsed <= 0) return;
    for (let i = 0; i < elapsed && i < 1000; i++) {
      const instant = (i === 0 ? this.pending : 0) / this.tickMs;
      if (!this.started) {
        this.ratePerMs = instant;
        this.started = true;
      } else {
        this.ratePerMs += this.alpha * (instant - this.ratePerMs);
      }
    }
    if (elapsed >= 1000) this.ratePerMs = 0;
    this.pending = 0;
    this.lastTick += elapsed * this.tickMs;
  }
}
