import { LazyQueue, SignalGroups, type Timer } from '@valve/core';
import type { Ack } from './Ack.js';

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
  /** Set once it left the queue, by whoever settles it first (hand-off, deadline, abort, close). */
  gone: boolean;
  /** Links in the queue's SignalGroups (written there). */
  signalGroup: unknown;
  signalPrev: BlockedPush<T> | undefined;
  signalNext: BlockedPush<T> | undefined;
}

/**
 * FIFO of blocked pushes. Space is *handed* to the head waiter synchronously (its item goes
 * into the buffer before anyone else can take the slot), so a later `offer()` cannot barge
 * ahead of a producer that has waited, and the waiter's promise resolves on the next microtask
 * instead of the seed's next 50 ms poll.
 *
 * Built on core's shared parts (issue 14): the waiters are a `LazyQueue` (a waiter settled by its
 * deadline or an abort is skipped when it reaches the head, compacted away once dead ones
 * outnumber live ones) and share one abort listener per distinct signal through `SignalGroups`.
 */
export class BlockedQueue<T> {
  private readonly queue = new LazyQueue<BlockedPush<T>>();
  private readonly signals: SignalGroups<BlockedPush<T>>;

  /**
   * @param onAbort a parked push's signal aborted (it is still live: cancel it, then reject).
   * @param afterAbort once after every push of one aborted signal was handed to `onAbort`.
   */
  constructor(onAbort: (waiter: BlockedPush<T>, reason: unknown) => void, afterAbort: () => void) {
    // A controller lives as long as its sink: keep the listener (core SignalGroups' keepListening).
    this.signals = new SignalGroups(onAbort, afterAbort, { keepListening: true });
  }

  get size(): number {
    return this.queue.size;
  }

  add(waiter: BlockedPush<T>): void {
    this.queue.push(waiter);
    if (waiter.signal !== undefined) this.signals.add(waiter.signal, waiter);
  }

  /** The oldest live waiter, without removing it. */
  peek(): BlockedPush<T> | undefined {
    return this.queue.peek();
  }

  /** Removes the oldest live waiter (the caller resolves it). */
  take(): BlockedPush<T> | undefined {
    const w = this.queue.shift();
    if (w !== undefined) this.detach(w);
    return w;
  }

  /** Removes a waiter settled by its deadline or abort; false if it already left. */
  cancel(w: BlockedPush<T>): boolean {
    if (!this.queue.remove(w)) return false;
    this.detach(w);
    return true;
  }

  /** Removes every live waiter, oldest first. */
  takeAll(): BlockedPush<T>[] {
    const out = this.queue.drain();
    for (const w of out) this.detach(w);
    return out;
  }

  private detach(w: BlockedPush<T>): void {
    w.timer?.clear();
    w.timer = undefined;
    if (w.signalGroup !== undefined) this.signals.remove(w);
  }
}
