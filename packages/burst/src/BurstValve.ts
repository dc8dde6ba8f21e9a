/**
 * BurstValve: at most one call in flight per key; every concurrent caller of that key shares its
 * outcome (Go's singleflight, with burst-valve 1.4.0's API). This file is the public API
 * (arguments, the fast path, stats, close); the calls' life is in CallTable, batch mode in
 * BatchScheduler, lingering values in Lingering.
 *
 * Hot path (a `fetch(key)` with no options): one Map lookup; a caller that joins a call in
 * flight gets that call's promise itself, so joining allocates nothing; a caller that starts a
 * call allocates the `Call` (which doubles as the fetcher's context) and the promise derived
 * from the fetcher's. AbortControllers exist only if the fetcher reads `signal`; per-caller
 * promises exist only for callers that pass a signal or their own timeout.
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
  ClosedError,
  type Disposable,
  describeValue,
  emptyRejectedByReason,
  histogramSnapshot,
  type Valve,
  validateFunction,
  validateNumber,
  validateObject,
  validateSignal,
} from '@valve/core';
import type { BurstStats } from './BurstMetrics.js';
import { Call, DONE, PENDING } from './Call.js';
import { CallTable } from './CallTable.js';
import { holdShapes, type ShapesValve } from './holdShapes.js';
import { normalizeArguments } from './normalizeOptions.js';
import type {
  BatchContext,
  BatchFetcher,
  BatchResult,
  BurstValveOptions,
  Fetcher,
  FetchContext,
  FetchOptions,
  SharedResult,
} from './options.js';

export { ERR_BURST_NO_RESULT } from './BatchScheduler.js';

function identity<V>(value: V): V {
  return value;
}
function noop(): void {}
const resolved = Promise.resolve();
/** The fetcher of the valve `holdShapes` keeps: its one call never settles. */
function never(): Promise<never> {
  return new Promise(noop);
}

/** The options that may follow a fetcher argument. */
export type TrailingOptions<T, K> = Omit<BurstValveOptions<T, K>, 'fetch' | 'batch'>;

export class BurstValve<T, K = string | number | symbol> extends CallTable<T, K> implements Valve {
  /**
   * Never read: it keeps the hot path's hidden classes alive (see `holdShapes`). A static field,
   * because a module-level constant nothing reads may be collected.
   */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: held, never read (see holdShapes)
  static readonly #shapes: ShapesValve = holdShapes(new BurstValve<never, number>(never, { name: 'shapes' }));

  private closing: Promise<void> | undefined = undefined;

  /** Every finished fetcher run, `{ key, status, callers, durationMs, error? }`, after the valve's state is updated. */
  readonly onSettled = this.settled$.event;

  /** `new BurstValve(fetcher, { timeoutMs: 30 })`: the options are everything but `fetch`/`batch`. */
  constructor(fetcher: Fetcher<T, K>, options?: TrailingOptions<T, K>);
  constructor(displayName: string, fetcher: Fetcher<T, K>, options?: Omit<TrailingOptions<T, K>, 'displayName'>);
  constructor(options: BurstValveOptions<T, K>);
  constructor(...args: unknown[]) {
    super(normalizeArguments<T, K>(args));
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
        mapKey = (0, this.keyOf)(key);
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
    if (call.state !== PENDING) this.lingering.drop(call);
    return true;
  }

  /**
   * DataLoader's `clear(key)`, the same as {@link forget}: the next `fetch(key)` starts a new call.
   * A call in flight for `key` keeps running and its callers get its outcome, but its value is
   * not kept (a newer call or primed value owns the key). True if there was an entry.
   */
  clear(key?: K): boolean {
    return this.forget(key);
  }

  /**
   * Forgets every key, as {@link clear} does one: lingering and stale values are dropped (their
   * timers cleared); calls in flight keep running for their callers but keep nothing. Returns how
   * many entries there were.
   */
  clearAll(): number {
    const n = this.map.size;
    this.lingering.clear();
    this.map.clear();
    return n;
  }

  /**
   * Stores `value` for `key` as if a fetch had just returned it: it lingers for `lingerMs`
   * (`lingerMs(value, key)` when a function), then stale for `staleWhileRevalidateMs`. As
   * DataLoader's `prime`, it never replaces an entry (a call in flight, a fresh or a stale value):
   * `clear(key)` first to overwrite. True if it was stored; false when the key had an entry, the
   * function gave 0, or the valve is closed. Throws `TypeError` for a valve that keeps nothing
   * (no `lingerMs`, no `staleWhileRevalidateMs`), an `Error` value (errors never linger) or a
   * promise (prime the value it resolves to).
   */
  prime(key: K | undefined, value: T): boolean {
    if (!this.lingering.enabled) {
      throw new TypeError(
        `${this.displayName}: prime() needs lingerMs or staleWhileRevalidateMs > 0; this valve keeps no values`,
      );
    }
    if (value instanceof Error) {
      throw new TypeError(`${this.displayName}: prime() takes a value, got an Error (errors never linger)`);
    }
    if (typeof (value as { then?: unknown } | null)?.then === 'function') {
      throw new TypeError(`${this.displayName}: prime() takes a value, got a promise: prime what it resolves to`);
    }
    if (key === undefined && this.batcher !== undefined) {
      throw new TypeError(`${this.displayName}: batch mode needs a key; prime() without one is not allowed`);
    }
    if (this.closed) return false;
    const mapKey = this.mapKeyOf(key);
    if (this.map.has(mapKey)) return false;
    const call = new Call<T, K>(key, mapKey, 0);
    call.state = DONE;
    call.promise = Promise.resolve(value);
    this.map.set(mapKey, call);
    if (this.lingering.linger(call, value)) return true;
    this.map.delete(mapKey);
    return false;
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
      lingering: this.lingering.count,
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
    this.lingering.clear();
    this.map.clear();
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

  /**
   * Runs the single-key fetcher: the one place it is called. A subclass may override it to wrap
   * every fetch (then call `super.execute`); `context.signal` is the shared call's signal.
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
}
