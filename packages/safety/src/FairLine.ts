import {
  LazyQueue,
  type LazyQueueEntry,
  rejectExtraArguments,
  rejectUnknownOptions,
  validateFunction,
  validateNumber,
  validateObject,
  type WaitLine,
} from '@valve/core';
import { CoDel, type CoDelSource, checkCoDelTimes } from './CoDel.js';

/** A waiter of a {@link FairLine}: it names its flow (its key) and may cost more than one turn. */
export interface FairEntry extends LazyQueueEntry {
  /** The flow the waiter queues in; set before `push` and never changed. */
  readonly flow: FairFlow;
  /** What the waiter costs its flow's deficit when it is taken (a weight), >= 1. @default 1 */
  readonly cost?: number;
}

/**
 * One key's queue inside a {@link FairLine}, with its deficit-round-robin state. The line links a
 * flow into its round while it has waiters and is not parked, and into its parked list while it
 * has waiters and is parked; a flow with no waiter is in no list (it costs the line nothing).
 * A flow belongs to one line; the owner (a keyed valve's key table) creates it and keeps it.
 */
export class FairFlow {
  /** The flow's waiters, oldest first. */
  readonly queue = new LazyQueue<FairEntry>();
  /** Credit left in the current turn (deficit round robin). */
  deficit = 0;
  /** The current turn's quantum was credited (the flow is at the head of the round). */
  credited = false;
  /** Refused a turn: a key at its own concurrency share waits without blocking the others. */
  parked = false;
  /** Which list links the flow: 0 none, 1 the round, 2 the parked list, 3 the new flows. */
  listed: 0 | 1 | 2 | 3 = 0;
  prev: FairFlow | undefined = undefined;
  next: FairFlow | undefined = undefined;
  /**
   * The flow's own CoDel state (a line with `codel` creates it at the flow's first take, or the
   * owner hands in the state a previous flow of its key left, so it outlives the flow emptying).
   */
  codel: CoDel | undefined = undefined;

  /**
   * @param quantum The credit a turn adds, > 0: a flow with quantum 2 is served twice as much as
   *   one with quantum 1 when both always wait (a weighted share).
   */
  constructor(readonly quantum = 1) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new FairFlow()');
    validateNumber(quantum, 'quantum', { above: 0 });
  }

  /** Waiters queued in this flow (parked or not). */
  get size(): number {
    return this.queue.size;
  }
}

/**
 * CoDel per flow (FQ-CoDel, RFC 8290 section 4.1.1): each flow keeps its own CoDel state and is
 * dropped from at its head, at dequeue, when its own waiters' sojourn stayed >= `targetMs` for
 * `intervalMs`. Checked by the line's constructor: both finite and > 0, target <= interval.
 */
export interface FairCoDelOptions<W> {
  readonly targetMs: number;
  readonly intervalMs: number;
  /** When the waiter entered the line, by the clock the admission passes to `take(now)`. */
  enqueuedAt(waiter: W): number;
  /**
   * Settles a waiter CoDel dropped (reason `overload`), before `take` returns; it has already
   * left the line. It may push to the line, never take from it.
   */
  drop(waiter: W): void;
}

/** `new FairLine(codel)`'s argument: exactly the four fields, each valid. */
function checkFairCoDel(codel: unknown): void {
  const c = validateObject(codel, 'codel');
  rejectUnknownOptions(c, 'codel', ['targetMs', 'intervalMs', 'enqueuedAt', 'drop']);
  checkCoDelTimes(c.targetMs as number, c.intervalMs as number, 'codel.');
  validateFunction(c.enqueuedAt, 'codel.enqueuedAt');
  validateFunction(c.drop, 'codel.drop');
}

/** A doubly linked list of flows (O(1) append, unlink and head). */
class FlowList {
  head: FairFlow | undefined = undefined;
  tail: FairFlow | undefined = undefined;

  append(f: FairFlow): void {
    f.prev = this.tail;
    f.next = undefined;
    if (this.tail === undefined) this.head = f;
    else this.tail.next = f;
    this.tail = f;
  }

  prepend(f: FairFlow): void {
    f.next = this.head;
    f.prev = undefined;
    if (this.head === undefined) this.tail = f;
    else this.head.prev = f;
    this.head = f;
  }

  unlink(f: FairFlow): void {
    if (f.prev === undefined) this.head = f.next;
    else f.prev.next = f.next;
    if (f.next === undefined) this.tail = f.prev;
    else f.next.prev = f.prev;
    f.prev = undefined;
    f.next = undefined;
  }
}

