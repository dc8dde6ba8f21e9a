import { abortReason } from '../errors/ValveError.js';
import { rejectExtraArguments } from '../validate.js';

/**
 * The three link fields a waiter carries so that a SignalGroups can hold it without allocating:
 * the group of its signal (opaque to the waiter) and its neighbours in that group's doubly linked
 * list. Written only by SignalGroups; a waiter starts with all three `undefined` and is in at most
 * one group at a time.
 */
export interface SignalLinks<T> {
  signalGroup: unknown;
  signalPrev: T | undefined;
  signalNext: T | undefined;
}

/**
 * The waiters of one owner that passed the same AbortSignal: a doubly linked list through the
 * waiters' own link fields, so a waiter that settles leaves in O(1). For a real AbortSignal it
 * exists only while it has waiters; for a signal-like object it is that signal's own listener
 * and lives as long as the signal (see SignalGroups).
 */
export class SignalGroup<T extends SignalLinks<T>> {
  /** The most recently added waiter (the list runs from here through `signalNext`). */
  head: T | undefined = undefined;
  /** Listening itself (a signal-like object): kept while empty, so it is added only once. */
  pinned = false;

  constructor(
    readonly signal: AbortSignal,
    private readonly groups: SignalGroups<T>,
  ) {}

  /** Links `w` in (SignalGroups.add calls this). */
  add(w: T): void {
    w.signalGroup = this;
    w.signalPrev = undefined;
    w.signalNext = this.head;
    if (this.head !== undefined) this.head.signalPrev = w;
    this.head = w;
  }

  /** Unlinks `w` in O(1) (SignalGroups.remove calls this). */
  remove(w: T): void {
    if (w.signalPrev !== undefined) w.signalPrev.signalNext = w.signalNext;
    else this.head = w.signalNext;
    if (w.signalNext !== undefined) w.signalNext.signalPrev = w.signalPrev;
    w.signalPrev = w.signalNext = w.signalGroup = undefined;
    if (this.head === undefined && !this.pinned) this.groups.release(this);
  }

  /** The signal aborted: every waiter still in the group is handed to the owner, once. */
  handleEvent(): void {
    // An aborted signal never waits again (owners reject an aborted signal at once): forget now.
    this.groups.forget(this);
    const reason = abortReason(this.signal);
    // Every waiter leaves the group before any onAbort runs: onAbort runs user code (an onError,
    // an onSettled listener calling clear()) that may settle another waiter of this group. Each
    // was in the group when the signal aborted, so each is handed over once (owners ignore one
    // they already settled), and no removal can cut the walk short.
    const waiters: T[] = [];
    for (let w = this.head; w !== undefined; ) {
      const next = w.signalNext;
      w.signalPrev = w.signalNext = w.signalGroup = undefined;
      waiters.push(w);
      w = next;
    }
    this.head = undefined;
    for (let i = 0; i < waiters.length; i++) this.groups.onAbort(waiters[i]!, reason);
    this.groups.afterAbort?.();
  }
}

