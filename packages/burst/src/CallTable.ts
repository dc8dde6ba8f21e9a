/**
 * The table of calls behind BurstValve: at most one call per map key, and the life of each call
 * (started, joined, settled, lingering, given up, timed out). BurstValve (the public API:
 * arguments, the fast path, stats, close) extends it.
 *
 * Ownership: a finished call removes (or lingers) its map entry only if the map still holds that
 * very call (singleflight's `g.m[key] == c`), so `forget()` and abandoned calls never let an old
 * call clobber a newer one.
 *
 * Counting (the Valve contract's words, unit: a fetcher run): every call that starts is
 * `admitted`; it leaves PENDING exactly once, through `finish` (`completed` or `failed`) or
 * `abandon` (`failed`, or `rejected` as `aborted` for a batch key that never reached the fetcher).
 */
import { type Clock, describeValue, Emitter, rethrowLater, SignalGroups, TimeoutError } from '@valve/core';
import { BatchScheduler } from './BatchScheduler.js';
import { BurstMetrics } from './BurstMetrics.js';
import { Call, DONE, PENDING, STALE } from './Call.js';
import { Lingering } from './Lingering.js';
import type { NormalizedOptions } from './normalizeOptions.js';
import type { BatchContext, BatchFetcher, BatchResult, Fetcher, FetchContext, SettledEvent } from './options.js';
import { promiseInto } from './promiseInto.js';
import { Waiter } from './Waiter.js';

type AnyCall = Call<unknown, unknown>;
const resolved = Promise.resolve();

export abstract class CallTable<T, K> {
  /** burst-valve's name, used in error messages. */
  readonly displayName: string;
  /** The metric label `valve="…"` and `stats().name`. */
  readonly name: string;
  protected readonly fetcher: Fetcher<T, K> | undefined;
  protected readonly batcher: BatchFetcher<T, K> | undefined;
  protected readonly keyOf: ((key: K) => unknown) | undefined;
  protected readonly timeoutMs: number;
  protected readonly clock: Clock;
  private readonly onError: ((error: unknown, key: K | undefined) => void) | undefined;
  /** True when call promises are settled from outside (a deadline or batch mode). */
  private readonly external: boolean;
  /**
   * Whether fetcher runs are timed: a clock read costs ~60 ns on Node 20 (two per run would be a
   * fifth of a whole distinct-key call), so only with a `metrics` registry or an `onSettled`
   * listener.
   */
  private readonly timed: boolean;
  /** map key → the call that owns the slot (PENDING, FRESH or STALE). */
  protected readonly map = new Map<unknown, Call<T, K>>();
  /**
   * The callers waiting with a signal, grouped by signal: one abort listener per distinct signal
   * per valve, O(1) removal (core's SignalGroups; CONTRIBUTING, Admission rule 3).
   */
  // keepListening: a fresh signal per caller then costs no removeEventListener (core SignalGroups).
  private readonly groups = new SignalGroups<Waiter>((w, reason) => this.giveUp(w, reason), undefined, {
    keepListening: true,
  });
  protected readonly lingering: Lingering<T, K>;
  /** Batch mode only. */
  protected readonly batches: BatchScheduler<T, K> | undefined;
  protected readonly metrics: BurstMetrics;
  protected readonly settled$ = new Emitter<SettledEvent<K>>();
  protected inFlightCount = 0;
  /** Calls rejected before joining anything (aborted signal, closed valve, throwing keyOf). */
  protected unjoined = 0;
  /** Fetcher runs started (a batch key counts when its batch is handed to the fetcher). */
  protected admitted = 0;
  /** Fetcher runs settled successfully. */
  protected completed = 0;
  /** Fetcher runs settled with an error, timed out, or given up by every caller after they started. */
  protected failed = 0;
  /** Callers refused because the valve was closed. */
  protected refusedClosed = 0;
  /** Callers whose signal had aborted before they joined, and batch keys given up before dispatch. */
  protected refusedAborted = 0;
  /** Fetcher runs that were stale-while-revalidate refreshes (no caller started them). */
  protected refreshes = 0;
  /** Set by close(): no caller is accepted any more. */
  protected closed = false;
  /** Resolves close()'s promise once the last call in flight settles. */
  protected whenIdle: (() => void) | undefined = undefined;

