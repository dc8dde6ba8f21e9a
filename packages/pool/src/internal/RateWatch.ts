import { type Disposable, disposable, Emitter, type Event, type RateSource } from '@valve/core';
import type { RateLimitEvent, SettledEvent } from '../options.js';

/** What the watch reads of its pool. */
export interface RateWatched {
  readonly size: number;
  readonly active: number;
  readonly limit: number;
  readonly isPaused: boolean;
}

/**
 * `onRateLimit`: fires when tasks start waiting for a token (a slot is free, the pool is not
 * paused, but the rate source has none), once per such spell; `onRateLimitCleared` when it ends.
 * Nothing is checked while nobody listens. While somebody does, the pool checks when a task is
 * queued and when tasks leave the queue, and (through an internal `onSettled` listener, so the
 * plain path's settle stays untouched otherwise) a microtask after each task settles.
 */
export class RateWatch {
  private readonly limited$ = new Emitter<RateLimitEvent>();
  private readonly cleared$ = new Emitter<void>();
  private settledSub: Disposable | undefined = undefined;
  private scheduled = false;
  limited = false;

  constructor(
    private readonly pool: RateWatched,
    private readonly rate: RateSource | undefined,
    private readonly settled: Event<SettledEvent>,
  ) {}

  /** Somebody listens (the pool's checks cost one field read otherwise). */
  on = false;

  readonly onRateLimit: Event<RateLimitEvent> = (listener) => this.listen(this.limited$.event(listener));
  readonly onRateLimitCleared: Event<void> = (listener) => this.listen(this.cleared$.event(listener));

  /** True while tasks wait for a token with a slot free. */
  isLimited(): boolean {
    const p = this.pool;
    const rate = this.rate;
    return rate !== undefined && p.size > 0 && !p.isPaused && p.active < p.limit && rate.available < 1;
  }

  check(): void {
    const now = this.isLimited();
    if (now === this.limited) return;
    this.limited = now;
    if (now) this.limited$.emit({ queued: this.pool.size, nextTokenInMs: this.rate!.nextTokenInMs() });
    else this.cleared$.emit(undefined);
  }

  private listen(sub: Disposable): Disposable {
    if (this.rate !== undefined && this.settledSub === undefined) {
      this.settledSub = this.settled(() => this.later());
    }
    this.on = this.rate !== undefined;
    return disposable(() => {
      sub.dispose();
      if (this.limited$.hasListeners || this.cleared$.hasListeners) return;
      this.on = false;
      this.settledSub?.dispose();
      this.settledSub = undefined;
    });
  }

  private later(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.check();
    });
  }
}
