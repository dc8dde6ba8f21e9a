import { RingBuffer } from '../buffers/RingBuffer.js';
import { rejectExtraArguments } from '../validate.js';

/** What a {@link LazyQueue} needs to know about an entry. */
export interface LazyQueueEntry {
  /** Set once the entry left the queue (taken, or removed from the middle); written by the queue. */
  gone: boolean;
}

/** Dead entries tolerated before a compaction is considered. */
const COMPACT_MIN = 64;

/**
 * A FIFO that removes from the middle in O(1): a removed entry is only marked `gone` and skipped
 * when it reaches an end. Once dead entries are at least {@link COMPACT_MIN} and as many as the
 * live ones, the buffer is compacted (O(live), paid for by the removals), so abort storms cannot
 * grow it without bound. Served from either end (FIFO from the front, adaptive LIFO from the back).
 *
 * This is the one copy of "skip settled entries, compact later" for waiting lines (issue 14):
 * safety's job queue and core's {@link WaiterQueue} use it.
 */
export class LazyQueue<E extends LazyQueueEntry> {
  private readonly items = new RingBuffer<E>();
  private live = 0;

  constructor() {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 0, 'new LazyQueue()');
  }

  /** Live entries. */
  get size(): number {
    return this.live;
  }

  /** Entries held, dead ones included (for the no-unbounded-growth tests). */
  get capacityUsed(): number {
    return this.items.size;
  }

  push(entry: E): void {
    entry.gone = false;
    this.items.push(entry);
    this.live++;
  }

  /** Puts an entry taken by `shift` back at the front. */
  unshift(entry: E): void {
    entry.gone = false;
    this.items.unshift(entry);
    this.live++;
  }

  /** Removes and returns the oldest live entry. */
  shift(): E | undefined {
    for (;;) {
      const entry = this.items.shift();
      if (entry === undefined) return undefined;
      if (entry.gone) continue;
      entry.gone = true;
      this.live--;
      return entry;
    }
  }

  /** Removes and returns the newest live entry. */
  pop(): E | undefined {
    for (;;) {
      const entry = this.items.pop();
      if (entry === undefined) return undefined;
      if (entry.gone) continue;
      entry.gone = true;
      this.live--;
      return entry;
    }
  }

  /** The oldest live entry, without removing it. */
  peek(): E | undefined {
    for (;;) {
      const entry = this.items.peek();
      if (entry === undefined) return undefined;
      if (!entry.gone) return entry;
      this.items.shift();
    }
  }

  /** Removes an entry from wherever it is; false if it had already left. */
  remove(entry: E): boolean {
    if (entry.gone) return false;
    entry.gone = true;
    this.live--;
    const total = this.items.size;
    if (total >= COMPACT_MIN && total >= this.live * 2) this.compact();
    return true;
  }

  /** Removes and returns every live entry, oldest first. */
  drain(): E[] {
    const out: E[] = [];
    for (let entry = this.shift(); entry !== undefined; entry = this.shift()) out.push(entry);
    return out;
  }

  private compact(): void {
    const keep: E[] = [];
    for (const entry of this.items) if (!entry.gone) keep.push(entry);
    this.items.clear();
    for (const entry of keep) this.items.push(entry);
  }
}
