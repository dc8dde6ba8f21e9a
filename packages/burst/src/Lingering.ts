import type { Clock } from '@valve/core';
import { type Call, DONE, FRESH, STALE } from './Call.js';
import { LingerQueue } from './LingerQueue.js';

/**
 * The micro-cache behind `lingerMs` and `staleWhileRevalidateMs`: a fulfilled call stays in the
 * valve's map as FRESH for `lingerMs`, then as STALE for `staleWhileRevalidateMs` (served at once
 * while one refresh runs), then leaves. Each window is one `LingerQueue` (one timer for its head).
 *
 * It shares the valve's map and keeps its ownership rule: an expiring value removes its entry only
 * if the map still holds that very call (a forgotten or replaced value does nothing). At most
 * `maxKeys` values linger; the oldest (stale before fresh) is evicted to make room.
 */
export class Lingering<T, K> {
  /** Values lingering now (FRESH or STALE calls), as counted by `linger` and `drop`. */
  count = 0;
  private readonly fresh: LingerQueue<Call<T, K>> | undefined;
  private readonly stale: LingerQueue<Call<T, K>> | undefined;

  constructor(
    private readonly map: Map<unknown, Call<T, K>>,
    private readonly clock: Clock,
    lingerMs: number,
    staleMs: number,
    private readonly maxKeys: number,
  ) {
    this.fresh =
      lingerMs > 0
        ? new LingerQueue<Call<T, K>>(
            clock,
            lingerMs,
            (c, now) => this.expireFresh(c, now),
            (c) => c.state === FRESH,
          )
        : undefined;
    this.stale =
      staleMs > 0
        ? new LingerQueue<Call<T, K>>(
            clock,
            staleMs,
            (c) => this.expireStale(c),
            (c) => c.state === STALE,
          )
        : undefined;
  }

  /** Whether fulfilled values linger at all (either window is on). */
  get enabled(): boolean {
    return this.fresh !== undefined || this.stale !== undefined;
  }

  /** A fulfilled call that owns its slot starts lingering (fresh, or stale without `lingerMs`). */
  linger(call: Call<T, K>): void {
    const now = this.clock.now();
    this.count++;
    if (this.fresh !== undefined) {
      call.state = FRESH;
      this.fresh.push(call, now, this.count);
    } else {
      call.state = STALE;
      (this.stale as LingerQueue<Call<T, K>>).push(call, now, this.count);
    }
    if (this.count > this.maxKeys) this.evictOldest();
  }

  /** The value stops lingering (forgotten, replaced by its refresh, evicted, expired, closed). */
  drop(call: Call<T, K>): void {
    if (call.state === FRESH || call.state === STALE) {
      call.state = DONE;
      this.count--;
    }
  }

  /** close(): every lingering value of the map is dropped and both timers are cleared. */
  clear(): void {
    for (const call of this.map.values()) this.drop(call);
    this.fresh?.clear();
    this.stale?.clear();
  }

  /** `maxKeys` overflow: drop the oldest lingering value (stale ones are older than fresh ones). */
  private evictOldest(): void {
    for (const queue of [this.stale, this.fresh]) {
      if (queue === undefined) continue;
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        if (c.state === (queue === this.fresh ? FRESH : STALE) && this.map.get(c.mapKey) === c) {
          this.map.delete(c.mapKey);
          this.drop(c);
          return;
        }
      }
    }
  }

  private expireFresh(call: Call<T, K>, now: number): void {
    if (call.state !== FRESH || this.map.get(call.mapKey) !== call) return;
    if (this.stale !== undefined) {
      call.state = STALE;
      this.stale.push(call, now, this.count);
    } else {
      this.map.delete(call.mapKey);
      this.drop(call);
    }
  }

  private expireStale(call: Call<T, K>): void {
    if (call.state !== STALE || this.map.get(call.mapKey) !== call) return;
    this.map.delete(call.mapKey);
    this.drop(call);
  }
}
