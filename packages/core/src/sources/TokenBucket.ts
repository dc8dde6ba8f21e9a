import type { Clock, Timer } from '../clock/Clock.js';
import { ClosedError } from '../errors/ValveError.js';
import { Emitter } from '../events/Emitter.js';
import { rejectUnknownOptions, validateClock, validateInteger, validateNumber, validateObject } from '../validate.js';
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
  readonly rate: number;
  readonly hz: number | undefined;
  readonly tokenLimit: number;
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
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['rate', 'hz', 'tokenLimit', 'clock']);
    this.tokenLimit = validateInteger(options?.tokenLimit, 'tokenLimit', { min: 1 });
    this.hz = options.hz === undefined ? undefined : validateNumber(options.hz, 'hz', { above: 0 });
    if (this.hz !== undefined && options.rate === undefined) {
      throw new TypeError(`rate is required when hz is set (hz = ${this.hz})`);
    }
    this.rate = validateInteger(options.rate ?? this.tokenLimit, 'rate', { min: 1 });
    this.clock = validateClock(options.clock);
    this.tokens = this.tokenLimit;
    this.start = this.clock.now();
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

  acquire(signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the token bucket is closed'));
    if (this.waiters.size === 0 && this.tryAcquire()) return Promise.resolve();
    const waiting = this.waiters.wait(signal);
    // Someone now waits for the refill: it must keep the process alive (the timer was armed
    // unref'd while nobody waited).
    this.timer?.ref();
    return waiting;
  }

  nextTokenInMs(): number {
    if (this.tokens >= 1) return 0;
    if (this.hz === undefined) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.start + this.nextTick * this.hz - this.clock.now());
  }

  /** Adds `n` tokens now (default `rate`), capped at `tokenLimit`. */
  replenish(n: number = this.rate): void {
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
    this.tokens = Math.min(this.tokenLimit, this.tokens + n);
    while (this.tokens >= 1 && this.waiters.size > 0) {
      this.tokens--;
      this.waiters.resolveNext();
    }
    this.schedule();
    if (this.tokens >= 1) this.available$.emit();
  }

  private schedule(): void {
    if (this.hz === undefined || this.timer !== undefined || this.tokens >= this.tokenLimit || this.closed) return;
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
    this.add(ticks * this.rate);
  }
}
