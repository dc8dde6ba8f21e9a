import type { Timer } from '@valve/core';
import type { Call } from './Call.js';
import type { BatchContext } from './options.js';

/**
 * One batch fetcher run: the keys (one `Call` each) that were merged from one tick, and what
 * they share. It is the batch fetcher's `context`; its AbortController is made on first read
 * of `signal`, and aborts when every key of the batch was given up (each key's callers all
 * aborted or timed out) or the valve's `timeoutMs` ran out.
 */
export class BatchRun<T, K> implements BatchContext<K> {
  /** Keys not given up yet; at 0 the fetcher's signal aborts. */
  private live: number;
  /** True once the fetcher's promise settled; later `earlyWrite`s throw, as in burst-valve. */
  finished = false;
  timer: Timer | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private abortedWith: { reason: unknown } | undefined = undefined;
  /**
   * Built on the first lookup by key (a Map result or an `earlyWrite`), not for arrays. A key is
   * in a batch twice when it was forgotten (`clear`) and asked again before the batch went; its
   * entry is then the array of its calls, which all get the key's one result.
   */
  private index: Map<unknown, Call<T, K> | Call<T, K>[]> | undefined = undefined;

  constructor(
    readonly keys: K[],
    readonly calls: Call<T, K>[],
    private readonly keyOf: ((key: K) => unknown) | undefined,
  ) {
    this.live = calls.length;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortedWith !== undefined) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  /** The call (or calls) of `key` in this batch (by `keyOf`), if the key belongs to it. */
  lookup(key: K): Call<T, K> | Call<T, K>[] | undefined {
    if (this.index === undefined) {
      const index = new Map<unknown, Call<T, K> | Call<T, K>[]>();
      for (const c of this.calls) {
        const seen = index.get(c.mapKey);
        if (seen === undefined) index.set(c.mapKey, c);
        else if (Array.isArray(seen)) seen.push(c);
        else index.set(c.mapKey, [seen, c]);
      }
      this.index = index;
    }
    if (this.keyOf === undefined) return this.index.get(key);
    let mapKey: unknown;
    try {
      mapKey = (0, this.keyOf)(key); // no receiver: user code never sees the batch as `this`
    } catch {
      // A key keyOf cannot map is none of ours (it is never asked: asked keys were mapped
      // before joining). Throwing here would leave the batch's other keys unsettled.
      return undefined;
    }
    return this.index.get(mapKey);
  }

  /** One key's callers all gave up. */
  keyGivenUp(reason: unknown): void {
    if (--this.live === 0) this.abort(reason);
  }

  abort(reason: unknown): void {
    if (this.abortedWith !== undefined) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
  }
}
