import { type Clock, KeepAlive, type Timer } from '@valve/core';
import type { PoolSummary } from '../options.js';
import { PoolTimeoutError } from '../PoolTimeoutError.js';
import { Cohort, type CohortOwner } from './Cohort.js';

/** What a drain cycle reads of its pool. */
export interface CycleHost extends CohortOwner {
  readonly name: string;
  /** Tasks waiting. */
  readonly size: number;
  /** Tasks holding a slot. */
  readonly active: number;
  readonly isPaused: boolean;
}

interface DrainWaiter {
  resolve: (summary: PoolSummary) => void;
  reject: (error: unknown) => void;
}

/**
 * The seed's smart `drain()`: the tasks accepted between two `drain()` calls form a cohort; a
 * drain waits for every task accepted before it (it closes the current cohort and opens a new
 * one), only the latest caller waits (an earlier one resolves with the cycle so far), and the
 * cycle's summary counts what settled since the last one ended. `runtimeLimitMs` bounds a cycle,
 * `idleTimeoutMs` fails a drain whose running tasks stopped settling.
 *
 * Invariant: `open + waitingFor` counts accepted, unsettled tasks (those of the open cohort, and
 * those the waiting drain waits for). Written by the pool's settle paths through `settled()`.
 */
export class DrainCycle {
  /** The cohort new tasks join. */
  cohort: Cohort;
  /** Unsettled tasks of the open cohort. */
  open = 0;
  /** Unsettled tasks a drain waits for (of closed cohorts). */
  waitingFor = 0;
  start: number | undefined = undefined;
  completed = 0;
  failed = 0;
  errors: unknown[] = [];
  /** True while a drain waits and `idleTimeoutMs` is set: settles then record the time. */
  trackProgress = false;
  lastProgressAt = 0;
  private waiter: DrainWaiter | undefined = undefined;
  private runtimeTimer: Timer | undefined = undefined;
  private idleTimer: Timer | undefined = undefined;
  /**
   * Ref'd while a drain waits on queued work that nothing else will start (a paused pool): no
   * task runs and no timer is due, so without it the process could exit with work accepted.
   */
  private readonly keepAlive: KeepAlive;

  constructor(
    private readonly host: CycleHost,
    private readonly clock: Clock,
    private readonly runtimeLimitMs: number | undefined,
    private readonly idleTimeoutMs: number | undefined,
    private readonly maxErrors: number,
  ) {
    this.keepAlive = new KeepAlive(clock);
    this.cohort = new Cohort(host);
  }

  get waiting(): boolean {
    return this.waiter !== undefined;
  }

  /** A task was accepted. */
  accepted(): void {
    if (this.start === undefined) this.start = this.clock.now();
    this.open++;
  }

  /** Counts one settled task of `cohort` in the cycle (and ends a drain it completes). */
  settled(cohort: Cohort, ok: boolean, error: unknown): void {
    if (ok) this.completed++;
    else {
      this.failed++;
      if (this.errors.length < this.maxErrors) this.errors.push(error);
    }
    if (this.trackProgress) this.lastProgressAt = this.clock.now();
    if (!cohort.closed) this.open--;
    else if (--this.waitingFor === 0) this.waitedFor();
  }

  /**
   * `waitingFor` reached 0: ends the drain that waits, if any. The pool's plain hot path
   * (`PromisePool#settleOk`) writes out `settled(cohort, true)` without progress tracking and
   * calls this; its queued `add()` writes out `accepted()` once the cycle has begun (`start` is
   * set). A call less per task each, in a fresh process's interpreted hot path (issue 14's cold
   * burst).
   */
  waitedFor(): void {
    if (this.waiter !== undefined) this.finish();
  }

  /** A task started while none ran and a drain waits: stuck detection starts now. */
  busy(): void {
    this.lastProgressAt = this.clock.now();
    if (this.idleTimer === undefined && this.idleTimeoutMs !== undefined) this.armIdle(this.idleTimeoutMs);
  }