  constructor(o: NormalizedOptions<T, K>) {
    this.displayName = o.displayName;
    this.name = o.name;
    this.fetcher = o.fetcher;
    this.batcher = o.batcher;
    this.keyOf = o.keyOf;
    this.timeoutMs = o.timeoutMs;
    this.clock = o.clock;
    this.onError = o.onError;
    this.timed = o.registry !== undefined;
    this.external = this.batcher !== undefined || this.timeoutMs !== Number.POSITIVE_INFINITY;
    this.lingering = new Lingering<T, K>(
      this.map,
      this.clock,
      o.lingerMs,
      o.staleWhileRevalidateMs,
      o.staleIfErrorMs,
      o.maxKeys,
    );
    this.batches =
      this.batcher === undefined
        ? undefined
        : new BatchScheduler<T, K>(
            {
              execute: (keys, earlyWrite, run) => this.executeBatch(keys, earlyWrite, run),
              started: (calls) => this.batchStarted(calls),
              settle: (call, ok, value) => this.settleRun(call, ok, value),
              timedOut: (call, error) => this.timedOut(call, error),
            },
            this.clock,
            this.timeoutMs,
            o.maxBatchSize,
            o.batchWindowMs,
            o.batchScheduleFn,
            this.keyOf,
            this.displayName,
          );
    this.metrics = new BurstMetrics(
      this.name,
      o.registry,
      () => this.inFlightCount,
      () => this.lingering.count,
    );
  }

  /** Runs the single-key fetcher (see BurstValve's extension points). */
  protected abstract execute(key: K | undefined, context: FetchContext<K>): T | PromiseLike<T>;

  /** Runs the batch fetcher (see BurstValve's extension points). */
  protected abstract executeBatch(
    keys: K[],
    earlyWrite: (key: K, result: T | Error) => void,
    context: BatchContext<K>,
  ): PromiseLike<BatchResult<T, K>> | BatchResult<T, K>;

  // ---- joining and starting calls ----

  protected mapKeyOf(key: K | undefined): unknown {
    // `(0, f)(key)`: user callbacks run without a receiver (never an internal object as `this`).
    return key === undefined || this.keyOf === undefined ? key : (0, this.keyOf)(key);
  }

  /** Counts one caller into the call for `key` (whose `keyOf` is `mapKey`), starting one if needed. */
  protected join(key: K | undefined, mapKey: unknown): Call<T, K> {
    // No `calls` counter here: stats() derives it, which keeps one increment off the hot path.
    let call = this.map.get(mapKey);
    if (call === undefined) {
      call = this.start(key, mapKey);
    } else {
      call.callers++;
      if (call.state === PENDING) {
        this.metrics.coalesced.inc();
      } else {
        this.metrics.lingerHits.inc();
        if (call.state === STALE && call.refresh === undefined) this.revalidate(call);
      }
    }
    return call;
  }

  /** The first caller of `mapKey` (not in the map): a new call that owns the slot. */
  protected start(key: K | undefined, mapKey: unknown): Call<T, K> {
    const call = new Call<T, K>(key, mapKey, 1);
    this.map.set(mapKey, call);
    this.launch(call);
    return call;
  }

  /** A new call in flight: run now (single mode) or queued for this tick's batch. */
  private launch(call: Call<T, K>): void {
    if (this.batches === undefined) {
      this.run(call);
    } else {
      this.inFlightCount++;
      this.metrics.runs.inc();
      this.batches.enqueue(call);
    }
  }

  /** A fetcher that synchronously fetched its own key joined before its promise existed. */
  protected reentrant(call: Call<T, K>): Promise<T> {
    return resolved.then(() => call.promise as Promise<T>);
  }

  /** A caller with its own signal or timeout: a waiter with its own promise, so it can leave alone. */
  protected wait(call: Call<T, K>, key: K | undefined, signal: AbortSignal | undefined, timeoutMs: number): Promise<T> {
    const w = new Waiter(call as unknown as AnyCall);
    const promise = promiseInto(w) as Promise<T>;
    if (call.waiters === undefined) call.waiters = [w];
    else call.waiters.push(w);
    if (signal !== undefined) this.groups.add(signal, w);
    if (timeoutMs !== Number.POSITIVE_INFINITY) {
      const ms = timeoutMs;
      // Ref'd: a caller is waiting on it, so the process must not exit under it (CONTRIBUTING 5).
      w.timer = this.clock
        .setTimeout(
          () =>
            this.giveUp(
              w,
              new TimeoutError(`${this.displayName}: gave up waiting for key ${describeValue(key)} after ${ms} ms`),
            ),
          ms,
        )
        .ref();
    }
    return promise;
  }

