/**
 * BurstValve: at most one call in flight per key; every concurrent caller of that key shares its
 * outcome (Go's singleflight, with burst-valve 1.4.0's API).
 *
 * Hot path (a `fetch(key)` with no options): one Map lookup; a caller that joins a call in
 * flight gets that call's promise itself, so joining allocates nothing; a caller that starts a
 * call allocates the `Call` (which doubles as the fetcher's context) and the promise derived
 * from the fetcher's. AbortControllers exist only if the fetcher reads `signal`; per-caller
 * promises exist only for callers that pass a signal or their own timeout.
 *
 * Ownership: a finished call removes (or lingers) its map entry only if the map still holds that
 * very call (singleflight's `g.m[key] == c`), so `forget()` and abandoned calls never let an old
 * call clobber a newer one.
 *
 * Extension: wrap the fetcher (composition), as @valve/redis's `RedisCoalescer.wrap(fetcher)`
 * does. For a subclass, `execute(key, context)` and `executeBatch(keys, earlyWrite, context)` are
 * the only places the fetchers are called; overriding them wraps every fetch.
 *
 * Async context: the fetcher runs synchronously inside the `fetch` that started its call, so it
 * runs in that caller's AsyncLocalStorage context (a batch fetcher: the context of the first
 * caller of its tick; a stale refresh: the caller that found the value stale).
 */
import {
  abortReason,
  type Clock,
  ClosedError,
  type Disposable,
  describeValue,
  Emitter,
  emptyRejectedByReason,
  histogramSnapshot,
  rethrowLater,
  TimeoutError,
  type Valve,
  ValveError,
  validateFunction,
  validateNumber,
  validateObject,
  validateSignal,
} from '@valve/core';
import { BatchRun } from './BatchRun.js';
import { BurstMetrics, type BurstStats } from './BurstMetrics.js';
import { Call, DONE, FRESH, PENDING, STALE } from './Call.js';
import { LingerQueue } from './LingerQueue.js';
import type {
  BatchContext,
  BatchFetcher,
  BatchResult,
  BurstValveOptions,
  Fetcher,
  FetchContext,
  FetchOptions,
  SettledEvent,
  SettleEvent,
  SharedResult,
} from './options.js';
import { normalizeArguments } from './normalizeOptions.js';
import { SignalGroups, Waiter, type WaiterOwner } from './SignalGroup.js';

/** Error code of a batch key left without a result (or a result array of the wrong length). */
export const ERR_BURST_NO_RESULT = 'ERR_VALVE_BURST_NO_RESULT';

// `new Promise(capture)` hands out its resolvers through these two slots, read right after: a
// promise with external resolvers without allocating an executor closure per promise
// (Promise.withResolvers is not in Node 20).
// biome-ignore lint/suspicious/noExplicitAny: the slot holds the resolver of any promise type.
let capturedResolve: (value: any) => void = noop;
let capturedReject: (error: unknown) => void = noop;
// biome-ignore lint/suspicious/noExplicitAny: see capturedResolve.
function capture(resolve: (value: any) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}
function noop(): void {}
function identity<V>(value: V): V {
  return value;
}
const resolved = Promise.resolve();

type AnyCall = Call<unknown, unknown>;

/** The options that may follow a fetcher argument. */
export type TrailingOptions<T, K> = Omit<BurstValveOptions<T, K>, 'fetch' | 'batch'>;

export class BurstValve<T, K = string | number | symbol> implements WaiterOwner, Valve {
  /** burst-valve's name, used in error messages. */
  readonly displayName: string;
  /** The metric label `valve="…"`. */
  readonly name: string;

