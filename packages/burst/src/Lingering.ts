import { type Clock, rethrowLater } from '@valve/core';
import { type Call, DONE, FRESH, STALE } from './Call.js';
import { LingerHeap } from './LingerHeap.js';
import { LingerQueue } from './LingerQueue.js';
import type { LingerFunction } from './options.js';

/**
 * The micro-cache behind `lingerMs`, `staleWhileRevalidateMs` and `staleIfErrorMs`: a fulfilled
 * (or primed) call stays in the valve's map as FRESH for its lifetime, then as STALE for
 * `staleWhileRevalidateMs` (served at once while one refresh runs), then, if its last refresh
 * failed or is still running, STALE for up to `staleIfErrorMs` more; then it leaves. A constant
 * window is one `LingerQueue` (FIFO, one timer); `lingerMs` as a function is a `LingerHeap`.
 *
 * It shares the valve's map and keeps its ownership rule: an expiring value removes its entry only
 * if the map still holds that very call (a forgotten or replaced value does nothing). At most
 * `maxKeys` values linger; the oldest (held on error, then stale, then fresh) is evicted first.
 */
export class Lingering<T, K> {
  /** Values lingering now (FRESH or STALE calls), as counted by `linger` and `drop`. */
  count = 0;
  private readonly fresh: LingerQueue<Call<T, K>> | undefined;
  /** `lingerMs` as a function: per-value lifetimes. */
  private readonly freshHeap: LingerHeap<Call<T, K>> | undefined;
  private readonly lifetimeOf: LingerFunction<T, K> | undefined;
  private readonly stale: LingerQueue<Call<T, K>> | undefined;
  /** `staleIfErrorMs`: stale values whose refresh failed, kept past their stale window. */
  private readonly onError: LingerQueue<Call<T, K>> | undefined;

  constructor(
    private readonly map: Map<unknown, Call<T, K>>,
    private readonly clock: Clock,
    lingerMs: number | LingerFunction<T, K>,
    staleMs: number,
    staleIfErrorMs: number,
    private readonly maxKeys: number,
  ) {
    const isFresh = (c: Call<T, K>) => c.state === FRESH;
    const isStale = (c: Call<T, K>) => c.state === STALE;
    if (typeof lingerMs === 'function') {
      this.lifetimeOf = lingerMs;
      this.freshHeap = new LingerHeap<Call<T, K>>(clock, (c, now) => this.expireFresh(c, now), isFresh);
    } else if (lingerMs > 0) {
      this.fresh = new LingerQueue<Call<T, K>>(clock, lingerMs, (c, now) => this.expireFresh(c, now), isFresh);
    }
    if (staleMs > 0)
      this.stale = new LingerQueue<Call<T, K>>(clock, staleMs, (c, now) => this.expireStale(c, now), isStale);
    if (staleIfErrorMs > 0) {
      this.onError = new LingerQueue<Call<T, K>>(clock, staleIfErrorMs, (c) => this.remove(c, STALE), isStale);
    }
  }

  /** Whether fulfilled values linger at all (a fresh or a stale window is on). */
  get enabled(): boolean {
    return this.fresh !== undefined || this.freshHeap !== undefined || this.stale !== undefined;
  }

  /**
   * A fulfilled call that owns its slot starts lingering (fresh, or stale without `lingerMs`).
   * False when it is not kept (`lingerMs(value)` gave 0, threw or gave a bad number): the caller
   * frees the slot.
   */
  linger(call: Call<T, K>, value: T): boolean {
    const now = this.clock.now();
    if (this.freshHeap !== undefined) {
      const ms = this.lifetime(value, call.key);
      if (ms === 0) return false;
      this.count++;
      call.state = FRESH;
      this.freshHeap.push(call, now, ms, this.count);
    } else if (this.fresh !== undefined) {
      this.count++;
      call.state = FRESH;
      this.fresh.push(call, now, this.count);
    } else {
      this.count++;
      call.state = STALE;
      (this.stale as LingerQueue<Call<T, K>>).push(call, now, this.count);
    }
    if (this.count > this.maxKeys) this.evictOldest();
    return true;
  }

  /** The value stops lingering (forgotten, replaced by its refresh, evicted, expired, closed). */
  drop(call: Call<T, K>): void {
    if (call.state === FRESH || call.state === STALE) {
      call.state = DONE;
      this.count--;
    }
  }

  /** close() and clearAll(): every lingering value of the map is dropped and every timer cleared. */
  clear(): void {
    for (const call of this.map.values()) this.drop(call);
    this.fresh?.clear();
    this.freshHeap?.clear();
    this.stale?.clear();
    this.onError?.clear();
  }

  /** `lingerMs(value, key)`, checked: a throw or a bad result keeps nothing and is rethrown later. */
  private lifetime(value: T, key: K | undefined): number {
    let ms: unknown;
    try {
      ms = (this.lifetimeOf as LingerFunction<T, K>)(value, key);
    } catch (error) {
      rethrowLater(error);
      return 0;
    }
    if (typeof ms !== 'number' || !(ms >= 0)) {
      rethrowLater(new RangeError(`lingerMs(value, key) must return a number >= 0, got ${String(ms)}`));
      return 0;
    }
    return ms;
  }

  /** `maxKeys` overflow: drop the oldest lingering value (held on error, then stale, then fresh). */
  private evictOldest(): void {
    for (const queue of [this.onError, this.stale, this.fresh ?? this.freshHeap]) {
      if (queue === undefined) continue;
      const state = queue === this.fresh || queue === this.freshHeap ? FRESH : STALE;
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        if (this.remove(c, state)) return;
      }
    }
  }

  private expireFresh(call: Call<T, K>, now: number): void {
    if (call.state !== FRESH || this.map.get(call.mapKey) !== call) return;
    if (this.stale !== undefined) {
      call.state = STALE;
      this.stale.push(call, now, this.count);
    } else {
      this.remove(call, FRESH);
    }
  }

  private expireStale(call: Call<T, K>, now: number): void {
    if (call.state !== STALE || this.map.get(call.mapKey) !== call) return;
    // stale-if-error: the last refresh failed, or is still running and may fail.
    if (this.onError !== undefined && (call.refreshFailed || call.refresh !== undefined)) {
      this.onError.push(call, now, this.count);
    } else {
      this.remove(call, STALE);
    }
  }

  /** Removes `call` if it is still in `state` and owns its slot; true if it did. */
  private remove(call: Call<T, K>, state: number): boolean {
    if (call.state !== state || this.map.get(call.mapKey) !== call) return false;
    this.map.delete(call.mapKey);
    this.drop(call);
    return true;
  }
}