  /** Single mode: runs the fetcher for a new call. */
  private run(call: Call<T, K>): void {
    this.inFlightCount++;
    this.admitted++;
    this.metrics.runs.inc();
    if (this.timed || this.settled$.hasListeners) call.started = this.clock.now();
    if (this.external) {
      call.promise = promiseInto<T>(call);
      if (this.timeoutMs !== Number.POSITIVE_INFINITY) {
        call.timer = this.clock.setTimeout(() => this.timeOut(call), this.timeoutMs).ref();
      }
    }
    let result: T | PromiseLike<T>;
    try {
      result = this.execute(call.key, call);
    } catch (error) {
      // A synchronous throw rejects every caller with exactly that value (and frees the key).
      result = Promise.reject(error);
    }
    // Callers get a promise derived from the fetcher's, once per call (not per caller), never the
    // fetcher's own: its clean-up (free the key, settle the waiters, onSettled) runs before any
    // caller resumes even when the fetcher hands the same promise to several keys; a rejection
    // nobody handles still surfaces as an unhandled rejection (rethrown below while callers hold
    // it); and what the fetcher hangs on its promise (a cancel(), a subclass) is not shared with
    // every caller. A subclass or a thenable is adopted by a native promise first. (Sharing the
    // fetcher's own promise was tried for speed and reverted after review for those reasons.)
    const source =
      result instanceof Promise && result.constructor === Promise ? (result as Promise<T>) : Promise.resolve(result);
    const settled = source.then(
      (value) => this.fulfilled(call, value),
      (error) => this.rejected(call, error),
    );
    if (!this.external) call.promise = settled;
  }

  /** A batch was handed to the fetcher: its keys start running now. */
  private batchStarted(calls: Call<T, K>[]): void {
    this.admitted += calls.length;
    if (this.timed || this.settled$.hasListeners) {
      const now = this.clock.now();
      for (const c of calls) c.started = now;
    }
  }

  private fulfilled(call: Call<T, K>, value: T): T {
    if (call.state === PENDING) this.settleRun(call, true, value);
    return value;
  }

  private rejected(call: Call<T, K>, error: unknown): T {
    if (call.state === PENDING) {
      this.settleRun(call, false, error);
    } else if (call.callers > 0 && call.gone === call.callers) {
      // Abandoned (every caller gave up) and then failed: nobody received this error.
      this.metrics.errors.inc();
      this.report(error, call.key);
    }
    // Rethrow only to callers holding the shared promise; with none, a rethrow would be an
    // unhandled rejection of a promise nobody can see.
    if (!this.external && call.sharedUsers > 0) throw error;
    return undefined as T;
  }

  /** A run settled (single mode, or one key of a batch): count, time, finish, tell listeners. */
  private settleRun(call: Call<T, K>, ok: boolean, value: unknown): void {
    const durationMs = this.measure(call);
    if (!ok) this.metrics.errors.inc();
    this.finish(call, ok, value);
    if (this.settled$.hasListeners) this.emitSettled(call, ok, durationMs, value);
  }

  /** The valve's deadline ran out for a run still pending. */
  private timedOut(call: Call<T, K>, error: TimeoutError): void {
    this.metrics.timeouts.inc();
    this.finish(call, false, error);
  }

  /** Settles a call and its callers, then lingers or frees its slot (if it still owns it). */
  private finish(call: Call<T, K>, ok: boolean, value: unknown): void {
    call.state = DONE;
    if (ok) this.completed++;
    else this.failed++;
    if (--this.inFlightCount === 0 && this.closed) this.idle();
    if (call.timer !== undefined) {
      call.timer.clear();
      call.timer = undefined;
    }
    const map = this.map;
    let owner = map.get(call.mapKey);
    const stale = call.replaces;
    if (stale !== undefined) {
      // A stale-while-revalidate refresh: it takes over the slot only from the value it refreshes.
      call.replaces = undefined;
      stale.refresh = undefined;
      if (owner === stale) {
        if (ok) {
          this.lingering.drop(stale);
          map.set(call.mapKey, call);
          owner = call;
        } else {
          stale.refreshFailed = true;
        }
      }
    }
    if (owner === call && !(ok && this.lingering.enabled && this.lingering.linger(call, value as T))) {
      map.delete(call.mapKey);
    }
    const waiters = call.waiters;
    if (waiters !== undefined) {
      call.waiters = undefined;
      for (let i = 0; i < waiters.length; i++) {
        const w = waiters[i]!;
        if (w.done) continue;
        w.done = true;
        this.detach(w);
        if (ok) w.resolve(value);
        else w.reject(value);
      }
    }
    const resolve = call.resolve;
    if (resolve !== undefined) {
      const reject = call.reject!;
      call.resolve = call.reject = undefined;
      if (ok) resolve(value as T);
      else if (call.sharedUsers > 0) reject(value);
      // else: nobody holds the promise; leaving it pending avoids an unhandled rejection.
    }
    if (!ok && call.gone === call.callers) this.report(value, call.key);
  }