  private readonly fetcher: Fetcher<T, K> | undefined;
  private readonly batcher: BatchFetcher<T, K> | undefined;
  private readonly keyOf: ((key: K) => unknown) | undefined;
  private readonly timeoutMs: number;
  private readonly maxKeys: number;
  private readonly maxBatchSize: number;
  private readonly clock: Clock;
  private readonly onError: ((error: unknown, key: K | undefined) => void) | undefined;
  /** True when call promises are settled from outside (a deadline or batch mode). */
  private readonly external: boolean;
  /**
   * Whether fetcher runs are timed: a clock read costs ~60 ns on Node 20 (two per run would be a
   * fifth of a whole distinct-key call), so only with a `metrics` registry or an `onSettle`
   * listener.
   */
  private readonly timed: boolean;
  /** map key → the call that owns the slot (PENDING, FRESH or STALE). */
  private readonly map = new Map<unknown, Call<T, K>>();
  /** The callers waiting with a signal, grouped by signal: one abort listener per signal (see SignalGroups). */
  private readonly groups = new SignalGroups(this);
  private readonly fresh: LingerQueue<Call<T, K>> | undefined;
  private readonly stale: LingerQueue<Call<T, K>> | undefined;
  private readonly metrics: BurstMetrics;
  private readonly settled$ = new Emitter<SettledEvent<K>>();
  private inFlightCount = 0;
  /** Calls rejected before joining anything (aborted signal, closed valve, throwing keyOf). */
  private unjoined = 0;
  /** Fetcher runs started (a batch key counts when its batch is handed to the fetcher). */
  private admitted = 0;
  /** Fetcher runs settled successfully. */
  private completed = 0;
  /** Fetcher runs settled with an error, timed out, or given up by every caller after they started. */
  private failed = 0;
  /** Callers refused because the valve was closed. */
  private refusedClosed = 0;
  /** Callers whose signal had aborted before they joined, and batch keys given up before dispatch. */
  private refusedAborted = 0;
  /** Set by close(): no caller is accepted any more. */
  private closed = false;
  private closing: Promise<void> | undefined = undefined;
  /** Resolves `closing` once the last call in flight settles. */
  private whenIdle: (() => void) | undefined = undefined;
  /** Fetcher runs that were stale-while-revalidate refreshes (no caller started them). */
  private refreshes = 0;
  private lingeringCount = 0;
  /** Batch mode: calls started this tick, not yet handed to the batch fetcher. */
  private pendingBatch: Call<T, K>[] | undefined = undefined;

  /** Every finished fetcher run, `{ key, status, callers, durationMs, error? }`, after the valve's state is updated. */
  readonly onSettled = this.settled$.event;

  /** `new BurstValve(fetcher, { timeoutMs: 30 })`: the options are everything but `fetch`/`batch`. */
  constructor(fetcher: Fetcher<T, K>, options?: TrailingOptions<T, K>);
  constructor(displayName: string, fetcher: Fetcher<T, K>, options?: Omit<TrailingOptions<T, K>, 'displayName'>);
  constructor(options: BurstValveOptions<T, K>);
  constructor(...args: unknown[]) {
    const o = normalizeArguments<T, K>(args);
    this.displayName = o.displayName;
    this.name = o.name;
    this.fetcher = o.fetcher;
    this.batcher = o.batcher;
    this.keyOf = o.keyOf;
    this.timeoutMs = o.timeoutMs;
    const lingerMs = o.lingerMs;
    const swrMs = o.staleWhileRevalidateMs;
    this.maxKeys = o.maxKeys;
    this.maxBatchSize = o.maxBatchSize;
    this.clock = o.clock;
    const registry = o.registry;
    this.onError = o.onError;
    this.timed = registry !== undefined;
    this.external = this.batcher !== undefined || this.timeoutMs !== Number.POSITIVE_INFINITY;
    this.fresh =
      lingerMs > 0
        ? new LingerQueue<Call<T, K>>(
            this.clock,
            lingerMs,
            (c, now) => this.expireFresh(c, now),
            (c) => c.state === FRESH,
          )
        : undefined;
    this.stale =
      swrMs > 0
        ? new LingerQueue<Call<T, K>>(
            this.clock,
            swrMs,
            (c) => this.expireStale(c),
            (c) => c.state === STALE,
          )
        : undefined;
    this.metrics = new BurstMetrics(
      this.name,
      registry,
      () => this.inFlightCount,
      () => this.lingeringCount,
    );
  }

  /**
   * @deprecated Use {@link onSettled} (`{ status }` instead of `{ ok }`); this alias stays for one
   * release.
   */
  onSettle(listener: (event: SettleEvent<K>) => void): Disposable {
    validateFunction(listener, 'listener');
    return this.settled$.event((e) =>
      listener({ key: e.key, ok: e.status === 'fulfilled', callers: e.callers, durationMs: e.durationMs }),
    );
  }

