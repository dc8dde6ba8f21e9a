import {
  ClosedError,
  Emitter,
  emptyRejectedByReason,
  histogramSnapshot,
  type MetricsRegistry,
  QueueFullError,
  rethrowLater,
} from '@valve/core';
import type { PoolStats, SettledEvent, TaskErrorInfo } from '../options.js';
import type { Cohort } from './Cohort.js';
import type { DrainCycle } from './DrainCycle.js';
import { type MeteredPool, PoolMeters } from './PoolMeters.js';

/**
 * What a pool counts and reports: the totals behind `stats()`, the metric series, `onSettled`
 * and `onError`. Each settled task is counted once, here: `ran` for a task that started,
 * `refusedQueued` for one that left the queue without starting.
 */
export class PoolLedger {
  completed = 0;
  failed = 0;
  retried = 0;
  timedOut = 0;
  /** Refused before they started: aborted while queued, offered to a closed pool. */
  abortedQueued = 0;
  refusedClosed = 0;
  /** Refused by `maxQueued` (`queue_full`). */
  queueFull = 0;
  /** Removed from the queue by `clear()` (counted with `shutdown`). */
  cleared = 0;
  /** An async source failed to grant them: they never started (counted with `overload`). */
  sourceFailed = 0;
  /** Jobs settled by timeout or abort whose task has not settled yet (see `Job.abandoned`). */
  abandoned = 0;
  /** Only with a registry: without one the hot path touches no metric at all. */
  readonly m: PoolMeters | undefined;
  readonly settled$ = new Emitter<SettledEvent>();

  constructor(
    registry: MetricsRegistry | undefined,
    name: string,
    pool: MeteredPool,
    private readonly cycle: DrainCycle,
    private readonly onError: ((error: unknown, info: TaskErrorInfo) => void) | undefined,
  ) {
    this.m = registry === undefined ? undefined : new PoolMeters(registry, name, pool);
  }

  /** Counts one settled task that ran, in the totals, the cycle, the drain and the events. */
  ran(cohort: Cohort, ok: boolean, error: unknown): void {
    if (ok) {
      this.completed++;
      if (this.m !== undefined) this.m.completed.inc();
    } else {
      this.failed++;
      if (this.m !== undefined) this.m.failed.inc();
    }
    this.cycle.settled(cohort, ok, error);
    if (this.settled$.hasListeners) {
      this.settled$.emit(ok ? { status: 'fulfilled' } : { status: 'rejected', error });
    }
  }

  /**
   * A queued task left before it started (its caller aborted, `clear()`, or an async source
   * failed to grant it): rejected, and settled for its drain.
   */
  refusedQueued(cohort: Cohort, reason: unknown, why: 'aborted' | 'cleared' | 'source' = 'aborted'): void {
    if (why === 'aborted') this.abortedQueued++;
    else if (why === 'cleared') this.cleared++;
    else this.sourceFailed++;
    this.cycle.settled(cohort, false, reason);
    if (this.settled$.hasListeners) this.settled$.emit({ status: 'rejected', error: reason });
  }

  /** Counts `count` tasks refused because `done()` was called and makes the error. */
  closedError(name: string, count: number): ClosedError {
    this.refusedClosed += count;
    return new ClosedError(`the pool "${name}" is closed: done() was called`);
  }

  /** Counts `count` tasks refused by `maxQueued` and makes the error. */
  queueFullError(name: string, maxQueued: number, count: number, what: string): QueueFullError {
    this.queueFull += count;
    return new QueueFullError(
      `${what}: the pool "${name}" has maxQueued (${maxQueued}) tasks waiting; refused ${count}`,
    );
  }

  /** `add()` found the queue full at task `i` of `n` (the tasks before it were accepted). */
  addRefused(name: string, maxQueued: number, i: number, n: number): QueueFullError {
    return this.queueFullError(name, maxQueued, n - i, `add(): accepted ${i} of ${n} task(s)`);
  }

  retry(): void {
    this.retried++;
    this.m?.retried.inc();
  }

  timeout(): void {
    this.timedOut++;
    this.m?.timedOut.inc();
  }

  /** An `add()`ed task failed: its error goes to `onError` (a throw there is re-thrown later). */
  reportError(error: unknown, priority: number, attempts: number): void {
    const onError = this.onError;
    if (onError === undefined) return;
    try {
      onError(error, { priority, attempts });
    } catch (thrown) {
      rethrowLater(thrown);
    }
  }

  /**
   * The Valve contract's words (CONTRIBUTING.md) and the pool's own. `failed` counts tasks that
   * started and failed (threw, rejected, timed out); tasks refused before they started (their
   * caller aborted while they waited, the pool was closed, or an async source failed to grant
   * them) are `rejected`, by reason.
   */
  stats(name: string, queued: number, running: number, limit: number, paused: boolean, closed: boolean): PoolStats {
    const rejectedByReason = emptyRejectedByReason();
    rejectedByReason.aborted = this.abortedQueued;
    rejectedByReason.shutdown = this.refusedClosed + this.cleared;
    rejectedByReason.queue_full = this.queueFull;
    rejectedByReason.overload = this.sourceFailed;
    const s: PoolStats = {
      name,
      queued,
      running,
      admitted: running + this.completed + this.failed,
      completed: this.completed,
      failed: this.failed,
      rejected: this.abortedQueued + this.refusedClosed + this.cleared + this.queueFull + this.sourceFailed,
      rejectedByReason,
      active: running,
      limit,
      retried: this.retried,
      timedOut: this.timedOut,
      abandoned: this.abandoned,
      paused,
      closed,
    };
    if (this.m !== undefined) {
      s.waitMs = histogramSnapshot(this.m.wait);
      s.runMs = histogramSnapshot(this.m.run);
    }
    return s;
  }
}
