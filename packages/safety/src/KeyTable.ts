import type { Clock, Timer } from '@valve/core';
import type { FairFlow } from './FairLine.js';

/**
 * One key's state in a keyed valve: its bucket, its jobs in flight and waiting, and its flows in
 * the fair line (one per priority class, made only while the key has waiters, so an idle key is
 * this object and its Map entry). Fields are written by the valve on the paths named.
 */
export class KeyState {
  /** Tokens at `stamp` (fractional: the bucket refills continuously). */
  tokens: number;
  /** When `tokens` was computed, by the valve's clock. */
  stamp: number;
  /** The table's tick when a job of this key last arrived (see KeyTable). */
  seen: number;
  /** The table's tick when the entry was last moved to the back of the table's Map. */
  order: number;
  running = 0;
  queued = 0;
  /** The key's flow of each priority class, while it has waiters. */
  flows: (FairFlow | undefined)[] | undefined = undefined;

  constructor(
    readonly key: string,
    tokens: number,
    now: number,
    tick: number,
  ) {
    this.tokens = tokens;
    this.stamp = now;
    this.seen = tick;
    this.order = tick;
  }
}

/** Ticks per `idleMs`: a key is moved in the Map at most this often per `idleMs`. */
const TICKS = 8;

/**
 * A bounded table of keys with idle eviction on the injected clock.
 *
 * Time here is a tick counter, advanced by an unref'd timer every `idleMs / 8` while the table
 * holds keys, so a call finds its key without reading the clock. A key's `seen` is the tick of its
 * last call; it is idle once `tick - seen >= 9` (at least `idleMs` later, at most `idleMs * 9/8`).
 *
 * The Map's insertion order is kept approximately least-recently-used: a key is moved to the back
 * (delete + set) only when its last move was in an earlier tick, so a hot key pays for a move at
 * most eight times per `idleMs` instead of on every call. Invariant: entries are in ascending
 * `order`, and `seen >= order`. So a sweep from the front stops at the first entry with
 * `tick - order < 9`: no entry behind it can be idle, and a sweep costs the keys it evicts or moves.
 *
 * A key is evicted when nothing of it waits (or runs, where the valve counts it), it is idle, and
 * its bucket would be full again (nothing is forgotten: a new entry starts full). The sweep runs at
 * every tick and at once when a new key finds the table full; a key it finds busy or not yet
 * refilled moves to the back.
 */
export class KeyTable {
  private readonly map = new Map<string, KeyState>();
  private readonly tickMs: number;
  private timer: Timer | undefined = undefined;
  /** The current tick (written by the timer only). */
  tick = 0;
  /** Keys evicted since the start. */
  evicted = 0;

  constructor(
    private readonly clock: Clock,
    private readonly maxKeys: number,
    idleMs: number,
    /** Tokens a new key starts with (its bucket's size; Infinity without a bucket). */
    private readonly tokenLimit: number,
    /** Tokens per ms of each key's bucket (0 without one). */
    private readonly perMs: number,
  ) {
    this.tickMs = idleMs / TICKS;
  }

  get size(): number {
    return this.map.size;
  }

  /**
   * The key's state, created when new; `undefined` when the key is new and the table is full of
   * keys that cannot be evicted. Marks the key as seen in this tick.
   */
  enter(key: string): KeyState | undefined {
    const map = this.map;
    const tick = this.tick;
    let ks = map.get(key);
    if (ks !== undefined) {
      if (ks.order !== tick) {
        map.delete(key);
        map.set(key, ks);
        ks.order = tick;
      }
      ks.seen = tick;
      return ks;
    }
    if (map.size >= this.maxKeys) {
      this.sweep();
      if (map.size >= this.maxKeys) return undefined;
    }
    const now = this.perMs === 0 ? 0 : this.clock.now();
    ks = new KeyState(key, this.tokenLimit, now, tick);
    map.set(key, ks);
    if (this.timer === undefined) this.arm();
    return ks;
  }

  /** Looks a key up without touching it (stats and tests). */
  peek(key: string): KeyState | undefined {
    return this.map.get(key);
  }

  /** Evicts idle keys from the front until the first one seen within `idleMs`. */
  sweep(): void {
    const map = this.map;
    const tick = this.tick;
    const now = this.perMs === 0 ? 0 : this.clock.now();
    for (const ks of map.values()) {
      if (tick - ks.order <= TICKS) break;
      if (ks.running === 0 && ks.queued === 0 && tick - ks.seen > TICKS && this.refilled(ks, now)) {
        map.delete(ks.key);
        this.evicted++;
        continue;
      }
      // Busy, seen lately or not refilled yet: to the back, looked at again in idleMs.
      map.delete(ks.key);
      ks.order = tick;
      map.set(ks.key, ks);
    }
  }

  /** Stops the tick timer (the valve closed); the keys stay for `stats()`. */
  close(): void {
    this.timer?.clear();
    this.timer = undefined;
  }

  private refilled(ks: KeyState, now: number): boolean {
    return this.perMs === 0 || ks.tokens + (now - ks.stamp) * this.perMs >= this.tokenLimit;
  }

  /** The tick timer is unref'd: an idle table never keeps a process alive. */
  private arm(): void {
    this.timer = this.clock
      .setTimeout(() => {
        this.timer = undefined;
        this.tick++;
        this.sweep();
        if (this.map.size > 0) this.arm();
      }, this.tickMs)
      .unref();
  }
}
