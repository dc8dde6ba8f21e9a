interface SizeWaiter {
  limit: number;
  resolve: () => void;
}

/**
 * The pool's producer-side waits: `onSizeLessThan(n)` / `onEmpty()` (back pressure on the queue)
 * and `onIdle()`. The pool tells it when the queue shrank and when it became idle; both checks
 * cost one field read while nobody waits.
 */
export class PoolWaits {
  private sizeWaiters: SizeWaiter[] = [];
  private idleWaiters: (() => void)[] = [];

  /**
   * Somebody waits for the queue to shrink. A field, not a getter: the pool reads it once per
   * started task, and before V8 optimizes a fresh process's queued path every getter is a call.
   */
  sized = false;

  /** Somebody waits for the pool to be idle. */
  get idling(): boolean {
    return this.idleWaiters.length > 0;
  }

  sizeBelow(limit: number, size: number): Promise<void> {
    if (size < limit) return Promise.resolve();
    this.sized = true;
    return new Promise((resolve) => this.sizeWaiters.push({ limit, resolve }));
  }

  idle(isIdle: boolean): Promise<void> {
    if (isIdle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The queue now holds `size` tasks: resolves the waits it satisfies. */
  sizeChanged(size: number): void {
    const keep: SizeWaiter[] = [];
    for (const w of this.sizeWaiters) {
      if (size < w.limit) w.resolve();
      else keep.push(w);
    }
    this.sizeWaiters = keep;
    this.sized = keep.length > 0;
  }

  becameIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
