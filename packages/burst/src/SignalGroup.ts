import { abortReason, type Timer } from '@valve/core';
import type { Call } from './Call.js';

/**
 * A caller with its own promise: it passed a signal or a per-call timeout, so it can stop
 * waiting without disturbing the other callers of its call.
 *
 * Fields are written by the valve and by its SignalGroup; `done` flips once, on whichever comes
 * first of settle, abort and timeout, which is what makes every caller settle exactly once.
 */
export class Waiter {
  done = false;
  resolve: (value: unknown) => void = noop;
  reject: (error: unknown) => void = noop;
  timer: Timer | undefined = undefined;
  /** Links in the SignalGroup of this caller's signal (a doubly linked list: O(1) removal). */
  group: SignalGroup | undefined = undefined;
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;

  constructor(readonly call: Call<unknown, unknown>) {}
}

function noop(): void {}

/** Told when a waiter gave up (the valve). */
export interface WaiterOwner {
  giveUp(waiter: Waiter, reason: unknown): void;
}

/**
 * Every waiting caller of one valve that passed the same AbortSignal.
 *
 * Why: `addEventListener` costs about 2 µs on Node 20, more than a whole coalesced call, and a
 * request handler typically passes its one request signal to many calls. So a valve adds one
 * listener per distinct signal (this object, as an `EventListenerObject`: no closure) and keeps
 * the waiters in a linked list. The listener stays until the signal aborts; the group lives in a
 * WeakMap keyed by the signal, so both go away with the signal.
 */
export class SignalGroup {
  private head: Waiter | undefined = undefined;

  constructor(
    private readonly signal: AbortSignal,
    readonly owner: WaiterOwner,
  ) {
    // An object with handleEvent() is a valid listener (EventListenerObject): no closure needed.
    signal.addEventListener('abort', this as unknown as () => void, { once: true });
  }

  add(w: Waiter): void {
    w.group = this;
    w.next = this.head;
    if (this.head !== undefined) this.head.prev = w;
    this.head = w;
  }

  remove(w: Waiter): void {
    if (w.prev !== undefined) w.prev.next = w.next;
    else this.head = w.next;
    if (w.next !== undefined) w.next.prev = w.prev;
    w.prev = w.next = w.group = undefined;
  }

  handleEvent(): void {
    const reason = abortReason(this.signal);
    let w = this.head;
    this.head = undefined;
    while (w !== undefined) {
      const next = w.next;
      w.prev = w.next = w.group = undefined;
      this.owner.giveUp(w, reason);
      w = next;
    }
  }
}
