/**
 * DEMO_RETAIN_ROWS (issue 18 item 8): keeps at most N newest rows in each of the two tables that
 * only grow (events, audit log), so an in-memory PGlite under a steady load stops growing. Every
 * `intervalMs` on the clock it runs the database's `prune(keepRows)` (a DELETE of the rows below
 * the newest N ids, then VACUUM so their space is reused), one run at a time: the next run is
 * scheduled only after this one settled, so a slow database never stacks prunes.
 *
 * The trade-off: rows older than the newest N are deleted, so `/events/stats` `stored` and the
 * durable route's "stored" are bounded too. Off by default (every row is kept).
 */
import type { Clock, Timer } from '@valve/core';
import type { PrunedRows } from './Database.js';

export interface RetentionOptions {
  db: { prune(keepRows: number): Promise<PrunedRows> };
  /** Rows kept per table, >= 1. */
  keepRows: number;
  /** Time between the end of one prune and the start of the next, in ms, >= 1. */
  intervalMs: number;
  clock: Clock;
  /** After each prune (metrics). */
  onPruned?: (deleted: PrunedRows) => void;
  /** A prune that failed (the database was down): reported, and the next one is tried as usual. */
  onError?: (error: unknown) => void;
}

export class Retention {
  /** The pending timer; undefined while a prune runs and after stop(). */
  private timer: Timer | undefined;
  /** The prune under way, awaited by stop(). */
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: RetentionOptions) {
    if (!Number.isSafeInteger(options.keepRows) || options.keepRows < 1) {
      throw new RangeError(`keepRows must be an integer >= 1, got ${options.keepRows}`);
    }
    if (!Number.isSafeInteger(options.intervalMs) || options.intervalMs < 1) {
      throw new RangeError(`intervalMs must be an integer >= 1, got ${options.intervalMs}`);
    }
  }

  start(): void {
    if (this.stopped || this.timer !== undefined || this.running !== undefined) return;
    // Unref'd (the clock's default): retention never keeps the process alive.
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.start();
      });
    }, this.options.intervalMs);
  }

  /** One prune now (tests, and the timer). Never rejects: failures go to `onError`. */
  async runOnce(): Promise<void> {
    try {
      // Not `onPruned?.(await prune())`: without a listener, optional chaining skips the argument.
      const deleted = await this.options.db.prune(this.options.keepRows);
      this.options.onPruned?.(deleted);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** Cancels the next prune and waits for one under way. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.clear();
    this.timer = undefined;
    await this.running;
  }
}