/**
 * A waiting line that serves its flows (keys) fairly: deficit round robin (Shreedhar and
 * Varghese, 1996) over per-flow FIFOs, as a `WaitLine` core's `Admission` serves. Each turn
 * credits the flow at the head of the round with its quantum; the flow's oldest waiter is taken
 * while the credit covers its cost, then the flow moves to the back. With unit costs and quanta
 * this is plain round robin: a key that queues ten times more than the others gets one start in
 * each round like any other, so its backlog waits behind itself, not in front of the others.
 *
 * Invariants: the round holds exactly the flows that have waiters and are not parked; `size`
 * counts their waiters (the ones `take` can return); `queued` also counts the parked ones. A flow
 * whose queue empties leaves the round at once and forgets its credit (DRR's rule), so an idle
 * key cannot save credit for a burst. `take` is O(1) amortised for costs <= quantum (a waiter
 * costing more waits cost/quantum rounds); removal from the middle is O(1) (LazyQueue).
 *
 * New flows first (FQ-CoDel's sparse-flow rule, RFC 8290 section 4.1): a flow that becomes active
 * gets its first turn before the backlogged round, so a key that sends now and then waits only for
 * the next free slot, not for a turn behind every busy key; a flow still waiting after that turn
 * joins the round. A flow that empties leaves both lists, so a key must go idle to count as new.
 *
 * Parking: `park(flow)` takes a flow out of the round without dropping its waiters (its key is
 * at its own concurrency share), `unpark(flow)` puts it back at the end of the round.
 */
export class FairLine<W extends FairEntry> implements WaitLine<W> {
  /** True with CoDel: `take` needs the time. */
  readonly timed: boolean;
  private readonly codel: FairCoDelOptions<W> | undefined;
  /** The flow CoDel is taking from (its source reads this flow's queue). */
  private current: FairFlow | undefined = undefined;
  private readonly source: CoDelSource<W>;
  private readonly dropped: (waiter: W) => void;
  /** Flows that became active and have not had their first turn: served before the round. */
  private readonly fresh = new FlowList();
  /** Backlogged flows, in round-robin order. */
  private readonly round = new FlowList();
  private readonly parkedList = new FlowList();
  private live = 0;
  private parkedLive = 0;

