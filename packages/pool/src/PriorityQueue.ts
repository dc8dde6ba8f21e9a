import { RingBuffer } from '@valve/core';

/**
 * The pool's waiting line: higher priority first, FIFO within a priority.
 *
 * Layout: one core `RingBuffer` per distinct priority value (a "level"), the levels in an array
 * sorted by priority (highest first), and a `Map` from priority to level. `top` indexes the
 * highest level that may hold items.
 *
 * Cost, with L the number of distinct priorities in use (a handful in practice):
 * - `push` to a known priority: one Map lookup and one ring push, O(1) amortized;
 * - `push` of a priority never seen before: a sorted insert, O(L), once per level;
 * - `shift`: O(1) amortized (when `top` empties, the scan to the next level is paid for by the
 *   pushes that filled the levels it skips).
 *
 * Why not a binary heap: it is O(log n) per operation and needs a sequence number per item to
 * stay FIFO within a priority. Why not a fixed number of levels: p-queue's users pass arbitrary
 * numbers as priorities. Empty levels are kept (with their ring's capacity) because a level that
 * was used is likely to be used again; past {@link MAX_IDLE_LEVELS} levels, empty ones are pruned.
 *
 * Tags: every item carries a tag (the pool uses the drain cohort it was accepted in) without a
 * field per item: each level keeps its head run `{ tag, count }` and a second, tiny ring of the
 * runs after it (run-length encoding), so consecutive items with the same tag cost one counter increment, and `lastTag`
 * tells the tag of the item `shift` just returned. Items are stored as they are (a pool's plain
 * task is the user's function itself), so a queued plain task costs one ring slot.
 */

const MAX_IDLE_LEVELS = 64;

/** `count` consecutive items of one level carry `tag`. */
class Run {
  constructor(
    readonly tag: unknown,
    public count: number,
  ) {}
}

class Level<T> {
  readonly items = new RingBuffer<T>();
  /** Runs after `head`, oldest first. */
  readonly runs = new RingBuffer<Run>(4);
  /** The run of the item at the head (undefined when the level is empty). */
  head: Run | undefined = undefined;
  /** The run the next push extends if its tag matches (undefined when the level is empty). */
  tail: Run | undefined = undefined;
  constructor(readonly priority: number) {}
}

export class PriorityQueue<T, Tag = unknown> {
  /** Levels by priority, highest first. */
  private levels: Level<T>[] = [];
  private readonly byPriority = new Map<number, Level<T>>();
  /** Index into `levels` of the highest level that may be non-empty. */
  private top = 0;
  /**
   * Items waiting. A field (a getter is a call, which a fresh process's interpreted hot path
   * pays per read). A subclass that removes items from the middle without taking them out (the
   * pool's `PoolLine`, whose aborted jobs stay until skipped) lowers it itself, and raises it
   * again when `shift` returns such an item: it then counts the live items, and `shift` returns
   * `undefined` once none is left, even with removed ones still held.
   */
  size = 0;
  /** The priority-0 level, looked up without the Map (the common case). */
  private readonly zero: Level<T>;
  /** The tag of the item the last `shift` returned. */
  lastTag: Tag | undefined = undefined;

  constructor() {
    this.zero = this.level(0);
  }

  /** Number of priority levels currently allocated (for tests and stats). */
  get levelCount(): number {
    return this.levels.length;
  }

  push(item: T, priority: number, tag: Tag): void {
    const level = priority === 0 ? this.zero : (this.byPriority.get(priority) ?? this.level(priority));
    const tail = level.tail;
    if (tail !== undefined && tail.tag === tag) tail.count++;
    else this.newRun(level, tag);
    level.items.push(item);
    this.size++;
    this.raiseTop(level);
  }

  /** `push(item, 0, tag)`, the common case, without the level lookup. */
  pushZero(item: T, tag: Tag): void {
    const level = this.zero;
    const tail = level.tail;
    if (tail !== undefined && tail.tag === tag) tail.count++;
    else this.newRun(level, tag);
    level.items.push(item);
    this.size++;
    if (this.top !== 0) this.raiseTop(level);
  }

  /** Puts back the item `shift` just returned (with its tag, `lastTag`) at the head of its level. */
  unshift(item: T, priority: number): void {
    const level = priority === 0 ? this.zero : this.byPriority.get(priority)!;
    const tag = this.lastTag;
    const head = level.head;
    if (head !== undefined && head.tag === tag) head.count++;
    else {
      const run = new Run(tag, 1);
      if (head !== undefined) level.runs.unshift(head);
      level.head = run;
      if (level.tail === undefined) level.tail = run;
    }
    level.items.unshift(item);
    this.size++;
    this.raiseTop(level);
  }