/**
 * One owner's abort listener and the SignalGroup of each signal its waiters passed: queued work
 * that shares one AbortSignal (a request's, a shutdown's) costs ONE listener per distinct signal,
 * not one per waiter, and aborting N waiters is O(N) in total (issue 18: one listener per waiter
 * made an abort quadratic, seconds of blocked event loop at 10^4 waiters, and tripped Node's
 * MaxListenersExceededWarning at the eleventh).
 *
 * Usage: give the waiter type the three `SignalLinks` fields, call `add(signal, w)` when it starts
 * waiting (the signal not yet aborted: check `signal.aborted` first) and `remove(w)` when it stops
 * waiting for any other reason; `onAbort(w, reason)` is called once per waiter still in the group
 * when its signal aborts, after the waiter has left the group.
 *
 * Why this shape (measured in @valve/burst, where it comes from): `addEventListener` costs about
 * 2 µs on Node 20. For a real AbortSignal the listener is this object, the same for every signal:
 * an EventTarget ignores a second `addEventListener` of a listener it holds and names the signal
 * in `event.target`, so a signal holds one listener however many waiters share it, and a group
 * sits in the WeakMap only while it has waiters. A plain Map keyed by signal, or keeping every
 * group until its signal is collected, cost ~1.8 µs per call more (mostly GC); a property on the
 * signal costs several µs (every AbortSignal has its own hidden class).
 *
 * Listening ends in one of two ways, chosen by the owner (`keepListening`):
 * - default (PromisePool): a real AbortSignal carries this listener only while its group has
 *   waiters; the last waiter to leave removes it, and a signal that comes back is listened to
 *   again. A listener holds its owner, so keeping it until the abort would let a long-lived signal
 *   (a process's shutdown signal) shared by many short-lived owners (a pool per batch of work)
 *   keep every one of them alive and trip MaxListenersExceededWarning at the eleventh (p-queue's
 *   public suite pins the removal: "abort listener is removed when job is completed"). The price:
 *   a `removeEventListener` per emptied group, +1.4-2.5 µs per pool `run()` with a fresh signal.
 * - `keepListening: true` (BurstValve, SafetyValve, KeyedValve, BackpressureController, core's
 *   WaiterQueue: owners meant to live as long as what they guard): the listener stays until the
 *   signal aborts or is collected, so neither a fresh signal per call nor a shared one that keeps
 *   coming back costs a `removeEventListener` and a second `addEventListener`. Measured: burst's
 *   "callers with a signal" case 1.12x of its floor kept, 1.29x removed (issue 14 allows 1.2x);
 *   SafetyValve `run()` with a signal +0.8-1.0 µs per call removed. Such an owner made per request
 *   and handed a process-lifetime signal stays alive with it: their READMEs say so.
 * A signal-like object (what `validateSignal` accepts) promises neither de-duplication nor
 * `target`, so its group is its listener and is kept, with its owner, for the signal's lifetime.
 */
export class SignalGroups<T extends SignalLinks<T>> {
  private readonly bySignal = new WeakMap<AbortSignal, SignalGroup<T>>();

  /** Whether a signal keeps this owner's listener once its group is empty (see the class comment). */
  private readonly keepListening: boolean;

  /**
   * @param onAbort called once for each waiter still grouped when its signal aborts.
   * @param afterAbort called once after all of them (per-abort work done once, not N times).
   * @param options `keepListening` (default false): keep listening to a signal after its last
   *   waiter left, until it aborts or is collected.
   */
  constructor(
    readonly onAbort: (waiter: T, reason: unknown) => void,
    readonly afterAbort?: () => void,
    options?: { keepListening?: boolean },
  ) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 3, 'new SignalGroups()');
    this.keepListening = options?.keepListening === true;
  }

  /** Puts `w` in the group of `signal`, listening to the signal if this owner is not yet. */
  add(signal: AbortSignal, w: T): void {
    let group = this.bySignal.get(signal);
    if (group === undefined) {
      group = new SignalGroup(signal, this);
      this.bySignal.set(signal, group);
      if (signal instanceof AbortSignal) {
        // An object with handleEvent() is a valid listener (EventListenerObject): no closure.
        signal.addEventListener('abort', this as unknown as () => void, { once: true });
      } else {
        group.pinned = true;
        (group.signal as AbortSignal).addEventListener('abort', group, { once: true });
      }
    }
    group.add(w);
  }

  /** Takes `w` out of its group (O(1)); does nothing when it is in none. */
  remove(w: T): void {
    (w.signalGroup as SignalGroup<T> | undefined)?.remove(w);
  }

  /** The group's last waiter left: forget it, and stop listening unless `keepListening`. */
  release(group: SignalGroup<T>): void {
    this.forget(group);
    if (!this.keepListening) group.signal.removeEventListener('abort', this as unknown as () => void);
  }

  /** The group's last waiter left, or its signal aborted: forget it. */
  forget(group: SignalGroup<T>): void {
    if (this.bySignal.get(group.signal) === group) this.bySignal.delete(group.signal);
  }

  /** The EventTarget's call for a real AbortSignal: `event.target` names the signal. */
  handleEvent(event: Event): void {
    this.bySignal.get(event.target as AbortSignal)?.handleEvent();
  }
}
