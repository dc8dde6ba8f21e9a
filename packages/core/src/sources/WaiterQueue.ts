import { SignalGroups } from '../abort/SignalGroups.js';
import { LazyQueue } from '../admission/LazyQueue.js';
import { abortReason } from '../errors/ValveError.js';
import { rejectExtraArguments } from '../validate.js';

class Waiter<T> {
  gone = false;
  signalGroup: unknown = undefined;
  signalPrev: Waiter<T> | undefined = undefined;
  signalNext: Waiter<T> | undefined = undefined;
  constructor(
    readonly resolve: (value: T) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/**
 * A FIFO of promises waiting for something (a token, a slot, buffer space), woken by events,
 * never by polling. An aborted waiter rejects at once with `signal.reason`.
 *
 * Built on core's shared parts (issue 14): a `LazyQueue` (an aborted waiter is skipped when it
 * reaches the head; dead entries are compacted away once they outnumber the live ones, so abort
 * storms cannot grow the queue without bound) and `SignalGroups` (one abort listener per distinct
 * signal, however many waiters share it: aborting N of them is O(N), issue 18).
 */
export class WaiterQueue<T> {
  private readonly queue = new LazyQueue<Waiter<T>>();
  private readonly signals = new SignalGroups<Waiter<T>>(
    (w, reason) => {
      if (!this.queue.remove(w)) return;
      w.reject(reason);
    },
    () => {
      if (this.queue.size === 0) this.onAbandoned?.();
    },
    // A source lives as long as the process part it limits: keep the listener (SignalGroups).
    { keepListening: true },
  );

  /**
   * @param onAbandoned called when the last live waiter leaves by aborting (not when one is
   *   resolved or rejected by the owner): the owner can then unref a timer that only existed
   *   to keep that waiter's process alive.
   */
  constructor(private readonly onAbandoned?: () => void) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new WaiterQueue()');
  }

  /** Live waiters. */
  get size(): number {
    return this.queue.size;
  }

  /** Waits for `resolveNext`; rejects with `signal.reason` if the signal aborts first. */
  wait(signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<T>((resolve, reject) => {
      const waiter = new Waiter<T>(resolve, reject);
      this.queue.push(waiter);
      if (signal !== undefined) this.signals.add(signal, waiter);
    });
  }

  /** Resolves the oldest live waiter with `value`; false when nobody waits. */
  resolveNext(value: T): boolean {
    const w = this.queue.shift();
    if (w === undefined) return false;
    if (w.signalGroup !== undefined) this.signals.remove(w);
    w.resolve(value);
    return true;
  }

  /** Rejects every live waiter with `error`. */
  rejectAll(error: unknown): void {
    for (const w of this.queue.drain()) {
      if (w.signalGroup !== undefined) this.signals.remove(w);
      w.reject(error);
    }
  }
}