  /**
   * @param codel CoDel per flow (FQ-CoDel): without it a flow's waiters leave only when taken,
   *   removed or evicted.
   */
  constructor(codel?: FairCoDelOptions<W>) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new FairLine()');
    if (codel !== undefined) checkFairCoDel(codel);
    this.codel = codel;
    this.timed = codel !== undefined;
    this.source = {
      shift: () => {
        const w = this.current!.queue.shift() as W | undefined;
        if (w !== undefined) this.live--;
        return w;
      },
      enqueuedAt: (w) => codel!.enqueuedAt(w),
    };
    this.dropped = (w) => codel!.drop(w);
  }

  /** Waiters `take` can return now (parked flows excluded). */
  get size(): number {
    return this.live;
  }

  /** Every waiter, parked flows included. */
  get queued(): number {
    return this.live + this.parkedLive;
  }

  /** Adds a waiter at the back of its flow; a flow that was empty joins the end of the round. */
  push(waiter: W): void {
    const f = waiter.flow;
    f.queue.push(waiter);
    if (f.parked) {
      this.parkedLive++;
      if (f.listed === 0) this.link(f, 2, false);
    } else {
      this.live++;
      if (f.listed === 0) this.link(f, 3, false);
    }
  }

  /**
   * The next waiter by deficit round robin. With CoDel the flow whose turn it is dequeues through
   * its own CoDel state (which may drop waiters from its head first); the head's cost is checked
   * against the credit before CoDel runs and the waiter CoDel returns is charged, so a flow's
   * credit can go below zero (as in Linux's fq_codel) and is repaid in later turns. A flow CoDel
   * empties leaves the round and the next flow is served.
   */
  take(now = 0): W | undefined {
    for (;;) {
      let f = this.fresh.head;
      if (f === undefined) {
        f = this.round.head;
        if (f === undefined) return undefined;
      }
      if (!f.credited) {
        f.deficit += f.quantum;
        f.credited = true;
      }
      const waiter = f.queue.peek()!;
      const cost = waiter.cost ?? 1;
      if (f.deficit >= cost) {
        if (this.codel !== undefined) {
          const w = this.takeCoDel(f, now);
          if (w === undefined) continue;
          return w;
        }
        f.deficit -= cost;
        f.queue.shift();
        this.live--;
        if (f.queue.size === 0) this.emptied(f);
        return waiter as W;
      }
      // The turn is over: the flow keeps its remaining credit and goes to the back of the round.
      f.credited = false;
      if (f.listed === 3 || f !== this.round.tail) {
        this.list(f.listed).unlink(f);
        this.link(f, 1, false);
      }
    }
  }

  /** The waiter `take` just returned goes back to the front of its flow, its credit restored. */
  putBack(waiter: W): void {
    const f = waiter.flow;
    f.queue.unshift(waiter);
    f.deficit += waiter.cost ?? 1;
    if (f.parked) {
      this.parkedLive++;
      if (f.listed === 0) this.link(f, 2, false);
      return;
    }
    this.live++;
    if (f.listed === 0) {
      f.credited = true;
      this.link(f, 3, true);
    }
  }

  /** Removes a waiter from wherever it is (an abort, a deadline); false if it had already left. */
  remove(waiter: W): boolean {
    const f = waiter.flow;
    if (!f.queue.remove(waiter)) return false;
    if (f.parked) this.parkedLive--;
    else this.live--;
    if (f.queue.size === 0) this.emptied(f);
    return true;
  }

  /** Takes the flow out of the round; its waiters stay queued (counted in `queued`, not `size`). */
  park(f: FairFlow): void {
    if (f.parked) return;
    f.parked = true;
    const n = f.queue.size;
    if (f.listed === 1 || f.listed === 3) {
      this.list(f.listed).unlink(f);
      f.listed = 0;
      f.credited = false;
      this.link(f, 2, false);
    }
    this.live -= n;
    this.parkedLive += n;
  }

  /** Puts a parked flow back at the end of the round. */
  unpark(f: FairFlow): void {
    if (!f.parked) return;
    f.parked = false;
    const n = f.queue.size;
    if (f.listed === 2) {
      this.parkedList.unlink(f);
      f.listed = 0;
      this.link(f, 1, false);
    }
    this.parkedLive -= n;
    this.live += n;
  }

  /**
   * Removes and returns the newest waiter of the flow with the most waiters (parked or not), the
   * key that caused the queue: what a full line sheds first. Only a flow with more than
   * `longerThan` waiters qualifies (`undefined` when none does). O(flows with waiters).
   */
  evictNewest(longerThan = 0): W | undefined {
    let longest: FairFlow | undefined;
    for (const list of [this.fresh, this.round, this.parkedList]) {
      for (let f = list.head; f !== undefined; f = f.next) {
        if (longest === undefined || f.queue.size > longest.queue.size) longest = f;
      }
    }
    if (longest === undefined || longest.queue.size <= longerThan) return undefined;
    const waiter = longest.queue.pop();
    if (waiter === undefined) return undefined;
    if (longest.parked) this.parkedLive--;
    else this.live--;
    if (longest.queue.size === 0) this.emptied(longest);
    return waiter as W;
  }

  /** Removes and returns every waiter, flow by flow (parked flows included). */
  drain(): W[] {
    const out: W[] = [];
    for (const list of [this.fresh, this.round, this.parkedList]) {
      for (let f = list.head; f !== undefined; f = list.head) {
        for (const w of f.queue.drain()) out.push(w as W);
        this.emptied(f);
      }
    }
    this.live = 0;
    this.parkedLive = 0;
    return out;
  }

  /**
   * Dequeues from `f` through its CoDel state and charges the waiter returned (before a flow left
   * empty forgets its credit); `undefined` when CoDel emptied the flow.
   */
  private takeCoDel(f: FairFlow, now: number): W | undefined {
    const c = this.codel!;
    f.codel ??= new CoDel(c.targetMs, c.intervalMs);
    this.current = f;
    let w: W | undefined;
    try {
      w = f.codel.dequeue(now, this.source, this.dropped);
    } finally {
      this.current = undefined;
    }
    if (w !== undefined) f.deficit -= w.cost ?? 1;
    if (f.queue.size === 0) this.emptied(f);
    return w;
  }

  private list(id: 0 | 1 | 2 | 3): FlowList {
    return id === 1 ? this.round : id === 2 ? this.parkedList : this.fresh;
  }

  private link(f: FairFlow, id: 1 | 2 | 3, front: boolean): void {
    f.listed = id;
    const l = this.list(id);
    if (front) l.prepend(f);
    else l.append(f);
  }

  /**
   * A flow with no waiter leaves its list and forgets its credit; its CoDel state sees the empty
   * queue (the line never dequeues an empty flow) and keeps its count for the restart rule.
   */
  private emptied(f: FairFlow): void {
    if (f.listed !== 0) this.list(f.listed).unlink(f);
    f.listed = 0;
    f.deficit = 0;
    f.credited = false;
    f.codel?.emptied();
  }
}
