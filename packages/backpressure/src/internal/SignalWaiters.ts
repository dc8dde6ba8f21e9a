import { abortReason } from '@valve/core';

/**
 * The blocked pushes of one controller grouped by the AbortSignal they passed: ONE abort
 * listener per distinct signal, however many pushes share it (a request's or a shutdown's).
 *
 * Why (issue 18): one listener per blocked push made aborting N of them quadratic (each
 * `removeEventListener` walks the signal's listener list: 0.53 s at 10^4, 5.7 s at 4x10^4 of
 * blocked event loop) and tripped Node's MaxListenersExceededWarning at the eleventh. Here a
 * group is a Set (O(1) add and delete) behind one listener that exists while the group has
 * waiters; an abort settles the whole group in one pass, O(N) in total.
 *
 * (Core's SignalGroups, being built for the shared admission component, does the same with
 * intrusive links; backpressure can move to it once it is on main.)
 */
export class SignalWaiters<W> {
  private readonly groups = new WeakMap<AbortSignal, SignalGroup<W>>();

  /**
   * @param onAbort called once per waiter still grouped when its signal aborts.
   * @param afterAbort called once after all of them (per-abort work done once, not N times).
   */
  constructor(
    readonly onAbort: (waiter: W, reason: unknown) => void,
    readonly afterAbort: () => void = () => {},
  ) {}

  add(signal: AbortSignal, waiter: W): void {
    let group = this.groups.get(signal);
    if (group === undefined) {
      group = new SignalGroup(signal, this);
      this.groups.set(signal, group);
      signal.addEventListener('abort', group.listener, { once: true });
    }
    group.waiters.add(waiter);
  }

  /** The waiter stopped waiting for another reason; the last one out removes the listener. */
  remove(signal: AbortSignal, waiter: W): void {
    const group = this.groups.get(signal);
    if (group === undefined || !group.waiters.delete(waiter) || group.waiters.size > 0) return;
    this.groups.delete(signal);
    signal.removeEventListener('abort', group.listener);
  }

  /** @internal The signal of `group` aborted. */
  fire(group: SignalGroup<W>): void {
    // Forgotten first: the waiters' own clean-up (remove) then finds nothing to do.
    this.groups.delete(group.signal);
    const reason = abortReason(group.signal);
    const waiters = [...group.waiters];
    group.waiters.clear();
    for (const waiter of waiters) this.onAbort(waiter, reason);
    this.afterAbort();
  }
}

class SignalGroup<W> {
  readonly waiters = new Set<W>();
  /** A closure, not an EventListenerObject: signal-like objects need not support those. */
  readonly listener: () => void;

  constructor(
    readonly signal: AbortSignal,
    owner: SignalWaiters<W>,
  ) {
    this.listener = () => owner.fire(this);
  }
}
