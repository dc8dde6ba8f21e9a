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
  /** When a job of this key last arrived. */
  seen: number;
  /** When the entry was last moved to the back of the table's Map (see KeyTable). */
  order: number;
  running = 0;
  queued = 0;
  /** The key's flow of each priority class, while it has waiters. */
  flows: (FairFlow | undefined)[] | undefined = undefined;

  constructor(
    readonly key: string,
    tokens: number,
    now: number,
  ) {
    this.tokens = tokens;
    this.stamp = now;
    this.seen = now;
    this.order = now;
  }
}

/**
 * A bounded table of keys with idle eviction on the injected clock.
 *
 * The Map's insertion order is kept approximately least-recently-used: a key is moved to the back
 * (delete + set) only when its last move is `idleMs / 8` old, so a hot key pays for a move at most
 * eight times per `idleMs` instead of on every call. Invariant: entries are in ascending `order`,
 * and a key's `seen` is at least its `order`. So a sweep from the front can stop at the first
 * entry with `order + idleMs > now`: no entry behind it has been idle for `idleMs`.
 *
 * A key is evicted when nothing of it runs or waits, its last job arrived `idleMs` ago or more,
 * and its bucket would be full again (nothing is forgotten: a new entry starts full). The sweep
 * runs on an unref'd timer every `idleMs` while the table holds keys, and at once when a new key
 * finds the table full; a key it finds busy or not yet refilled moves to the back.
 */
export class KeyTable {
  private readonly map = new Map<string, KeyState>();
  private readonly touchEvery: number;
  private timer: Timer | undefined = undefined;
  /** Keys evicted since the start. */
  evicted = 0;

  constructor(
    private readonly clock: Clock,
    private readonly maxKeys: number,
    private readonly idleMs: number,
    /** Tokens a new key starts with (its bucket's size; Infinity without a bucket). */
    private readonly tokenLimit: number,
    /** Tokens per ms of each key's bucket (0 without one). */
    private readonly perMs: number,
  ) {
    this.touchEvery = idleMs / 8;
  }

  get size(): number {
    return this.map.size;
  }

  /**
   * The key's state, created when new; `undefined` when the key is new and the table is full of
   * keys that cannot be evicted. Marks the key as seen now.
   */
  enter(key: string, now: number): KeyState | undefined {
    const map = this.map;
    let ks = map.get(key);
    if (ks !== undefined) {
      ks.seen = now;
      if (now - ks.order >= this.touchEvery) {
        map.delete(key);
        map.set(key, ks);
        ks.order = now;
      }
      return ks;
    }
    if (map.size >= this.maxKeys) {
      this.sweep(now);
      if (map.size >= this.maxKeys) return undefined;
    }
    ks = new KeyState(key, this.tokenLimit, now);
    map.set(key, ks);
    if (this.timer === undefined) this.arm();
    return ks;
  }

  /** Looks a key up without touching it (stats and tests). */
  peek(key: string): KeyState | undefined {
    return this.map.get(key);
  }

  /** Evicts idle keys from the front until the first one not idle for `idleMs`. */
  sweep(now: number): void {
    const map = this.map;
    const idleMs = this.idleMs;
    for (const ks of map.values()) {
      if (ks.order + idleMs > now) break;
      if (ks.running === 0 && ks.queued === 0 && ks.seen + idleMs <= now && this.refilled(ks, now)) {
        map.delete(ks.key);
        this.evicted++;
        continue;
      }
      // Busy, seen lately or not refilled yet: to the back, looked at again in idleMs.
      map.delete(ks.key);
      ks.order = now;
      map.set(ks.key, ks);
    }
  }

  /** Stops the sweep timer (the valve closed); the keys stay for `stats()`. */
  close(): void {
    this.timer?.clear();
    this.timer = undefined;
  }

  private refilled(ks: KeyState, now: number): boolean {
    return this.perMs === 0 || ks.tokens + (now - ks.stamp) * this.perMs >= this.tokenLimit;
  }

  /** The sweep timer is unref'd: an idle table never keeps a process alive. */
  private arm(): void {
    this.timer = this.clock
      .setTimeout(() => {
        this.timer = undefined;
        this.sweep(this.clock.now());
        if (this.map.size > 0) this.arm();
      }, this.idleMs)
      .unref();
  }
}
