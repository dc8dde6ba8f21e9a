import type { Clock, Timer } from '@valve/core';
import type { Expiring } from './LingerQueue.js';

/**
 * Expiry for items that each live their own number of ms (`lingerMs` as a function of the
 * value): a binary min-heap on `expires` with one timer armed for its root. LingerQueue's FIFO
 * is used instead whenever the window is constant (cheaper: no sift).
 *
 * Items removed early (forgotten, evicted, replaced) stay in the heap and are recognised by
 * `isLive`, as in LingerQueue; `push` rebuilds the heap without them once it holds more than
 * twice the live items plus 64 (amortised O(log n) per push). The timer is unref'd: a cache
 * never keeps a process alive. Ties expire in no particular order.
 */
export class LingerHeap<T extends Expiring> {
  private heap: T[] = [];
  private timer: Timer | undefined = undefined;
  /** When the armed timer fires (Infinity when none is armed). */
  private armedFor = Number.POSITIVE_INFINITY;
  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (let head = this.heap[0]; head !== undefined && head.expires <= now; head = this.heap[0]) {
      this.pop();
      this.onExpire(head, now);
    }
    this.arm(now);
  };

  constructor(
    private readonly clock: Clock,
    private readonly onExpire: (item: T, now: number) => void,
    private readonly isLive: (item: T) => boolean,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** Queues `item` to expire `ms` from `now` (`item.expires` is set here). */
  push(item: T, now: number, ms: number, live: number): void {
    item.expires = now + ms;
    const heap = this.heap;
    heap.push(item);
    this.up(heap.length - 1);
    if (heap.length > 2 * live + 64) this.compact();
    if (item.expires < this.armedFor) this.arm(now);
  }

  /** Takes the item closest to expiry (for `maxKeys` eviction), without calling `onExpire`. */
  shift(): T | undefined {
    return this.heap.length === 0 ? undefined : this.pop();
  }

  clear(): void {
    this.heap = [];
    this.timer?.clear();
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private pop(): T {
    const heap = this.heap;
    const top = heap[0] as T;
    const last = heap.pop() as T;
    if (heap.length > 0) {
      heap[0] = last;
      this.down(0);
    }
    return top;
  }

  private compact(): void {
    this.heap = this.heap.filter(this.isLive);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private up(i: number): void {
    const heap = this.heap;
    const item = heap[i] as T;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as T;
      if (p.expires <= item.expires) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i] as T;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && (heap[right] as T).expires < (heap[child] as T).expires) child = right;
      if ((heap[child] as T).expires >= item.expires) break;
      heap[i] = heap[child] as T;
      i = child;
    }
    heap[i] = item;
  }

  private arm(now: number): void {
    const head = this.heap[0];
    if (head === undefined || head.expires === Number.POSITIVE_INFINITY) return;
    this.timer?.clear();
    this.armedFor = head.expires;
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, head.expires - now));
  }
}
