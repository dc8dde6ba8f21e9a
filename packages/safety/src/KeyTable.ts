import type { Clock, Timer } from '@valve/core';
import type { FairFlow } from './FairLine.js';

/**
 * One key's state in a keyed valve: its jobs in flight and waiting, its flows in the fair line
 * (one per priority class, made only while the key has waiters, so an idle key is this object, its
 * Map entry and its bucket's two numbers) and where its bucket lives in the table's `buckets`.
 * Fields are written by the valve on the paths named.
 */
export class KeyState {
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
    /** Index of the key's tokens in the table's `buckets` (its `stamp` follows); 0 without buckets. */
    readonly slot: number,
    tick: number,
  ) {
    this.seen = tick;
    this.order = tick;
  }
}

/** Ticks per `idleMs`: a key is moved in the Map at most this often per `idleMs`. */
const TICKS = 8;

/** Bucket slots the table starts with (grown by doubling up to `maxKeys`). */
const FIRST_SLOTS = 64;

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
 *
 * The keys' buckets (with `perMs > 0`) live in one `Float64Array`, two numbers per key at its
 * `slot`: the tokens at `stamp`, then `stamp` (the valve's clock). Not as fields of `KeyState`:
 * V8 keeps a double-valued field in a HeapNumber of its own, so the two numbers were two more
 * objects to reach per call, each a cache miss once the table outgrows the cache. An evicted key's
 * slot is reused by the next new key.
 */
export class KeyTable {
  private readonly map = new Map<string, KeyState>();
  private readonly tickMs: number;
  private timer: Timer | undefined = undefined;
  /** The current tick (written by the timer only). */
  tick = 0;
  /** Keys evicted since the start. */
  evicted = 0;
  /**
   * Each key's bucket at its `slot`: tokens, then the time they were computed at. Replaced by a
   * larger copy when it fills up (read it through the table on every call, never keep it).
   */
  buckets: Float64Array = new Float64Array(0);
  /** Slots handed out so far (each free again or held by a key). */
  private slots = 0;
  /** Slots of evicted keys, reused first. */
  private readonly free: number[] = [];

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
   * keys that cannot be evicted. Marks the key as seen in this tick. `now` is the clock's time when
   * the table has buckets (a new key's bucket starts full then), else unused.
   */
  enter(key: string, now: number): KeyState | undefined {
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
      this.sweep(now);
      if (map.size >= this.maxKeys) return undefined;
    }
    let slot = 0;
    if (this.perMs !== 0) {
      slot = this.slot();
      this.buckets[slot] = this.tokenLimit;
      this.buckets[slot + 1] = now;
    }
    ks = new KeyState(key, slot, tick);
    map.set(key, ks);
    if (this.timer === undefined) this.arm();
    return ks;
  }

  /** Looks a key up without touching it (stats and tests). */
  peek(key: string): KeyState | undefined {
    return this.map.get(key);
  }

  /** The key's tokens at `now` (refilled, at most the bucket's size); Infinity without buckets. */
  tokens(ks: KeyState, now: number): number {
    if (this.perMs === 0) return Number.POSITIVE_INFINITY;
    const b = this.buckets;
    return Math.min(this.tokenLimit, b[ks.slot]! + (now - b[ks.slot + 1]!) * this.perMs);
  }

  /**
   * Evicts idle keys from the front until the first one seen within `idleMs`. `now` as `enter`'s
   * (read here when not given).
   */
  sweep(now = this.perMs === 0 ? 0 : this.clock.now()): void {
    const map = this.map;
    const tick = this.tick;
    for (const ks of map.values()) {
      if (tick - ks.order <= TICKS) break;
      if (ks.running === 0 && ks.queued === 0 && tick - ks.seen > TICKS && this.refilled(ks, now)) {
        map.delete(ks.key);
        if (this.perMs !== 0) this.free.push(ks.slot);
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
    return this.tokens(ks, now) >= this.tokenLimit;
  }

  /** A free bucket slot: an evicted key's, else a new one (the array doubled when full). */
  private slot(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const slot = this.slots * 2;
    if (slot === this.buckets.length) {
      // Never more slots than keys: maxKeys bounds the array (16 bytes a key).
      const grown = new Float64Array(Math.min(this.maxKeys, Math.max(FIRST_SLOTS, this.slots * 2)) * 2);
      grown.set(this.buckets);
      this.buckets = grown;
    }
    this.slots++;
    return slot;
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
