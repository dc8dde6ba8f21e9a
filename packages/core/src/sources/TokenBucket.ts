import type { Clock, Timer } from '../clock/Clock.js';
import { ClosedError } from '../errors/ValveError.js';
import { Emitter } from '../events/Emitter.js';
import {
  rejectExtraArguments,
  rejectUnknownOptions,
  validateClock,
  validateInteger,
  validateNumber,
  validateObject,
} from '../validate.js';
import type { RateSource } from './Sources.js';
import { WaiterQueue } from './WaiterQueue.js';

export interface TokenBucketOptions {
  /** Tokens added per refill. Required with `hz`. */
  rate?: number;
  /**
   * Refill period in ms. Without it there is no timer and tokens come only from `replenish()`
   * (safetyvalve's `hz = undefined`).
   */
  hz?: number;
  /** Bucket size; the bucket starts full. */
  tokenLimit: number;
  /** @default systemClock */
  clock?: Clock;
}

/**
 * safetyvalve's token bucket: starts full with `tokenLimit` tokens; every `hz` ms adds `rate`,
 * capped at `tokenLimit`. Refills happen on the grid `start + k * hz`, so they never drift
 * however late a timer fires (a late timer adds every refill it missed). The timer only runs
 * while the bucket is below its limit, so an idle bucket costs nothing.
 */
export class TokenBucket implements RateSource {
  /** Written by the constructor and `reconfigure()`. */
  private perRefill: number;
  readonly hz: number | undefined;
  /** Written by the constructor and `reconfigure()`. */
  private limit: number;
  private readonly clock: Clock;
  private tokens: number;
  private readonly start: number;
  /** Index k of the next refill at `start + k * hz`. */
  private nextTick = 1;
  private timer: Timer | undefined;
  private closed = false;
  // When the last waiter aborts, nothing accepted waits for the refill any more: let the
  // process exit again (issue 10, rule 5).
  private readonly waiters = new WaiterQueue<void>(() => this.timer?.unref());
  private readonly available$ = new Emitter<void>();
  readonly onAvailable = this.available$.event;

  constructor(options: TokenBucketOptions) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new TokenBucket()');
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['rate', 'hz', 'tokenLimit', 'clock']);
    this.limit = validateInteger(options?.tokenLimit, 'tokenLimit', { min: 1 });
    this.hz = options.hz === undefined ? undefined : validateNumber(options.hz, 'hz', { above: 0 });
    if (this.hz !== undefined && options.rate === undefined) {
      throw new TypeError(`rate is required when hz is set (hz = ${this.hz})`);
    }
    this.perRefill = validateInteger(options.rate ?? this.limit, 'rate', { min: 1 });
    this.clock = validateClock(options.clock);
    this.tokens = this.limit;
    this.start = this.clock.now();
  }

  /** Tokens added per refill. */
  get rate(): number {
    return this.perRefill;
  }

  /** Bucket size. */
  get tokenLimit(): number {
    return this.limit;
  }

  get available(): number {
    return this.tokens;
  }

  tryAcquire(): boolean {
    if (this.tokens < 1 || this.closed) return false;
    this.tokens--;
    this.schedule();
    return true;
  }

  /**
   * Takes `n` tokens at once if `n` are available now, else none (a weighted unit of work). A
   * separate method so that `tryAcquire()`, the one-token hot path, checks no argument.
   */
  tryAcquireMany(n: number): boolean {
    if (this.tokens < n || this.closed) return false;
    this.tokens -= n;
    this.schedule();
    return true;
  }

  /**
   * Changes `rate` and/or `tokenLimit` at run time without adding or losing a token: the tokens
   * in the bucket stay, clamped to a lowered `tokenLimit`; a raised one refills on the same grid
   * (`start + k * hz`) from the next refill on.
   */
  reconfigure(options: { rate?: number; tokenLimit?: number }): void {
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['rate', 'tokenLimit']);
    const limit =
      options.tokenLimit === undefined ? this.limit : validateInteger(options.tokenLimit, 'tokenLimit', { min: 1 });
    const rate = options.rate === undefined ? this.perRefill : validateInteger(options.rate, 'rate', { min: 1 });
    if (this.closed) return;
    this.limit = limit;
    this.perRefill = rate;
    if (this.tokens > limit) this.tokens = limit;
    // A raised limit leaves a full bucket below it: the refill timer starts.
    this.schedule();
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the token bucket is closed'));
    if (this.waiters.size === 0 && this.tryAcquire()) return Promise.resolve();
    const waiting = this.waiters.wait(signal);
    // Someone now waits for the refill: it must keep the process alive (the timer was armed
    // unref'd while nobody waited).
    this.timer?.ref();
    return waiting;
  }

  /** Milliseconds until `n` tokens (default 1) are in the bucket; Infinity without `hz` or above `tokenLimit`. */
  nextTokenInMs(n = 1): number {
    if (this.tokens >= n) return 0;
    if (this.hz === undefined || n > this.limit) return Number.POSITIVE_INFINITY;
    // The refills still needed, the first at the next grid point.
    const refills = Math.ceil((n - this.tokens) / this.perRefill);
    return Math.max(0, this.start + (this.nextTick + refills - 1) * this.hz - this.clock.now());
  }

  /** Adds `n` tokens now (default `rate`), capped at `tokenLimit`. */
  replenish(n: number = this.perRefill): void {
    validateInteger(n, 'n', { min: 0 });
    this.add(n);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer?.clear();
    this.timer = undefined;
    this.waiters.rejectAll(new ClosedError('the token bucket is closed'));
  }

  private add(n: number): void {
    if (this.closed) return;
    this.tokens = Math.min(this.limit, this.tokens + n);
    while (this.tokens >= 1 && this.waiters.size > 0) {
      this.tokens--;
      this.waiters.resolveNext();
    }
    this.schedule();
    if (this.tokens >= 1) this.available$.emit();
  }

  private schedule(): void {
    if (this.hz === undefined || this.timer !== undefined || this.tokens >= this.limit || this.closed) return;
    const hz = this.hz;
    const now = this.clock.now();
    // Skip grid points already past while the bucket was full: they refilled nothing.
    const due = Math.floor((now - this.start) / hz) + 1;
    if (due > this.nextTick) this.nextTick = due;
    this.timer = this.clock.setTimeout(() => this.onTick(), this.start + this.nextTick * hz - now);
    if (this.waiters.size > 0) this.timer.ref();
  }

  private onTick(): void {
    this.timer = undefined;
    const hz = this.hz!;
    const now = this.clock.now();
    const reached = Math.floor((now - this.start) / hz);
    const ticks = Math.max(1, reached - this.nextTick + 1);
    this.nextTick += ticks;
    this.add(ticks * this.perRefill);
  }
}
