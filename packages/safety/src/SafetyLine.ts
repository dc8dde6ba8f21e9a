import { LazyQueue, type WaitLine } from '@valve/core';
import type { CoDel, CoDelSource } from './CoDel.js';
import type { Waiter } from './Waiter.js';

/** A job waiting in a SafetyValve's line: a `run()` or an `ask()` that could not start at once. */
export type QueuedJob = Waiter;

/**
 * The waiting line of a SafetyValve and its discipline: the `WaitLine` core's `Admission` serves
 * (the gates, the pump and the refill timer are the admission's; the order is the line's).
 *
 * - FIFO over core's `LazyQueue` (O(1) removal from the middle on an abort or a deadline).
 * - `codel`: CoDel decides at each take and may drop heads on the way (rejected `overload` by
 *   `drop` before `take` returns, as the WaitLine contract asks). A line left empty tells CoDel
 *   (`emptied`), as a dequeue of the empty queue would: its dropping state ends.
 * - Adaptive LIFO: the newest waiter while the line is standing (non-empty for `intervalMs`),
 *   the oldest otherwise; the head CoDel chose goes back to the front.
 *
 * `timed` is true only when a take needs the time (CoDel, adaptive LIFO) or a sojourn histogram
 * records it, so the common FIFO hand-over reads no clock. Invariant: `nonEmptySince` is the time
 * the line last went from empty to non-empty (meaningful while it is non-empty).
 */
export class SafetyLine implements WaitLine<QueuedJob> {
  private readonly queue = new LazyQueue<QueuedJob>();
  readonly timed: boolean;
  nonEmptySince = 0;
  /** Takes straight from the front: no CoDel, no LIFO. */
  private readonly plain: boolean;
  private readonly codelSource: CoDelSource<QueuedJob> = {
    shift: () => this.queue.shift(),
    enqueuedAt: (job) => job.enqueuedAt,
  };

  constructor(
    private readonly codel: CoDel | undefined,
    /** Adaptive LIFO's standing time (`intervalMs`), or `undefined` without LIFO. */
    private readonly lifoAfterMs: number | undefined,
    /** The start time is recorded (the sojourn histogram). */
    recordsSojourn: boolean,
    /** Rejects a job CoDel dropped (reason `overload`). */
    private readonly drop: (job: QueuedJob) => void,
  ) {
    this.plain = codel === undefined && lifoAfterMs === undefined;
    this.timed = !this.plain || recordsSojourn;
  }

  get size(): number {
    return this.queue.size;
  }

  /** Entries held, dead ones included (for the no-unbounded-growth tests). */
  get capacityUsed(): number {
    return this.queue.capacityUsed;
  }

  push(job: QueuedJob, now: number): void {
    if (this.queue.size === 0) this.nonEmptySince = now;
    this.queue.push(job);
  }

  take(now: number): QueuedJob | undefined {
    if (this.plain) return this.queue.shift();
    const codel = this.codel;
    let job = codel === undefined ? this.queue.shift() : codel.dequeue(now, this.codelSource, this.drop);
    // The admission never takes from an empty line: CoDel learns here that the queue ran empty.
    if (codel !== undefined && this.queue.size === 0) codel.emptied();
    const lifoAfterMs = this.lifoAfterMs;
    if (
      job !== undefined &&
      lifoAfterMs !== undefined &&
      this.queue.size > 0 &&
      now - this.nonEmptySince >= lifoAfterMs
    ) {
      this.queue.unshift(job);
      job = this.queue.pop();
    }
    return job;
  }

  putBack(job: QueuedJob): void {
    this.queue.unshift(job);
  }

  /** The oldest waiter, without taking it (codel-timer's expiry looks at it). */
  peek(): QueuedJob | undefined {
    return this.queue.peek();
  }

  /** Takes the oldest waiter whatever the discipline (drops take the oldest first). */
  shift(): QueuedJob | undefined {
    return this.queue.shift();
  }

  /** Removes a waiter from wherever it is (an abort, a deadline); false if it had already left. */
  remove(job: QueuedJob): boolean {
    if (!this.queue.remove(job)) return false;
    if (this.queue.size === 0) this.codel?.emptied();
    return true;
  }

  /** Removes and returns every waiter, oldest first. */
  drain(): QueuedJob[] {
    return this.queue.drain();
  }
}