  /**
   * The value for `key`: joins the call in flight for it, or a lingering value, or starts one.
   * Without a key, one global slot. Every key is a key, `0` and `''` included. Bad options throw;
   * a closed valve rejects with `ClosedError`.
   */
  fetch(key?: K, options?: FetchOptions): Promise<T> {
    if (options === undefined && this.keyOf === undefined) {
      // The fast path: `fetchCall` (the reference path) specialised to no options and no keyOf,
      // checked against it by test/paths.property.test.ts. One Map lookup; a caller that joins a
      // call in flight takes its promise (no allocation, no store into the valve). After close()
      // the map is empty, so a closed valve is only checked for on a miss.
      const call = this.map.get(key);
      if (call === undefined) {
        if (!this.closed && (key !== undefined || this.batcher === undefined)) {
          const started = this.start(key, key);
          started.sharedUsers++;
          return started.promise ?? this.reentrant(started);
        }
      } else if (call.state === PENDING && call.promise !== undefined) {
        call.callers++;
        call.sharedUsers++;
        this.metrics.coalesced.inc();
        return call.promise;
      }
    }
    return this.fetchCall(key, options, false) as Promise<T>;
  }

  /** Like `fetch`, and says whether the value went to more than one caller (singleflight's `shared`). */
  fetchShared(key?: K, options?: FetchOptions): Promise<SharedResult<T>> {
    return this.fetchCall(key, options, true) as Promise<SharedResult<T>>;
  }

  /**
   * `fetch` in full, the reference path: per-call options, `keyOf`, batch mode, a closed valve,
   * lingering values; with `shared`, `fetchShared`'s result.
   */
  private fetchCall(key: K | undefined, options: FetchOptions | undefined, shared: boolean): Promise<unknown> {
    let signal: AbortSignal | undefined;
    let timeoutMs = Number.POSITIVE_INFINITY;
    if (options !== undefined) {
      validateObject(options, 'options');
      for (const name in options) {
        if (name !== 'signal' && name !== 'timeoutMs') {
          throw new TypeError(`options.${name} is not a known option; known options are signal, timeoutMs`);
        }
      }
      signal = validateSignal(options.signal, 'options.signal');
      if (options.timeoutMs !== undefined) {
        timeoutMs = validateNumber(options.timeoutMs, 'options.timeoutMs', { above: 0, allowInfinity: true });
      }
    }
    if (key === undefined && this.batcher !== undefined) {
      throw new TypeError(`${this.displayName}: batch mode needs a key; fetch() without one is not allowed`);
    }
    if (this.closed) return this.refuseClosed(1);
    if (signal?.aborted) {
      this.unjoined++;
      this.refusedAborted++;
      this.metrics.aborts.inc();
      return Promise.reject(abortReason(signal));
    }
    let mapKey: unknown = key;
    if (key !== undefined && this.keyOf !== undefined) {
      // keyOf is the user's code running, not an argument: its throw rejects this call.
      try {
        mapKey = this.keyOf(key);
      } catch (error) {
        return this.refuse(error);
      }
    }
    const call = this.join(key, mapKey);
    let promise: Promise<T>;
    if (call.state !== PENDING || (signal === undefined && timeoutMs === Number.POSITIVE_INFINITY)) {
      call.sharedUsers++;
      promise = call.promise ?? this.reentrant(call);
    } else {
      promise = this.wait(call, key, signal, timeoutMs);
    }
    return shared ? promise.then((value) => ({ value, shared: call.callers > 1 })) : promise;
  }

  /** Whether a call is in flight for `key` (or the keyless slot), a stale refresh included. */
  isActive(key?: K): boolean {
    const call = this.map.get(this.mapKeyOf(key));
    return call !== undefined && (call.state === PENDING || call.refresh !== undefined);
  }

  /**
   * Forgets `key`: the next `fetch(key)` starts a new call even if one is in flight (whose
   * callers still get its outcome), and a lingering value is dropped. True if there was an entry.
   */
  forget(key?: K): boolean {
    const mapKey = this.mapKeyOf(key);
    const call = this.map.get(mapKey);
    if (call === undefined) return false;
    this.map.delete(mapKey);
    if (call.state !== PENDING) this.dropLingering(call);
    return true;
  }