  // ---- giving up: aborts, per-caller timeouts, the valve's deadline ----

  /** A waiter's signal aborted or its own timeout ran out. */
  private giveUp(w: Waiter, reason: unknown): void {
    if (w.done) return;
    w.done = true;
    this.detach(w);
    if (reason instanceof TimeoutError) this.metrics.timeouts.inc();
    else this.metrics.aborts.inc();
    w.reject(reason);
    const call = w.call as Call<T, K>;
    if (++call.gone === call.callers && call.state === PENDING) this.abandon(call, reason);
    else this.dropGivenUp(call);
  }

  /**
   * Removes waiters that gave up from a call still in flight, so a hung call with a steady
   * stream of aborting callers holds only the live ones (plus a few dead). Compacting once the
   * dead outnumber the live is amortised O(1) per give-up and keeps the waiters in arrival
   * order, so callers still settle in the order they came.
   */
  private dropGivenUp(call: Call<T, K>): void {
    const waiters = call.waiters;
    if (waiters === undefined) return;
    const dead = ++call.deadWaiters;
    if (dead < 16 || dead * 2 < waiters.length) return;
    let live = 0;
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      if (!w.done) waiters[live++] = w;
    }
    call.deadWaiters = 0;
    if (live === 0) call.waiters = undefined;
    else waiters.length = live;
  }

  private detach(w: Waiter): void {
    if (w.timer !== undefined) {
      w.timer.clear();
      w.timer = undefined;
    }
    if (w.signalGroup !== undefined) this.groups.remove(w);
  }

  /** Every caller gave up: free the slot for the next caller and abort the fetcher's signal. */
  private abandon(call: Call<T, K>, reason: unknown): void {
    call.state = DONE;
    // A batch key given up before its batch was handed to the fetcher never started.
    if (this.batches !== undefined && call.batch === undefined) this.refusedAborted++;
    else this.failed++;
    if (--this.inFlightCount === 0 && this.closed) this.idle();
    if (call.timer !== undefined) {
      call.timer.clear();
      call.timer = undefined;
    }
    if (this.map.get(call.mapKey) === call) this.map.delete(call.mapKey);
    // Every waiter is done; the fetcher's promise chain still holds the call until it settles.
    call.waiters = undefined;
    // Nobody holds the shared promise (only waiters give up), so it is left unsettled.
    call.resolve = call.reject = undefined;
    call.abort(reason);
  }

  /** The valve's `timeoutMs` ran out for a single-mode call. */
  private timeOut(call: Call<T, K>): void {
    call.timer = undefined;
    if (call.state !== PENDING) return;
    const error = new TimeoutError(
      `${this.displayName}: the call for key ${describeValue(call.key)} timed out after ${this.timeoutMs} ms`,
    );
    this.timedOut(call, error);
    call.abort(error);
  }

  /** One background refresh for a stale value; callers keep being served the stale value. */
  private revalidate(stale: Call<T, K>): void {
    this.refreshes++;
    const refresh = new Call<T, K>(stale.key, stale.mapKey, 0);
    refresh.replaces = stale;
    stale.refresh = refresh;
    this.launch(refresh);
  }

  /** The last call in flight of a closed valve settled. */
  protected idle(): void {
    const resolve = this.whenIdle;
    this.whenIdle = undefined;
    resolve?.();
  }

  // ---- reporting ----

  /** Records a run's duration if it was timed (`started` is NaN otherwise); returns it. */
  private measure(call: Call<T, K>): number {
    if (Number.isNaN(call.started)) return Number.NaN;
    const durationMs = this.clock.now() - call.started;
    this.metrics.duration.record(durationMs);
    return durationMs;
  }

  private emitSettled(call: Call<T, K>, ok: boolean, durationMs: number, value: unknown): void {
    this.settled$.emit(
      ok
        ? { key: call.key, status: 'fulfilled', callers: call.callers, durationMs }
        : { key: call.key, status: 'rejected', callers: call.callers, durationMs, error: value },
    );
  }

  /** A failure nobody received: the `onError` option (a throwing handler surfaces, uncaught). */
  private report(error: unknown, key: K | undefined): void {
    const onError = this.onError;
    if (onError === undefined) return;
    try {
      onError(error, key);
    } catch (thrown) {
      rethrowLater(thrown);
    }
  }
}
