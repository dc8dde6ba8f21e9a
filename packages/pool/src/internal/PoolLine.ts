import type { WaitLine } from '@valve/core';
import { PriorityQueue } from '../PriorityQueue.js';
import type { Task } from '../options.js';
import type { Cohort } from './Cohort.js';
import { Job, QUEUED, type QueuedRun } from './Job.js';

/**
 * What waits in the pool: a bare `add()`ed task (its caller had no AsyncLocalStorage store), a
 * plain task with its caller's context (`add()` or `run()`), or a job.
 */
export type QueueItem = Task | QueuedRun | Job;

/** Aborted jobs tolerated in the queue before it is compacted. */
const COMPACT_AFTER = 64;

/**
 * The pool's waiting line for core's `Admission`: higher priority first, FIFO within a priority
 * (the {@link PriorityQueue}), each item tagged with the drain cohort it was accepted in.
 *
 * A job that leaves from the middle (its caller aborted) stays in the queue, counted `dead`, and
 * is skipped when it reaches the head; once dead jobs are at least 64 and outnumber the live
 * ones the queue is compacted, so abort storms cannot grow it without bound.
 */
export class PoolLine implements WaitLine<QueueItem> {
  private readonly queue = new PriorityQueue<QueueItem, Cohort>();
  /** With priority aging, `take` needs the time (Admission reads it once per start only then). */
  readonly timed: boolean;
  private readonly agingScore: ((head: QueueItem) => number) | undefined;
  private now = 0;

  /**
   * `agingMs`: priority aging (every item is then a `Job` with its `enqueuedAt`): a job that has
   * waited `agingMs` starts before every job that has not, the oldest aged job first.
   */
  constructor(agingMs?: number) {
    this.timed = agingMs !== undefined;
    this.agingScore =
      agingMs === undefined
        ? undefined
        : (head) => {
            const waited = this.now - (head as Job).enqueuedAt;
            return waited >= agingMs ? waited : -1;
          };
  }
  /**
   * Live items waiting. A field, not a getter over a private count: the pool and Admission read
   * it several times per task, and before V8 optimizes a fresh process's queued path (a cold
   * burst) every getter is a call.
   */
  size = 0;
  /** Aborted jobs still in the queue. */
  private dead = 0;

  /** The cohort of the item `take` returned last (a field: read once per started task). */
  lastCohort: Cohort | undefined = undefined;

  /** Entries held, aborted ones not yet compacted away included (tests). */
  get held(): number {
    return this.queue.size;
  }

  /** Number of priority levels allocated (tests). */
  get levelCount(): number {
    return this.queue.levelCount;
  }

  pushZero(item: QueueItem, cohort: Cohort): void {
    this.queue.pushZero(item, cohort);
    this.size++;
  }

  push(item: QueueItem, priority: number, cohort: Cohort): void {
    this.queue.push(item, priority, cohort);
    this.size++;
  }

  take(now = 0): QueueItem | undefined {
    if (this.agingScore !== undefined) return this.takeAged(now, this.agingScore);
    const q = this.queue;
    while (this.size !== 0) {
      const item = q.shift()!;
      // typeof first: a bare task (the common case) skips the instanceof.
      if (typeof item !== 'function' && item instanceof Job && item.state !== QUEUED) {
        this.dead--;
        continue;
      }
      this.size--;
      this.lastCohort = q.lastTag;
      return item;
    }
    return undefined;
  }

  /** `take` with priority aging (every item is a `Job`). */
  private takeAged(now: number, score: (head: QueueItem) => number): QueueItem | undefined {
    const q = this.queue;
    this.now = now;
    while (this.size !== 0) {
      const item = q.shiftBest(score)!;
      if (item instanceof Job && item.state !== QUEUED) {
        this.dead--;
        continue;
      }
      this.size--;
      this.lastCohort = q.lastTag;
      return item;
    }
    return undefined;
  }

  putBack(item: QueueItem): void {
    this.queue.unshift(item, typeof item === 'function' ? 0 : item.priority);
    this.size++;
  }

  /** A queued job left from the middle (its state is no longer QUEUED): skipped later. */
  removed(): void {
    this.size--;
    if (++this.dead >= COMPACT_AFTER && this.dead > this.size) {
      this.queue.filter((item) => !(item instanceof Job) || item.state === QUEUED);
      this.dead = 0;
    }
  }

  /** Removes every live item, in order, with its cohort (for `clear()`-style shutdowns). */
  drain(each: (item: QueueItem, cohort: Cohort) => void): void {
    for (let item = this.take(); item !== undefined; item = this.take()) each(item, this.lastCohort!);
    if (this.dead > 0) {
      this.queue.filter(() => false);
      this.dead = 0;
    }
  }
}