  /**
   * Results for many keys in their order, each a value or the key's error (a rejection value is
   * returned as is). Keys in flight are joined, duplicates are fetched once; in batch mode, keys
   * asked in the same tick (by any method) go to one batch fetcher call.
   */
  batch(keys: K[]): Promise<Array<T | Error>> {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    const mapKeys = this.mapKeysOf(keys, 'batch', arguments.length, 1);
    if (!Array.isArray(mapKeys)) return mapKeys;
    const out = new Array<Promise<T | Error>>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const call = this.join(keys[i], mapKeys[i]);
      call.sharedUsers++;
      out[i] = (call.promise ?? this.reentrant(call)).then(identity, identity as (e: unknown) => Error);
    }
    return Promise.all(out);
  }

  /** Like `batch`, but rejects with the first error instead of returning it. */
  unsafeBatch(keys: K[]): Promise<T[]> {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    const mapKeys = this.mapKeysOf(keys, 'unsafeBatch', arguments.length, 1);
    if (!Array.isArray(mapKeys)) return mapKeys;
    const out = new Array<Promise<T>>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const call = this.join(keys[i], mapKeys[i]);
      call.sharedUsers++;
      out[i] = call.promise ?? this.reentrant(call);
    }
    return Promise.all(out);
  }

  /**
   * Calls `callback(key, resultOrError)` for each distinct key as its result arrives; resolves
   * when every callback (awaited if it returns a promise) is done, rejects if one throws.
   */
  stream(keys: K[], callback: (key: K, result: T | Error) => Promise<void> | void): Promise<void> {
    validateFunction(callback, 'callback');
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    const mapKeys = this.mapKeysOf(keys, 'stream', arguments.length, 2);
    if (!Array.isArray(mapKeys)) return mapKeys;
    const out: Promise<void>[] = [];
    const seen = new Set<K>();
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as K;
      if (seen.has(key)) continue;
      seen.add(key);
      const call = this.join(key, mapKeys[i]);
      call.sharedUsers++;
      out.push(
        (call.promise ?? this.reentrant(call)).then(
          (value) => callback(key, value),
          (error) => callback(key, error as Error),
        ),
      );
    }
    return Promise.all(out).then(noop);
  }

  /** Entries in the map: keys in flight plus keys holding a lingering value. */
  get size(): number {
    return this.map.size;
  }

  /** Calls in flight (forgotten ones included, until they settle). */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /**
   * The shared words (unit of work: a fetcher run; callers joining one are `coalesced`), then
   * burst's own counters.
   */
  stats(): BurstStats {
    const m = this.metrics;
    const running = this.admitted - this.completed - this.failed;
    const rejectedByReason = emptyRejectedByReason();
    rejectedByReason.shutdown = this.refusedClosed;
    rejectedByReason.aborted = this.refusedAborted;
    return {
      name: this.name,
      rejected: this.refusedClosed + this.refusedAborted,
      rejectedByReason,
      // Batch mode: keys waiting for this tick's batch (the rest of the calls in flight run).
      queued: this.inFlightCount - running,
      running,
      admitted: this.admitted,
      completed: this.completed,
      failed: this.failed,
      closed: this.closed,
      calls: m.runs.value - this.refreshes + m.coalesced.value + m.lingerHits.value + this.unjoined,
      runs: m.runs.value,
      coalesced: m.coalesced.value,
      lingerHits: m.lingerHits.value,
      errors: m.errors.value,
      timeouts: m.timeouts.value,
      aborts: m.aborts.value,
      inFlight: this.inFlightCount,
      lingering: this.lingeringCount,
      duration: histogramSnapshot(m.duration),
    };
  }

  /**
   * Closes the valve: new callers are refused with `ClosedError` (counted as `shutdown`), lingering
   * and stale values are dropped at once (their timers cleared), and calls in flight run to the
   * end, their callers getting their outcome. Resolves once the last call in flight settled (a
   * call every caller gave up is not waited for: its signal was aborted), then removes the valve's
   * metrics from the registry. Idempotent: a second call returns the same promise.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    for (const call of this.map.values()) this.dropLingering(call);
    this.map.clear();
    this.fresh?.clear();
    this.stale?.clear();
    const idle =
      this.inFlightCount === 0
        ? resolved
        : new Promise<void>((resolve) => {
            this.whenIdle = resolve;
          });
    this.closing = idle.then(() => this.metrics.close());
    return this.closing;
  }

  /** `close()`, for `await using valve = new BurstValve(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The last call in flight of a closed valve settled. */
  private idle(): void {
    const resolve = this.whenIdle;
    this.whenIdle = undefined;
    resolve?.();
  }

  /**
   * Runs the single-key fetcher. The extension point: override to wrap every fetch (e.g. a
   * cross-instance lock); `context.signal` is the shared call's signal.
   */
  protected execute(key: K | undefined, context: FetchContext<K>): T | PromiseLike<T> {
    return (this.fetcher as Fetcher<T, K>)(key as K, context);
  }

  /** Runs the batch fetcher. The extension point of batch mode. */
  protected executeBatch(
    keys: K[],
    earlyWrite: (key: K, result: T | Error) => void,
    context: BatchContext<K>,
  ): PromiseLike<BatchResult<T, K>> | BatchResult<T, K> {
    return (this.batcher as BatchFetcher<T, K>)(keys, earlyWrite, context);
  }

  // ---- joining and starting calls ----

  private mapKeyOf(key: K | undefined): unknown {
    return key === undefined || this.keyOf === undefined ? key : this.keyOf(key);
  }

  /** Counts one caller into the call for `key` (whose `keyOf` is `mapKey`), starting one if needed. */
  private join(key: K | undefined, mapKey: unknown): Call<T, K> {
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
  private start(key: K | undefined, mapKey: unknown): Call<T, K> {
    const call = new Call<T, K>(key, mapKey, 1);
    this.map.set(mapKey, call);
    if (this.batcher === undefined) this.run(call);
    else this.enqueue(call);
    return call;
  }

  /** A fetcher that synchronously fetched its own key joined before its promise existed. */
  private reentrant(call: Call<T, K>): Promise<T> {
    return resolved.then(() => call.promise as Promise<T>);
  }

  /** A caller with its own signal or timeout: a waiter with its own promise, so it can leave alone. */
  private wait(call: Call<T, K>, key: K | undefined, signal: AbortSignal | undefined, timeoutMs: number): Promise<T> {
    const w = new Waiter(call as unknown as AnyCall);
    const promise = new Promise<T>(capture);
    w.resolve = capturedResolve as (value: unknown) => void;
    w.reject = capturedReject;
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
      call.promise = new Promise<T>(capture);
      call.resolve = capturedResolve;
      call.reject = capturedReject;
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
    // fetcher's own: its clean-up (free the key, settle the waiters, onSettle) runs before any
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

  private fulfilled(call: Call<T, K>, value: T): T {
    if (call.state === PENDING) {
      const durationMs = this.measure(call);
      this.finish(call, true, value);
      if (this.settled$.hasListeners) this.emitSettled(call, true, durationMs, value);
    }
    return value;
  }

  private rejected(call: Call<T, K>, error: unknown): T {
    if (call.state === PENDING) {
      const durationMs = this.measure(call);
      this.metrics.errors.inc();
      this.finish(call, false, error);
      if (this.settled$.hasListeners) this.emitSettled(call, false, durationMs, error);
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
      if (ok && owner === stale) {
        this.dropLingering(stale);
        map.set(call.mapKey, call);
        owner = call;
      }
    }
    if (owner === call) {
      if (ok && (this.fresh !== undefined || this.stale !== undefined)) this.linger(call);
      else map.delete(call.mapKey);
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
  giveUp(w: Waiter, reason: unknown): void {
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
    if (w.group !== undefined) w.group.remove(w);
  }

  /** Every caller gave up: free the slot for the next caller and abort the fetcher's signal. */
  private abandon(call: Call<T, K>, reason: unknown): void {
    call.state = DONE;
    // A batch key given up before its batch was handed to the fetcher never started.
    if (this.batcher !== undefined && call.batch === undefined) this.refusedAborted++;
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
    this.metrics.timeouts.inc();
    const error = new TimeoutError(
      `${this.displayName}: the call for key ${describeValue(call.key)} timed out after ${this.timeoutMs} ms`,
    );
    this.finish(call, false, error);
    call.abort(error);
  }

  // ---- lingering and stale-while-revalidate ----

  private linger(call: Call<T, K>): void {
    const now = this.clock.now();
    this.lingeringCount++;
    if (this.fresh !== undefined) {
      call.state = FRESH;
      this.fresh.push(call, now, this.lingeringCount);
    } else {
      call.state = STALE;
      (this.stale as LingerQueue<Call<T, K>>).push(call, now, this.lingeringCount);
    }
    if (this.lingeringCount > this.maxKeys) this.evictOldest();
  }

  /** `maxKeys` overflow: drop the oldest lingering value (stale ones are older than fresh ones). */
  private evictOldest(): void {
    for (const queue of [this.stale, this.fresh]) {
      if (queue === undefined) continue;
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        if (c.state === (queue === this.fresh ? FRESH : STALE) && this.map.get(c.mapKey) === c) {
          this.map.delete(c.mapKey);
          this.dropLingering(c);
          return;
        }
      }
    }
  }

  private dropLingering(call: Call<T, K>): void {
    if (call.state === FRESH || call.state === STALE) {
      call.state = DONE;
      this.lingeringCount--;
    }
  }

  private expireFresh(call: Call<T, K>, now: number): void {
    if (call.state !== FRESH || this.map.get(call.mapKey) !== call) return;
    if (this.stale !== undefined) {
      call.state = STALE;
      this.stale.push(call, now, this.lingeringCount);
    } else {
      this.map.delete(call.mapKey);
      this.dropLingering(call);
    }
  }

  private expireStale(call: Call<T, K>): void {
    if (call.state !== STALE || this.map.get(call.mapKey) !== call) return;
    this.map.delete(call.mapKey);
    this.dropLingering(call);
  }

  /** One background refresh for a stale value; callers keep being served the stale value. */
  private revalidate(stale: Call<T, K>): void {
    this.refreshes++;
    const refresh = new Call<T, K>(stale.key, stale.mapKey, 0);
    refresh.replaces = stale;
    stale.refresh = refresh;
    if (this.batcher === undefined) this.run(refresh);
    else this.enqueue(refresh);
  }

  // ---- batch mode ----

  /** Batch mode: queue a new call for this tick's batch. */
  private enqueue(call: Call<T, K>): void {
    this.inFlightCount++;
    this.metrics.runs.inc();
    call.promise = new Promise<T>(capture);
    call.resolve = capturedResolve;
    call.reject = capturedReject;
    if (this.pendingBatch === undefined) {
      this.pendingBatch = [call];
      // Like dataloader: after the current promise jobs, on the next tick, so that fetches made
      // in the same tick (also from promise callbacks) merge into one batch.
      resolved.then(() => process.nextTick(this.dispatch));
    } else {
      this.pendingBatch.push(call);
    }
  }

  private readonly dispatch = (): void => {
    const pending = this.pendingBatch;
    this.pendingBatch = undefined;
    if (pending === undefined) return;
    // Keys whose every caller gave up before dispatch are not fetched.
    const calls = pending.filter((c) => c.state === PENDING);
    const max = this.maxBatchSize;
    if (calls.length <= max) {
      if (calls.length > 0) this.runBatch(calls);
      return;
    }
    for (let i = 0; i < calls.length; i += max) this.runBatch(calls.slice(i, i + max));
  };

  private runBatch(calls: Call<T, K>[]): void {
    const keys = calls.map((c) => c.key as K);
    const run = new BatchRun<T, K>(keys, calls, this.keyOf);
    const now = this.timed || this.settled$.hasListeners ? this.clock.now() : 0;
    for (const c of calls) c.batch = run;
    this.admitted += calls.length;
    if (this.timed || this.settled$.hasListeners) for (const c of calls) c.started = now;
    if (this.timeoutMs !== Number.POSITIVE_INFINITY) {
      run.timer = this.clock.setTimeout(() => this.timeOutBatch(run), this.timeoutMs).ref();
    }
    const earlyWrite = (key: K, result: T | Error): void => {
      if (run.finished) {
        throw new Error(`${this.displayName}: earlyWrite(${describeValue(key)}) after the batch fetcher finished`);
      }
      const c = run.lookup(key);
      if (c !== undefined) this.settleKey(c, result);
    };
    let result: PromiseLike<BatchResult<T, K>> | BatchResult<T, K>;
    try {
      result = this.executeBatch(keys, earlyWrite, run);
    } catch (error) {
      result = Promise.reject(error);
    }
    (result instanceof Promise ? result : Promise.resolve(result)).then(
      (r: BatchResult<T, K>) => this.batchDone(run, r),
      (error: unknown) => this.batchFailed(run, error),
    );
  }

  /** One key's result from a batch: a value, or an `Error` meaning that key failed. */
  private settleKey(call: Call<T, K>, result: unknown): void {
    if (call.state !== PENDING) return;
    const durationMs = this.measure(call);
    const ok = !(result instanceof Error);
    if (!ok) this.metrics.errors.inc();
    this.finish(call, ok, result);
    if (this.settled$.hasListeners) this.emitSettled(call, ok, durationMs, result);
  }

  private batchDone(run: BatchRun<T, K>, result: BatchResult<T, K>): void {
    run.finished = true;
    run.timer?.clear();
    const calls = run.calls;
    if (Array.isArray(result)) {
      if (result.length !== calls.length) {
        const error = new ValveError(
          ERR_BURST_NO_RESULT,
          `${this.displayName}: the batch fetcher returned ${result.length} results for ${calls.length} keys`,
        );
        for (const c of calls) this.settleKey(c, error);
        return;
      }
      for (let i = 0; i < calls.length; i++) this.settleKey(calls[i]!, result[i]);
    } else if (result instanceof Map) {
      for (const [key, value] of result) {
        const c = run.lookup(key);
        if (c !== undefined) this.settleKey(c, value);
      }
    } else if (result !== undefined) {
      const error = new ValveError(
        ERR_BURST_NO_RESULT,
        `${this.displayName}: the batch fetcher must return an array, a Map or nothing, got ${describeValue(result)}`,
      );
      for (const c of calls) this.settleKey(c, error);
      return;
    }
    for (const c of calls) {
      if (c.state === PENDING) {
        this.settleKey(
          c,
          new ValveError(
            ERR_BURST_NO_RESULT,
            `${this.displayName}: the batch fetcher returned no result for key ${describeValue(c.key)}`,
          ),
        );
      }
    }
  }

  private batchFailed(run: BatchRun<T, K>, error: unknown): void {
    run.finished = true;
    run.timer?.clear();
    for (const c of run.calls) {
      if (c.state !== PENDING) continue;
      // Exactly the thrown value, even a non-Error (settleKey would treat a non-Error as a value).
      const durationMs = this.measure(c);
      this.metrics.errors.inc();
      this.finish(c, false, error);
      if (this.settled$.hasListeners) this.emitSettled(c, false, durationMs, error);
    }
  }

  private timeOutBatch(run: BatchRun<T, K>): void {
    run.timer = undefined;
    const error = new TimeoutError(
      `${this.displayName}: the batch of ${run.keys.length} keys timed out after ${this.timeoutMs} ms`,
    );
    for (const c of run.calls) {
      if (c.state !== PENDING) continue;
      this.metrics.timeouts.inc();
      this.finish(c, false, error);
    }
    run.abort(error);
  }

  /** A call rejected before joining anything, with exactly `error`. */
  private refuse(error: unknown): Promise<never> {
    this.unjoined++;
    return Promise.reject(error);
  }

  /** `n` callers refused by a closed valve (a runtime refusal: a rejection, counted as `shutdown`). */
  private refuseClosed(n: number): Promise<never> {
    this.unjoined += n;
    this.refusedClosed += n;
    return Promise.reject(new ClosedError(`${this.displayName}: the valve is closed`));
  }

  /**
   * The map keys of a `batch`/`unsafeBatch`/`stream` call (`keys` itself without `keyOf`), or
   * the rejection of the whole call. Bad arguments throw; all keys are mapped before any joins,
   * so a throwing `keyOf` leaves no call started on behalf of a caller who never gets its promise.
   */
  private mapKeysOf(keys: K[], method: string, argumentCount: number, expected: number): unknown[] | Promise<never> {
    if (argumentCount > expected) {
      throw new TypeError(`${method}() takes ${expected} argument${expected === 1 ? '' : 's'}, got ${argumentCount}`);
    }
    if (!Array.isArray(keys)) throw new TypeError(`keys must be an array, got ${describeValue(keys)}`);
    if (this.batcher !== undefined && keys.includes(undefined as K)) {
      throw new TypeError(`${this.displayName}: batch mode keys must not be undefined`);
    }
    if (this.closed) return this.refuseClosed(keys.length);
    const keyOf = this.keyOf;
    if (keyOf === undefined) return keys;
    const mapKeys = new Array<unknown>(keys.length);
    try {
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        mapKeys[i] = key === undefined ? key : keyOf(key);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return mapKeys;
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
