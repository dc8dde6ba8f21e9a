import { rejectExtraArguments, validateInteger, type WaitLine } from '@valve/core';
import { type FairCoDelOptions, type FairEntry, FairLine } from './FairLine.js';

/** A waiter of a {@link PriorityClasses} line: its class, 0 (lowest) to `classes - 1` (highest). */
export interface PriorityEntry extends FairEntry {
  readonly priority: number;
}

/**
 * Priority classes with a shedding order, as a `WaitLine`: one {@link FairLine} per class (so
 * keys are served fairly inside a class), served strictly from the highest class with a waiter.
 * Under overload the lowest class is what gives way: it is served last, and when the valve's
 * queue is full a newcomer of a higher class evicts a waiter of the lowest class below it
 * (`evictBelow`), which the valve refuses with reason `evicted`. A class may also have a shorter
 * deadline (the valve's `classes` option), so it is refused sooner while it waits.
 *
 * Strict priority starves the lower classes while the higher ones fill the capacity; that is the
 * point (they absorb the shedding), and their deadlines bound how long they wait for nothing.
 */
export class PriorityClasses<W extends PriorityEntry> implements WaitLine<W> {
  /** The line of each class, index = priority. */
  readonly lines: readonly FairLine<W>[];
  /** True with CoDel: `take` needs the time. */
  readonly timed: boolean;

  /**
   * @param classes how many priority classes, an integer >= 1.
   * @param codel CoDel per flow in every class (each key's flow of each class has its own state).
   */
  constructor(classes: number, codel?: FairCoDelOptions<W>) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 2, 'new PriorityClasses()');
    validateInteger(classes, 'classes', { min: 1 });
    const lines: FairLine<W>[] = [];
    for (let i = 0; i < classes; i++) lines.push(new FairLine<W>(codel));
    this.lines = lines;
    this.timed = codel !== undefined;
  }

  /** Waiters `take` can return now, over every class. */
  get size(): number {
    let n = 0;
    for (const line of this.lines) n += line.size;
    return n;
  }

  /** Every waiter, parked flows included. */
  get queued(): number {
    let n = 0;
    for (const line of this.lines) n += line.queued;
    return n;
  }

  push(waiter: W): void {
    this.lines[waiter.priority]!.push(waiter);
  }

  take(now = 0): W | undefined {
    const lines = this.lines;
    for (let i = lines.length - 1; i >= 0; i--) {
      const w = lines[i]!.take(now);
      if (w !== undefined) return w;
    }
    return undefined;
  }

  putBack(waiter: W): void {
    this.lines[waiter.priority]!.putBack(waiter);
  }

  remove(waiter: W): boolean {
    return this.lines[waiter.priority]!.remove(waiter);
  }

  /**
   * Evicts the newest waiter of the heaviest key in the lowest class below `priority` that has
   * one; `undefined` when every waiter is of class `priority` or higher.
   */
  evictBelow(priority: number): W | undefined {
    for (let i = 0; i < priority; i++) {
      const line = this.lines[i]!;
      if (line.queued > 0) return line.evictNewest();
    }
    return undefined;
  }

  /** Removes and returns every waiter. */
  drain(): W[] {
    const out: W[] = [];
    for (const line of this.lines) for (const w of line.drain()) out.push(w);
    return out;
  }
}
