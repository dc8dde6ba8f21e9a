import { type Clock, RingBuffer, type Timer } from '@valve/core';

/** An item that expires at a clock time. */
export interface Expiring {
  expires: number;
}

/**
 * Expiry for items that all live the same number of ms: since the window is constant, items
 * expire in insertion order, so a FIFO (core's RingBuffer) with one timer armed for its head
 * replaces a timer per item (a Node timer is ~100 bytes and a heap insert). The timer is
 * unref'd: lingering values are a cache, and a cache never keeps a process alive.
 *
 * Items removed early (forgotten, evicted, replaced) stay in the ring until their time comes;
 * the owner recognises them in `onExpire` by its own ownership check, so removal is O(1).
 */
export class LingerQueue<T extends Expiring> {
  private readonly ring = new RingBuffer<T>();
  private timer: Timer | undefined = undefined;
  private readonly fire = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    const ring = this.ring;
    for (let head = ring.peek(); head !== undefined && head.expires <= now; head = ring.peek()) {
      ring.shift();
      this.onExpire(head, now);
    }
    this.arm(now);
  };

  constructor(
    private readonly clock: Clock,
    readonly windowMs: number,
    private readonly onExpire: (item: T, now: number) => void,
  ) {}

  /** Items held, including ones removed early that have not reached their time. */
  get size(): number {
    return this.ring.size;
  }

  /** Sets `item.expires` to now + window and queues it. */
  push(item: T, now: number): void {
    item.expires = now + this.windowMs;
    this.ring.push(item);
    if (this.timer === undefined) this.arm(now);
  }

  /** Takes the oldest item (for `maxKeys` eviction), without calling `onExpire`. */
  shift(): T | undefined {
    return this.ring.shift();
  }

  clear(): void {
    this.ring.clear();
    this.timer?.clear();
    this.timer = undefined;
  }

  private arm(now: number): void {
    const head = this.ring.peek();
    if (head === undefined) return;
    // Infinity: never expires, so never arm a timer for it.
    if (head.expires === Number.POSITIVE_INFINITY) return;
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, head.expires - now));
  }
}