  /** Removes and returns the oldest item of the highest priority, or `undefined`. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const levels = this.levels;
    let level = levels[this.top]!;
    while (level.items.size === 0) level = levels[++this.top]!;
    // shiftLevel(level) written out: the pool's hand-over calls shift() once per queued task, and
    // in a fresh process each call level is paid interpreted until V8 optimizes the path.
    const run = level.head!;
    this.lastTag = run.tag as Tag;
    if (--run.count === 0) {
      level.head = level.runs.shift();
      if (level.head === undefined) level.tail = undefined;
    }
    this.size--;
    return level.items.shift();
  }

  /**
   * Priority aging: among the heads of the non-empty levels (each the oldest of its level), the
   * one with the highest `score` >= 0 is removed and returned; when no head scores >= 0, the
   * plain `shift()`. Ties go to the higher level. O(levels in use).
   */
  shiftBest(score: (head: T) => number): T | undefined {
    if (this.size === 0) return undefined;
    const levels = this.levels;
    let best: Level<T> | undefined;
    let bestScore = -1;
    for (let i = this.top; i < levels.length; i++) {
      const level = levels[i]!;
      if (level.items.size === 0) continue;
      const s = score(level.items.peek()!);
      if (s > bestScore) {
        bestScore = s;
        best = level;
      }
    }
    return best === undefined ? this.shift() : this.shiftLevel(best);
  }

  private shiftLevel(level: Level<T>): T | undefined {
    const run = level.head!;
    this.lastTag = run.tag as Tag;
    if (--run.count === 0) {
      level.head = level.runs.shift();
      if (level.head === undefined) level.tail = undefined;
    }
    this.size--;
    return level.items.shift();
  }

  /** Keeps only the items for which `keep` is true, in order, with their tags. */
  filter(keep: (item: T) => boolean): void {
    this.size = 0;
    for (const level of this.levels) {
      if (level.items.size === 0) continue;
      const items = level.items.toArray();
      const runs = [level.head!, ...level.runs.toArray()];
      level.items.clear();
      level.runs.clear();
      level.head = undefined;
      level.tail = undefined;
      let i = 0;
      for (const run of runs) {
        let kept = 0;
        for (let k = 0; k < run.count; k++, i++) {
          if (keep(items[i]!)) {
            level.items.push(items[i]!);
            kept++;
          }
        }
        if (kept === 0) continue;
        // (Read through a local: TypeScript does not see newRun() writing level.tail.)
        const tail = level.tail as Run | undefined;
        if (tail !== undefined && tail.tag === run.tag) tail.count += kept;
        else this.newRun(level, run.tag, kept);
      }
      this.size += level.items.size;
    }
  }

  /** Appends a run of `count` items tagged `tag` (the caller pushes the items). */
  private newRun(level: Level<T>, tag: unknown, count = 1): void {
    const run = new Run(tag, count);
    if (level.head === undefined) level.head = run;
    else level.runs.push(run);
    level.tail = run;
  }

  private raiseTop(level: Level<T>): void {
    // Invariant: every level before `top` is empty. A push below `top` keeps it; a push above
    // moves it up. An empty `top` is left for `shift` to advance past.
    if (level.priority > this.levels[this.top]!.priority) this.top = this.levels.indexOf(level);
  }

  private level(priority: number): Level<T> {
    if (this.levels.length >= MAX_IDLE_LEVELS) this.prune();
    const level = new Level<T>(priority);
    let i = 0;
    while (i < this.levels.length && this.levels[i]!.priority > priority) i++;
    this.levels.splice(i, 0, level);
    this.byPriority.set(priority, level);
    if (i <= this.top && this.size > 0) this.top++;
    if (this.size === 0) this.top = 0;
    return level;
  }

  /** Drops empty levels other than priority 0. */
  private prune(): void {
    const keep = this.levels.filter((l) => l.items.size > 0 || l.priority === 0);
    for (const l of this.levels) if (!keep.includes(l)) this.byPriority.delete(l.priority);
    this.levels = keep;
    this.top = 0;
    while (this.top < keep.length - 1 && keep[this.top]!.items.size === 0) this.top++;
  }
}
