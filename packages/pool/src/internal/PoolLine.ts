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
 * The pool's waiting line for core's `Admission`: a {@link PriorityQueue} (higher priority first,
 * FIFO within a priority) whose tags are the drain cohorts the items were accepted in.
 *
 * A job that leaves from the middle (its caller aborted) stays in the queue, counted `dead`, and
 * is skipped when it reaches the head; once dead jobs are at least 64 and outnumber the live
 * ones the queue is compacted, so abort storms cannot grow it without bound. `size` (the queue's
 * field) counts the live items only: `removed` lowers it, and `take` raises it back for each
 * dead item it skips (see `PriorityQueue#size`).
 *
 * A subclass rather than a wrapper: `push`/`pushZero` are the queue's own, so a pool's queued
 * `add()` reaches the ring in two calls instead of three (issue 14's cold burst: fewer calls in
 * the interpreted phase, and fewer functions for V8 to compile before `add` is optimized).
 */
export class PoolLine extends PriorityQueue<QueueItem, Cohort> implements WaitLine<QueueItem> {
  /** With priority aging, `take` needs the time (Admission reads it once per start only then). */
  readonly timed: boolean;
  private readonly agingScore: ((head: QueueItem) => number) | undefined;
  private now = 0;
  /** Aborted jobs still in the queue. */
  private dead = 0;

  /**
   * `agingMs`: priority aging (every item is then a `Job` with its `enqueuedAt`): a job that has
   * waited `agingMs` starts before every job that has not, the oldest aged job first.
   */
  constructor(agingMs?: number) {
    super();
    this.timed = agingMs !== undefined;
    this.agingScore =
      agingMs === undefined
        ? undefined
        : (head) => {
            const waited = this.now - (head as Job).enqueuedAt;
            return waited >= agingMs ? waited : -1;
          };
  }

  /** Entries held, aborted ones not yet compacted away included (tests). */
  get held(): number {
    return this.size + this.dead;
  }

  /** The item `take` returns next is the head; its cohort is then `lastTag`. */
  take(now = 0): QueueItem | undefined {
    if (this.agingScore !== undefined) return this.takeAged(now, this.agingScore);
    while (this.size !== 0) {
      const item = this.shift()!;
      // typeof first: a bare task (the common case) skips the instanceof.
      if (typeof item !== 'function' && item instanceof Job && item.state !== QUEUED) {
        // Counted out of `size` when it was removed: undo the shift's count.
        this.size++;
        this.dead--;
        continue;
      }
      return item;
    }
    return undefined;
  }

  /** `take` with priority aging (every item is a `Job`). */
  private takeAged(now: number, score: (head: QueueItem) => number): QueueItem | undefined {
    this.now = now;
    while (this.size !== 0) {
      const item = this.shiftBest(score)!;
      if (item instanceof Job && item.state !== QUEUED) {
        this.size++;
        this.dead--;
        continue;
      }
      return item;
    }
    return undefined;
  }

  putBack(item: QueueItem): void {
    this.unshift(item, typeof item === 'function' ? 0 : item.priority);
  }

  /** A queued job left from the middle (its state is no longer QUEUED): skipped later. */
  removed(): void {
    this.size--;
    if (++this.dead >= COMPACT_AFTER && this.dead > this.size) {
      this.filter((item) => !(item instanceof Job) || item.state === QUEUED);
      this.dead = 0;
    }
  }

  /** Removes every live item, in order, with its cohort (for `clear()`-style shutdowns). */
  drain(each: (item: QueueItem, cohort: Cohort) => void): void {
    for (let item = this.take(); item !== undefined; item = this.take()) each(item, this.lastTag!);
    if (this.dead > 0) {
      this.filter(() => false);
      this.dead = 0;
    }
  }
}
