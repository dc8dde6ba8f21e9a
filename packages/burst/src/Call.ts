import type { Timer } from '@valve/core';
import type { BatchRun } from './BatchRun.js';
import type { FetchContext } from './options.js';
import type { Waiter } from './Waiter.js';

/** Call states. A call is in the valve's map while PENDING, FRESH or STALE (and it owns the slot). */
export const PENDING = 0;
/** Fulfilled and lingering (`lingerMs`). */
export const FRESH = 1;
/** Past `lingerMs`, served while one refresh runs (`staleWhileRevalidateMs`). */
export const STALE = 2;
/** Settled and out of the map (or given up: timed out, abandoned). */
export const DONE = 3;

/**
 * What only some calls need (waiters, deadlines, batch, stale refresh, an AbortController).
 * Kept out of `Call` because every field of `Call` is allocated and scanned by the GC for every
 * distinct-key call, and in the common case none of these is ever set.
 */
class CallExtra<T, K> {
  gone = 0;
  deadWaiters = 0;
  waiters: Waiter[] | undefined = undefined;
  resolve: ((value: T) => void) | undefined = undefined;
  reject: ((error: unknown) => void) | undefined = undefined;
  timer: Timer | undefined = undefined;
  refresh: Call<T, K> | undefined = undefined;
  replaces: Call<T, K> | undefined = undefined;
  refreshFailed = false;
  batch: BatchRun<T, K> | undefined = undefined;
  controller: AbortController | undefined = undefined;
  abortedWith: { reason: unknown } | undefined = undefined;
}

/**
 * One fetcher run for one key, and everything its callers share.
 *
 * It is also the fetcher's `context` (as `FetchContext`), so a call allocates no second object
 * for it; the AbortController behind `signal` is made only on first read. Callers without a
 * signal or a per-call timeout all receive the same `promise` (no per-caller allocation); the
 * others are `waiters` with their own promise.
 *
 * The rarely used fields live in a `CallExtra` made on first write of a non-undefined value;
 * the accessors below read through it, so the valve's code reads as if they were fields.
 *
 * Invariant: `gone <= callers`; when `gone === callers` while PENDING, nobody waits any more and
 * the call is abandoned (its signal aborts, its slot is freed).
 */
export class Call<T, K> implements FetchContext<K> {
  // Fields are assigned in the constructor, not declared with initializers: one function builds
  // a Call (no separate field initializer to run and re-optimize), in a fixed order (one shape).
  declare readonly key: K | undefined;
  /** The map key (`keyOf(key)`), kept for the ownership check on cleanup. */
  declare readonly mapKey: unknown;
  /** Written by the valve when the promise exists (before the first caller gets it). */
  declare promise: Promise<T> | undefined;
  /** PENDING → FRESH → STALE → DONE, or PENDING → DONE. Written by the valve only. */
  declare state: number;
  /** Callers that joined (fetch calls, linger hits included). */
  declare callers: number;
  /** Callers holding `promise` itself: with none, a deadline or batch failure leaves it unsettled. */
  declare sharedUsers: number;
  /** Clock time the fetcher started; NaN when the valve does not time runs. */
  declare started: number;
  /** When a FRESH/STALE value expires, on the valve's clock. */
  declare expires: number;
  declare private x: CallExtra<T, K> | undefined;

  constructor(key: K | undefined, mapKey: unknown, callers: number) {
    this.key = key;
    this.mapKey = mapKey;
    this.promise = undefined;
    this.state = PENDING;
    this.callers = callers;
    this.sharedUsers = 0;
    this.started = Number.NaN;
    this.expires = 0;
    this.x = undefined;
  }

  private ext(): CallExtra<T, K> {
    if (this.x === undefined) this.x = new CallExtra();
    return this.x;
  }

  /** Callers that gave up (aborted or timed out) before the call settled. */
  get gone(): number {
    return this.x === undefined ? 0 : this.x.gone;
  }
  set gone(n: number) {
    this.ext().gone = n;
  }

  /** Waiters in `waiters` that gave up and were not compacted away yet (see `dropGivenUp`). */
  get deadWaiters(): number {
    return this.x === undefined ? 0 : this.x.deadWaiters;
  }
  set deadWaiters(n: number) {
    this.ext().deadWaiters = n;
  }

  /** Callers with their own promise (signal or per-call timeout); settled in `finish`. */
  get waiters(): Waiter[] | undefined {
    return this.x?.waiters;
  }
  set waiters(v: Waiter[] | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().waiters = v;
  }

  /** Set only when `promise` is settled from outside (a deadline or batch mode). */
  get resolve(): ((value: T) => void) | undefined {
    return this.x?.resolve;
  }
  set resolve(v: ((value: T) => void) | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().resolve = v;
  }

  get reject(): ((error: unknown) => void) | undefined {
    return this.x?.reject;
  }
  set reject(v: ((error: unknown) => void) | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().reject = v;
  }

  /** The valve-level deadline (single mode), cleared when the call settles. */
  get timer(): Timer | undefined {
    return this.x?.timer;
  }
  set timer(v: Timer | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().timer = v;
  }

  /** STALE only: the background refresh in flight. */
  get refresh(): Call<T, K> | undefined {
    return this.x?.refresh;
  }
  set refresh(v: Call<T, K> | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().refresh = v;
  }

  /** A refresh call only: the stale call it replaces if that still owns the slot. */
  get replaces(): Call<T, K> | undefined {
    return this.x?.replaces;
  }
  set replaces(v: Call<T, K> | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().replaces = v;
  }

  /** STALE only: its last background refresh failed (`staleIfErrorMs` keeps it past its window). */
  get refreshFailed(): boolean {
    return this.x === undefined ? false : this.x.refreshFailed;
  }
  set refreshFailed(v: boolean) {
    if (v || this.x !== undefined) this.ext().refreshFailed = v;
  }

  /** Batch mode: the batch this key was fetched in. */
  get batch(): BatchRun<T, K> | undefined {
    return this.x?.batch;
  }
  set batch(v: BatchRun<T, K> | undefined) {
    if (v !== undefined || this.x !== undefined) this.ext().batch = v;
  }

  get signal(): AbortSignal {
    const x = this.ext();
    if (x.batch !== undefined) return x.batch.signal;
    if (x.controller === undefined) {
      x.controller = new AbortController();
      if (x.abortedWith !== undefined) x.controller.abort(x.abortedWith.reason);
    }
    return x.controller.signal;
  }

  /** Aborts the fetcher's signal (if anybody read it), once. */
  abort(reason: unknown): void {
    const x = this.ext();
    if (x.abortedWith !== undefined) return;
    x.abortedWith = { reason };
    if (x.batch !== undefined) x.batch.keyGivenUp(reason);
    else x.controller?.abort(reason);
  }
}
