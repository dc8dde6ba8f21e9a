/**
 * safetyvalve's CoDel (`sv_codel.erl`, itself a translation of Nichols and Jacobson's ACM Queue
 * pseudocode), rule for rule:
 *
 * - It runs only at dequeue, when a job could start: there is no timer.
 * - `dodequeue` takes the head. A sojourn below `target` clears `firstAboveTime`; the first
 *   sojourn at or above target sets `firstAboveTime = now + interval`; once `now >= firstAboveTime`
 *   (the sojourn has stayed at or above target for a whole interval) the head is droppable.
 * - Entering the dropping state drops that head; `count` restarts at 1, or at `count - 2` when the
 *   last dropping state ended less than an interval ago and `count > 2` (the ACM restart rule);
 *   `dropNext = now + interval / sqrt(count)`.
 * - While dropping, every droppable head at `now >= dropNext` is dropped, `count++` and
 *   `dropNext += interval / sqrt(count)`; a head that is not droppable ends the dropping state.
 * - An empty queue clears `firstAboveTime` and ends the dropping state. The valves never dequeue
 *   an empty queue, so their lines call `emptied()` when the queue runs empty instead; `count`
 *   and `dropNext` stay for the restart rule.
 *
 * The restart rule is the ACM article's (and sv_codel's), not RFC 8289's later one (`count -
 * lastcount` when re-entering within 16 intervals): the memory lasts one interval past `dropNext`.
 *
 * Trade-off: CoDel was built for TCP, whose senders slow down when dropped. Callers of a valve
 * do not, so under open-loop overload it bounds the standing queue only loosely (see the README
 * for the simulation); `codel-timer` and `deadline` bound waiting by timer instead.
 */

import { rejectExtraArguments, validateNumber } from '@valve/core';

/** The queue CoDel drains: the valve's waiting jobs, oldest first. */
export interface CoDelSource<T> {
  /** Removes and returns the oldest live job, or `undefined` when the queue is empty. */
  shift(): T | undefined;
  /** When the job entered the queue, by the valve's clock. */
  enqueuedAt(item: T): number;
}

export interface CoDelState {
  readonly dropping: boolean;
  readonly dropNext: number;
  /** 0 while the sojourn is below target (safetyvalve's sentinel). */
  readonly firstAboveTime: number;
  readonly count: number;
}

/**
 * CoDel's two times, wherever they are given (this constructor, a FairLine's `codel`, the valves'
 * options): finite numbers > 0, the target at most the interval, as safetyvalve requires.
 * `prefix` says where they came from (`perKey.codel.`).
 */
export function checkCoDelTimes(targetMs: number, intervalMs: number, prefix = ''): void {
  validateNumber(intervalMs, `${prefix}intervalMs`, { above: 0 });
  validateNumber(targetMs, `${prefix}targetMs`, { above: 0 });
  if (targetMs > intervalMs) {
    throw new RangeError(
      `${prefix}targetMs must be <= ${prefix}intervalMs (safetyvalve refuses a target above the interval), got targetMs ${targetMs} and intervalMs ${intervalMs}`,
    );
  }
}

export class CoDel {
  /** All four fields are written only by `dequeue` (and `doDequeue`), at dequeue time. */
  private dropping = false;
  private dropNext = 0;
  private firstAboveTime = 0;
  private count = 0;

  /**
   * @param targetMs the acceptable sojourn, ms: finite, > 0 and <= `intervalMs`.
   * @param intervalMs how long the sojourn must stay >= `targetMs` before drops start, ms: finite, > 0.
   */
  constructor(
    readonly targetMs: number,
    readonly intervalMs: number,
  ) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 2, 'new CoDel()');
    checkCoDelTimes(targetMs, intervalMs);
  }

  get state(): CoDelState {
    return {
      dropping: this.dropping,
      dropNext: this.dropNext,
      firstAboveTime: this.firstAboveTime,
      count: this.count,
    };
  }

  /**
   * The job to start now, or `undefined` when the queue ran empty; every job CoDel drops on the
   * way is passed to `drop` (it must reject it with reason `overload`).
   */
  dequeue<T>(now: number, source: CoDelSource<T>, drop: (item: T) => void): T | undefined {
    let item = source.shift();
    let droppable = this.doDequeue(now, source, item);
    if (this.dropping) {
      if (!droppable) {
        this.dropping = false;
        return item;
      }
      // Dropping, and the head is droppable: drop while now >= dropNext.
      while (this.dropping && now >= this.dropNext) {
        drop(item as T);
        item = source.shift();
        droppable = this.doDequeue(now, source, item);
        if (!droppable) {
          this.dropping = false;
        } else {
          this.count++;
          this.dropNext = this.controlLaw(this.dropNext);
        }
      }
      return item;
    }
    if (!droppable) return item;
    // Enter the dropping state: drop this head, then dequeue again (sv_queue does the same).
    drop(item as T);
    this.dropping = true;
    if (now - this.dropNext < this.intervalMs && this.count > 2) {
      this.count -= 2;
    } else {
      this.count = 1;
    }
    this.dropNext = this.controlLaw(now);
    return this.dequeue(now, source, drop);
  }

  /**
   * The queue ran empty outside `dequeue` (its owner never dequeues an empty queue): what
   * `dequeue` of an empty queue does. `firstAboveTime` clears and the dropping state ends; `count`
   * and `dropNext` stay, for the restart rule when the queue stands again soon.
   */
  emptied(): void {
    this.firstAboveTime = 0;
    this.dropping = false;
  }

  /**
   * The state holds something a new CoDel's would not (outside `dequeue`, after `emptied`: only a
   * `count` above 2, which the restart rule resumes from). A state that does not acts as a new one.
   */
  get remembers(): boolean {
    return this.dropping || this.firstAboveTime !== 0 || this.count > 2;
  }

  private doDequeue<T>(now: number, source: CoDelSource<T>, item: T | undefined): boolean {
    if (item === undefined) {
      this.firstAboveTime = 0;
      return false;
    }
    const sojourn = now - source.enqueuedAt(item);
    if (sojourn < this.targetMs) {
      this.firstAboveTime = 0;
      return false;
    }
    if (this.firstAboveTime === 0) {
      this.firstAboveTime = now + this.intervalMs;
      return false;
    }
    return now >= this.firstAboveTime;
  }

  private controlLaw(t: number): number {
    return t + this.intervalMs / Math.sqrt(this.count);
  }
}
