import type { Clock, Reason, Timer } from '@valve/core';
import type { QueuedJob, SafetyLine } from './SafetyLine.js';

/** What the timers do to a job whose wait ran out, and after it left the line. */
export interface WaitTimersHost {
  /** Rejects a job that already left the line. */
  refuse(job: QueuedJob, reason: Reason): void;
  /** Tells the admission (and these timers) that waiters left the line from the middle. */
  afterRemoval(): void;
}

/**
 * How long a job may wait in the line. This is discipline, not admission (core's `Admission` owns
 * only the refill timer): both timers are ref'd while they run, because accepted work waits on them.
 *
 * - Deadlines (`deadlineMs`, a call's own or the valve's): one timer per waiting job, cleared when
 *   the job leaves the line; when it fires the job leaves and is rejected with `deadline`.
 * - `codel-timer` (Facebook's "Fail at Scale" controlled delay): while the line has been non-empty
 *   for less than `intervalMs` a job may wait `intervalMs`, afterwards `targetMs`. Every wait limit
 *   is then `enqueuedAt + limit`, monotone in line order, so one timer on the oldest waiter
 *   suffices; it drops the expired heads with `overload`. `update()` re-aims it after the line
 *   changed at its front.
 */
export class WaitTimers {
  private expiryTimer: Timer | undefined = undefined;
  private expiryDue = 0;

  constructor(
    private readonly clock: Clock,
    private readonly line: SafetyLine,
    /** `codel-timer`'s target and interval, or `undefined` for the other disciplines. */
    private readonly codelTimer: { targetMs: number; intervalMs: number } | undefined,
    private readonly host: WaitTimersHost,
  ) {}

  /** True when `update()` has work to do (the valve skips the call otherwise). */
  get expires(): boolean {
    return this.codelTimer !== undefined;
  }

  /** Arms `job`'s deadline, `ms` from now. */
  startDeadline(job: QueuedJob, ms: number): void {
    job.timer = this.clock.setTimeout(() => this.expire(job), ms).ref();
  }

  /** The job left the line: its deadline no longer applies. */
  stopDeadline(job: QueuedJob): void {
    if (job.timer !== undefined) {
      job.timer.clear();
      job.timer = undefined;
    }
  }

  /** Arms or clears codel-timer's expiry after the line changed; nothing for other disciplines. */
  update(): void {
    const codelTimer = this.codelTimer;
    if (codelTimer === undefined) return;
    if (this.line.size === 0) {
      this.clear();
      return;
    }
    const now = this.clock.now();
    const standingAt = this.line.nonEmptySince + codelTimer.intervalMs;
    let due: number;
    if (now < standingAt) {
      due = standingAt;
    } else {
      const oldest = this.line.peek();
      if (oldest === undefined) return;
      due = oldest.enqueuedAt + codelTimer.targetMs;
    }
    if (this.expiryTimer !== undefined) {
      if (this.expiryDue === due) return;
      this.expiryTimer.clear();
    }
    this.expiryDue = due;
    this.expiryTimer = this.clock.setTimeout(() => this.onExpiry(), Math.max(0, due - now)).ref();
  }

  /** Clears codel-timer's expiry (the line emptied, or the valve closed). */
  clear(): void {
    this.expiryTimer?.clear();
    this.expiryTimer = undefined;
  }

  private expire(job: QueuedJob): void {
    job.timer = undefined;
    if (!this.line.remove(job)) return;
    this.host.refuse(job, 'deadline');
    this.host.afterRemoval();
  }

  private onExpiry(): void {
    this.expiryTimer = undefined;
    const codelTimer = this.codelTimer!;
    const now = this.clock.now();
    if (now >= this.line.nonEmptySince + codelTimer.intervalMs) {
      for (let job = this.line.peek(); job !== undefined; job = this.line.peek()) {
        if (now - job.enqueuedAt < codelTimer.targetMs) break;
        this.line.shift();
        this.host.refuse(job, 'overload');
      }
    }
    this.host.afterRemoval();
  }
}
