import { RingBuffer, type Timer } from '@valve/core';
import type { Ack } from './Ack.js';
import { SignalWaiters } from './SignalWaiters.js';

/** A producer parked by the `block` strategy, holding its item until space is handed to it. */
export interface BlockedPush<T> {
  readonly item: T;
  readonly size: number;
  /** Set for a `pushDurable()`: travels with the item into the buffer. */
  readonly ack: Ack | undefined;
  resolve: (accepted: boolean) => void;
  reject: (error: unknown) => void;
  /** Deadline (`maxBlockTimeMs`); cleared when settled. */
  timer: Timer | undefined;
  signal: AbortSignal | undefined;
  /** Set once, by whoever settles it first (hand-off, deadline, abort, close). */
  settled: boolean;
}

/**
 * FIFO of blocked pushes. Space is *handed* to the head waiter synchronously (its item goes
 * into the buffer before anyone else can take the slot), so a later `offer()` cannot barge
 * ahead of a producer that has waited, and the waiter's promise resolves on the next microtask
 * instead of the seed's next 50 ms poll. Waiters settled by a deadline or an abort stay in the
 * ring until they reach the head or are compacted away once they outnumber the live ones.
 */
export class BlockedQueue<T> {
  private readonly ring = new RingBuffer<BlockedPush<T>>();
  private live = 0;
  /** One abort listener per distinct signal of the parked pushes. */
  private readonly signals: SignalWaiters<BlockedPush<T>>;

  /**
   * @param onAbort a parked push's signal aborted (it is still live: cancel it, then reject).
   * @param afterAbort once after every push of one aborted signal was handed to `onAbort`.
   */
  constructor(onAbort: (waiter: BlockedPush<T>, reason: unknown) => void, afterAbort: () => void) {
    this.signals = new SignalWaiters(onAbort, afterAbort);
  }

  get size(): number {
    return this.live;
  }

  add(waiter: BlockedPush<T>): void {
    this.ring.push(waiter);
    this.live++;
    if (waiter.signal !== undefined) this.signals.add(waiter.signal, waiter);
  }

  /** The oldest live waiter, without removing it. */
  peek(): BlockedPush<T> | undefined {
    for (;;) {
      const head = this.ring.peek();
      if (head === undefined || !head.settled) return head;
      this.ring.shift();
    }
  }

  /** Removes the oldest live waiter and marks it settled (the caller resolves it). */
  take(): BlockedPush<T> | undefined {
    const w = this.peek();
    if (w === undefined) return undefined;
    this.ring.shift();
    this.settle(w);
    return w;
  }

  /** Marks a waiter settled by its deadline or abort; it is skipped from now on. */
  cancel(w: BlockedPush<T>): boolean {
    if (w.settled) return false;
    this.settle(w);
    if (this.ring.size >= 64 && this.ring.size >= this.live * 2) this.compact();
    return true;
  }

  /** Removes and settles every live waiter. */
  takeAll(): BlockedPush<T>[] {
    const out: BlockedPush<T>[] = [];
    for (let w = this.take(); w !== undefined; w = this.take()) out.push(w);
    return out;
  }

  private settle(w: BlockedPush<T>): void {
    w.settled = true;
    this.live--;
    w.timer?.clear();
    w.timer = undefined;
    if (w.signal !== undefined) this.signals.remove(w.signal, w);
  }

  private compact(): void {
    const keep: BlockedPush<T>[] = [];
    for (const w of this.ring) if (!w.settled) keep.push(w);
    this.ring.clear();
    for (const w of keep) this.ring.push(w);
  }
}