  /** Starts waiting for every task accepted so far. */
  wait(): Promise<PoolSummary> {
    if (this.open > 0) {
      this.cohort.closed = true;
      this.waitingFor += this.open;
      this.open = 0;
      this.cohort = new Cohort(this.host);
    }
    const previous = this.waiter;
    if (previous !== undefined) {
      // The seed's smart drain: the earlier caller stops waiting, with the cycle so far.
      this.waiter = undefined;
      previous.resolve(this.summary());
    }
    if (this.waitingFor === 0) {
      this.clearTimers();
      return Promise.resolve(this.end());
    }
    const now = this.clock.now();
    if (this.runtimeLimitMs !== undefined && this.start !== undefined) {
      const left = this.start + this.runtimeLimitMs - now;
      if (left <= 0) {
        this.clearTimers();
        return Promise.reject(this.runtimeError());
      }
      if (this.runtimeTimer === undefined) {
        this.runtimeTimer = this.clock.setTimeout(() => {
          this.runtimeTimer = undefined;
          const w = this.waiter;
          if (w === undefined) return;
          this.waiter = undefined;
          this.clearTimers();
          w.reject(this.runtimeError());
        }, left);
        this.runtimeTimer.ref();
      }
    }
    if (this.idleTimeoutMs !== undefined && !this.trackProgress) {
      this.trackProgress = true;
      this.lastProgressAt = now;
      if (this.host.active > 0) this.armIdle(this.idleTimeoutMs);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.syncKeepAlive();
    });
  }

  /** Holds or drops the keep-alive (see `keepAlive`). */
  syncKeepAlive(): void {
    this.keepAlive.hold(this.waiter !== undefined && this.host.size > 0 && this.host.isPaused);
  }

  get keepingAlive(): boolean {
    return this.keepAlive.held;
  }

  private runtimeError(): PoolTimeoutError {
    const summary = this.end();
    const { queued, active } = summary.unfinished;
    return new PoolTimeoutError(
      `pool "${this.host.name}" did not drain within runtimeLimitMs (${this.runtimeLimitMs} ms): ` +
        `${active} running, ${queued} waiting, ${summary.completed} completed, ${summary.failed} failed`,
      'deadline',
      summary,
    );
  }

  private armIdle(ms: number): void {
    this.idleTimer = this.clock.setTimeout(() => this.onIdleTimer(), ms).ref();
  }

  private onIdleTimer(): void {
    this.idleTimer = undefined;
    const w = this.waiter;
    if (w === undefined || this.host.active === 0) return;
    const idle = this.idleTimeoutMs!;
    const quiet = this.clock.now() - this.lastProgressAt;
    if (quiet < idle) {
      this.armIdle(idle - quiet);
      return;
    }
    this.waiter = undefined;
    this.clearTimers();
    const summary = this.end();
    w.reject(
      new PoolTimeoutError(
        `pool "${this.host.name}": ${summary.unfinished.active} task(s) running and none settled for ` +
          `idleTimeoutMs (${idle} ms); ${summary.unfinished.queued} waiting`,
        'timeout',
        summary,
      ),
    );
  }

  private finish(): void {
    const w = this.waiter!;
    this.waiter = undefined;
    this.clearTimers();
    w.resolve(this.end());
  }

  private clearTimers(): void {
    this.keepAlive.hold(false);
    this.runtimeTimer?.clear();
    this.runtimeTimer = undefined;
    this.idleTimer?.clear();
    this.idleTimer = undefined;
    this.trackProgress = false;
  }

  summary(): PoolSummary {
    return {
      completed: this.completed,
      failed: this.failed,
      errors: this.errors.slice(),
      unfinished: { queued: this.host.size, active: this.host.active },
      durationMs: this.start === undefined ? 0 : this.clock.now() - this.start,
    };
  }

  /** The summary of the cycle that ends now; the next starts with the next task (or now, if some are unfinished). */
  private end(): PoolSummary {
    const s = this.summary();
    this.completed = 0;
    this.failed = 0;
    this.errors = [];
    this.start = this.host.size === 0 && this.host.active === 0 ? undefined : this.clock.now();
    return s;
  }
}
