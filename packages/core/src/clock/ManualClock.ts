import { rejectExtraArguments, validateNumber } from '../validate.js';
import type { Clock, Timer } from './Clock.js';

/**
 * A clock that only moves when a test says so.
 *
 * Timers live in a binary min-heap ordered by (due time, creation order), so ties fire in the
 * order they were set, and timers set by a firing timer are honoured within the same
 * `advance()` when they fall due before its end. Cleared timers are removed lazily.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private live = 0;
  private readonly heap: ManualTimer[] = [];

  constructor(start = 0) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new ManualClock()');
    validateNumber(start, 'start', { min: 0 });
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    // NaN or a negative delay counts as 0: a NaN due time would corrupt the heap order.
    const timer = new ManualTimer(this, fn, this.current + (ms > 0 ? ms : 0), this.seq++);
    this.live++;
    heapPush(this.heap, timer);
    return timer;
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.live;
  }

  /** Pending timers that keep the process alive (`ref()`ed). */
  get refedTimers(): number {
    let n = 0;
    for (const t of this.heap) if (!t.done && t.refed) n++;
    return n;
  }

  /** Moves time forward by `ms`, firing due timers synchronously in time order. */
  advance(ms: number): void {
    validateNumber(ms, 'ms', { min: 0 });
    const end = this.current + ms;
    for (;;) {
      const next = this.nextDue(end);
      if (next === undefined) break;
      this.current = next.at;
      this.fire(next);
    }
    this.current = end;
  }

  /**
   * Like {@link advance}, but lets pending promise callbacks settle before each timer fires and
   * once more at the end, so async code that reacts to timers runs as it would in real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    validateNumber(ms, 'ms', { min: 0 });
    const end = this.current + ms;
    await settle();
    for (;;) {
      const next = this.nextDue(end);
      if (next === undefined) break;
      this.current = next.at;
      this.fire(next);
      await settle();
    }
    this.current = end;
    await settle();
  }

  /** Fires every pending timer, moving time to the last one (bounded, to catch runaway loops). */
  async runAllAsync(maxTimers = 100_000): Promise<void> {
    for (let i = 0; i < maxTimers; i++) {
      await settle();
      const next = this.nextDue(Number.POSITIVE_INFINITY);
      if (next === undefined) return;
      this.current = Math.max(this.current, next.at);
      this.fire(next);
    }
    throw new Error(`runAllAsync: more than ${maxTimers} timers fired; a timer keeps rescheduling itself`);
  }

  /** @internal */
  cancel(timer: ManualTimer): void {
    if (!timer.done) {
      timer.done = true;
      this.live--;
    }
  }

  private nextDue(end: number): ManualTimer | undefined {
    const heap = this.heap;
    while (heap.length > 0) {
      const top = heap[0]!;
      if (top.done) {
        heapPop(heap);
        continue;
      }
      if (top.at > end) return undefined;
      heapPop(heap);
      return top;
    }
    return undefined;
  }

  private fire(timer: ManualTimer): void {
    timer.done = true;
    this.live--;
    timer.fn();
  }
}

/** Resolves after every queued microtask (and the promise jobs they queue) has run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

class ManualTimer implements Timer {
  done = false;
  refed = false;
  constructor(
    private readonly clock: ManualClock,
    readonly fn: () => void,
    readonly at: number,
    readonly seq: number,
  ) {}

  clear(): void {
    this.clock.cancel(this);
  }

  ref(): this {
    this.refed = true;
    return this;
  }

  unref(): this {
    this.refed = false;
    return this;
  }
}

function less(a: ManualTimer, b: ManualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function heapPush(heap: ManualTimer[], t: ManualTimer): void {
  heap.push(t);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!less(heap[i]!, heap[parent]!)) break;
    [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
    i = parent;
  }
}

function heapPop(heap: ManualTimer[]): void {
  const last = heap.pop()!;
  if (heap.length === 0) return;
  heap[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
    if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
    if (m === i) return;
    [heap[i], heap[m]] = [heap[m]!, heap[i]!];
    i = m;
  }
}
