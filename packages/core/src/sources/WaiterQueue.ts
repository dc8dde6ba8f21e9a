import { RingBuffer } from '../buffers/RingBuffer.js';
import { abortReason } from '../errors/ValveError.js';

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  settled: boolean;
}

/**
 * A FIFO of promises waiting for something (a token, a slot, buffer space), woken by events,
 * never by polling. An aborted waiter rejects at once with `signal.reason` and is skipped when
 * it reaches the head; dead entries are compacted away once they outnumber the live ones, so
 * abort storms cannot grow the queue without bound.
 */
export class WaiterQueue<T> {
  private readonly queue = new RingBuffer<Waiter<T>>();
  private live = 0;

  /**
   * @param onAbandoned called when the last live waiter leaves by aborting (not when one is
   *   resolved or rejected by the owner): the owner can then unref a timer that only existed
   *   to keep that waiter's process alive.
   */
  constructor(private readonly onAbandoned?: () => void) {}

  /** Live waiters. */
  get size(): number {
    return this.live;
  }

  /** Waits for `resolveNext`; rejects with `signal.reason` if the signal aborts first. */
  wait(signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, signal, onAbort: undefined, settled: false };
      if (signal) {
        waiter.onAbort = () => {
          if (waiter.settled) return;
          waiter.settled = true;
          this.live--;
          reject(abortReason(signal));
          this.maybeCompact();
          if (this.live === 0) this.onAbandoned?.();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.live++;
    });
  }

  /** Resolves the oldest live waiter with `value`; false when nobody waits. */
  resolveNext(value: T): boolean {
    for (;;) {
      const w = this.queue.shift();
      if (w === undefined) return false;
      if (w.settled) continue;
      this.settle(w);
      w.resolve(value);
      return true;
    }
  }

  /** Rejects every live waiter with `error`. */
  rejectAll(error: unknown): void {
    for (;;) {
      const w = this.queue.shift();
      if (w === undefined) return;
      if (w.settled) continue;
      this.settle(w);
      w.reject(error);
    }
  }

  private settle(w: Waiter<T>): void {
    w.settled = true;
    this.live--;
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
  }

  private maybeCompact(): void {
    const total = this.queue.size;
    if (total < 64 || total < this.live * 2) return;
    const keep: Waiter<T>[] = [];
    for (const w of this.queue) if (!w.settled) keep.push(w);
    this.queue.clear();
    for (const w of keep) this.queue.push(w);
  }
}
