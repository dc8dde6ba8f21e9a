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
 * Items removed early (forgotten, evicted, replaced) stay in the ring, so removal is O(1); the
 * owner recognises them by `isLive` (and in `onExpire` by its own ownership check). So that
 * they cannot pile up for a whole window (a key forgotten and refetched in a loop would keep
 * every old entry: `maxKeys` would bound nothing), `push` compacts the ring once it holds more
 * than twice the live items plus a slack of 64: O(size), order kept, and amortised O(1) per push
 * since at least as many pushes as survivors happen between two compactions. Invariant after
 * each push: `size <= 2 * live + 64`.
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
    /** Whether an item still lingers here (false once forgotten, evicted or replaced). */
    private readonly isLive: (item: T) => boolean,
  ) {}

  /** Items held, including ones removed early that were not compacted away yet. */
  get size(): number {
    return this.ring.size;
  }

  /**
   * Sets `item.expires` to now + window and queues it. `live` is how many items the owner
   * counts as lingering (an upper bound of the live items here), for the compaction trigger.
   */
  push(item: T, now: number, live: number): void {
    item.expires = now + this.windowMs;
    const ring = this.ring;
    ring.push(item);
    if (ring.size > 2 * live + 64) this.compact();
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

  /** Drops the items removed early, keeping the rest in expiry order, and shrinks the ring. */
  private compact(): void {
    const ring = this.ring;
    for (let n = ring.size; n > 0; n--) {
      const item = ring.shift() as T;
      if (this.isLive(item)) ring.push(item);
    }
    ring.compact();
    // The armed timer may be for a dropped head: it then fires early, finds nothing due and
    // re-arms for the new head, which is cheaper than re-arming here on every compaction.
  }

  private arm(now: number): void {
    const head = this.ring.peek();
    if (head === undefined) return;
    // Infinity: never expires, so never arm a timer for it.
    if (head.expires === Number.POSITIVE_INFINITY) return;
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, head.expires - now));
  }
}
