import { rejectExtraArguments } from '../validate.js';

/**
 * A growable double-ended queue on a power-of-two circular array.
 *
 * Trade-off: O(1) amortized at both ends and no per-item allocation (unlike a linked list), at
 * the price of doubling copies as it grows; it never shrinks on its own (call `clear()` or
 * `compact()`), because a queue that just held N items will likely hold N again. Vacated slots
 * are set to `undefined` so removed items can be collected. `Array#shift` is O(n) once V8 leaves
 * its fast path, which is why no queue in valve uses it.
 */
export class RingBuffer<T> implements Iterable<T> {
  /** Backing store; its length is always a power of two. */
  protected items: (T | undefined)[];
  protected mask: number;
  /** Index of the first item. */
  protected head = 0;
  protected length = 0;

  constructor(initialCapacity = 16) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new RingBuffer()');
    let cap = 4;
    while (cap < initialCapacity) cap *= 2;
    this.items = new Array<T | undefined>(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.length;
  }

  get isEmpty(): boolean {
    return this.length === 0;
  }

  /** Slots allocated (grows by doubling). */
  get capacity(): number {
    return this.items.length;
  }

  /** Appends at the tail. */
  push(item: T): boolean {
    // Fields are read once into locals: the hot loop then touches `this` as little as denque does.
    const length = this.length;
    if (length === this.items.length) this.grow();
    this.items[(this.head + length) & this.mask] = item;
    this.length = length + 1;
    return true;
  }

  /** Prepends at the head. */
  unshift(item: T): boolean {
    if (this.length === this.items.length) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.items[this.head] = item;
    this.length++;
    return true;
  }

  /** Removes and returns the head, or `undefined` when empty. */
  shift(): T | undefined {
    const length = this.length;
    if (length === 0) return undefined;
    const items = this.items;
    const head = this.head;
    const item = items[head];
    items[head] = undefined;
    this.head = (head + 1) & this.mask;
    this.length = length - 1;
    return item;
  }

  /** Removes and returns the tail, or `undefined` when empty. */
  pop(): T | undefined {
    if (this.length === 0) return undefined;
    this.length--;
    const i = (this.head + this.length) & this.mask;
    const item = this.items[i];
    this.items[i] = undefined;
    return item;
  }

  peek(): T | undefined {
    return this.length === 0 ? undefined : this.items[this.head];
  }

  peekLast(): T | undefined {
    return this.length === 0 ? undefined : this.items[(this.head + this.length - 1) & this.mask];
  }

  /** The item `index` places from the head (negative counts from the tail), or `undefined`. */
  at(index: number): T | undefined {
    const i = index < 0 ? this.length + index : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.length) return undefined;
    return this.items[(this.head + i) & this.mask];
  }

  /** Removes up to `max` items from the head into a new array (one allocation for a batch). */
  take(max: number): T[] {
    // A negative or NaN max takes nothing (and must not reach `new Array`, which would throw).
    const n = max > 0 ? Math.min(Math.floor(max), this.length) : 0;
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.shift() as T;
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.length = 0;
  }

  /** Shrinks the backing store to the smallest power of two that holds the items. */
  compact(): void {
    let cap = 4;
    while (cap < this.length) cap *= 2;
    if (cap < this.items.length) this.resize(cap);
  }

  toArray(): T[] {
    const out = new Array<T>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.items[(this.head + i) & this.mask] as T;
    return out;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.length; i++) yield this.items[(this.head + i) & this.mask] as T;
  }

  private grow(): void {
    this.resize(this.items.length * 2);
  }

  private resize(cap: number): void {
    const next = new Array<T | undefined>(cap);
    for (let i = 0; i < this.length; i++) next[i] = this.items[(this.head + i) & this.mask];
    this.items = next;
    this.mask = cap - 1;
    this.head = 0;
  }
}
