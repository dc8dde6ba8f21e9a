import { rejectExtraArguments, validateInteger } from '../validate.js';
import { RingBuffer } from './RingBuffer.js';

/**
 * A {@link RingBuffer} that never holds more than `capacity` items. It allocates as it fills
 * (a bound of 10^6 costs nothing until used), so the bound is a limit, not a reservation.
 */
export class BoundedRingBuffer<T> extends RingBuffer<T> {
  readonly limit: number;

  constructor(capacity: number) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new BoundedRingBuffer()');
    validateInteger(capacity, 'capacity', { min: 1 });
    super(Math.min(capacity, 1024));
    this.limit = capacity;
  }

  get isFull(): boolean {
    return this.length >= this.limit;
  }

  /** Fill level from 0 to 1. */
  get utilization(): number {
    return this.length / this.limit;
  }

  /** Appends, or returns false (and keeps the buffer unchanged) when full. */
  override push(item: T): boolean {
    if (this.length >= this.limit) return false;
    return super.push(item);
  }

  /** Prepends, or returns false when full. */
  override unshift(item: T): boolean {
    if (this.length >= this.limit) return false;
    return super.unshift(item);
  }

  /**
   * Appends, evicting the oldest item when full. Returns the evicted item, or `undefined` when
   * nothing was evicted (store `undefined` items and you cannot tell the two apart: check
   * `isFull` first).
   */
  pushEvict(item: T): T | undefined {
    if (this.length < this.limit) {
      super.push(item);
      return undefined;
    }
    // Full: evict the head and append in place, without the shift()/push() calls and their
    // grow and bound checks (the length does not change).
    const items = this.items;
    const head = this.head;
    const evicted = items[head];
    items[head] = undefined;
    this.head = (head + 1) & this.mask;
    items[(head + this.length) & this.mask] = item;
    return evicted;
  }
}
