import type { Clock, MetricsRegistry } from '@valve/core';

/**
 * What a fetcher receives besides the key. `signal` is created on first read only: on Node 20
 * an `AbortController` plus its signal costs more than the whole coalescing path, so a fetcher
 * that never reads it never pays for it.
 */
export interface FetchContext<K> {
  /** The key of this call (the first caller's key when `keyOf` maps several keys to one). */
  readonly key: K | undefined;
  /**
   * Aborts when the shared call is given up: every caller aborted or timed out, or the valve's
   * `timeoutMs` ran out. Its `reason` is the last caller's abort reason or the `TimeoutError`.
   */
  readonly signal: AbortSignal;
}

/** What a batch fetcher receives besides the keys. */
export interface BatchContext<K> {
  readonly keys: readonly K[];
  /** Aborts when every caller of every key of this batch gave up, or `timeoutMs` ran out. */
  readonly signal: AbortSignal;
}

// The method-style declarations make the parameters bivariant, as burst-valve's `(subqueue?: K)`
// was, so a fetcher written as `async (id: string) => …` is accepted for `K = string`.
type FetcherShape<T, K> = {
  fetcher(key: K, context: FetchContext<K>): T | PromiseLike<T>;
}['fetcher'];

type BatchFetcherShape<T, K> = {
  batcher(
    keys: K[],
    earlyWrite: (key: K, result: T | Error) => void,
    context: BatchContext<K>,
  ): PromiseLike<BatchResult<T, K>> | BatchResult<T, K>;
}['batcher'];

/**
 * Produces the value for one key (`undefined` for keyless `fetch()`). May return a promise or a
 * plain value, throw or reject: every caller of the call settles with exactly that outcome.
 */
export type Fetcher<T, K> = FetcherShape<T, K>;

/**
 * Produces values for many keys at once: an array in the keys' order (same length), a `Map`
 * from key to value, or nothing (when every result went through `earlyWrite`). An `Error` in
 * the array or map is that key's error. A key left without a result rejects with an error
 * naming it.
 */
export type BatchFetcher<T, K> = BatchFetcherShape<T, K>;

export type BatchResult<T, K> = Array<T | Error> | ReadonlyArray<T | Error> | Map<K, T | Error> | undefined | void;

/** Per-call options of `fetch(key, options)`. */
export interface FetchOptions {
  /**
   * Stops *this* caller waiting: it rejects with `signal.reason`; the other callers keep
   * waiting. When every caller of a call has aborted, the call's own signal aborts.
   */
  signal?: AbortSignal;
  /**
   * How long *this* caller waits, in ms (> 0, or `Infinity`), before rejecting with
   * `TimeoutError`. Counts as giving up, like an abort. @default the valve's `timeoutMs`
   * (which bounds the shared call as a whole)
   */
  timeoutMs?: number;
}

/** `fetchShared()`'s result: singleflight's `shared` flag. */
export interface SharedResult<T> {
  value: T;
  /** True when the value was delivered to more than one caller (coalesced or lingering). */
  shared: boolean;
}

/** burst-valve 1.4.0's configuration object, plus valve's options. */
export interface BurstValveOptions<T, K = string | number | symbol> {
  /**
   * Name used in error messages (burst-valve's option).
   * @default 'Burst Valve'
   */
  displayName?: string;
  /**
   * Exported as the metric label `valve="…"` and in `stats()`.
   * @default 'burst'
   */
  name?: string;
  /** The single-key fetcher. Give exactly one of `fetch` and `batch`. */
  fetch?: Fetcher<T, K>;
  /** The batch fetcher (batch mode). Give exactly one of `fetch` and `batch`. */
  batch?: BatchFetcher<T, K>;
  /**
   * Maps a key to the identity used for coalescing (for object keys, e.g. `(q) => q.id`).
   * @default the key itself (SameValueZero, as a `Map` compares)
   */
  keyOf?: (key: K) => unknown;
  /**
   * Deadline in ms for each shared call (each batch in batch mode), from when it starts: its
   * waiting callers reject with `TimeoutError` and its signal aborts. > 0, or `Infinity`.
   * @default Infinity (no deadline)
   */
  timeoutMs?: number;
  /**
   * How long, in ms, a fulfilled value keeps being served to new callers without a new call
   * (a micro-cache that absorbs the next burst). Errors never linger. A finite number >= 0, or
   * a function of the value and its key giving that value's lifetime in ms (a TTL per result;
   * it may return `Infinity`). A function's 0 means "do not keep this value" (not even stale); a function that
   * throws or returns anything but a number >= 0 keeps nothing and its error is rethrown on a
   * microtask (core's `rethrowLater`), as any callback's.
   * @default 0
   */
  lingerMs?: number | LingerFunction<T, K>;
  /**
   * After `lingerMs`, for this many more ms a caller is served the stale value at once while
   * one background refresh runs; a successful refresh lingers afresh. >= 0.
   * @default 0 (no stale serving)
   */
  staleWhileRevalidateMs?: number;
  /**
   * With `staleWhileRevalidateMs`: when the stale value's last refresh failed (or is still
   * running) as its stale window ends, it is served for up to this many more ms (HTTP's
   * `stale-if-error`), each caller starting at most one refresh at a time; every failed refresh
   * goes to `onError`. A successful refresh replaces it. >= 0; needs `staleWhileRevalidateMs`.
   * @default 0
   */
  staleIfErrorMs?: number;
  /**
   * The most settled values kept for `lingerMs`/`staleWhileRevalidateMs`. Overflow policy: the
   * oldest lingering value (the one closest to expiry) is evicted. In-flight calls are never
   * evicted and do not count. Integer >= 1, or `Infinity`.
   * @default Infinity
   */
  maxKeys?: number;
  /**
   * Batch mode: the most keys passed to one batch fetcher call; larger ticks are split.
   * @default Infinity
   */
  maxBatchSize?: number;
  /**
   * Batch mode: how long, in ms on the valve's clock, a batch collects keys after its first key
   * before it goes to the batch fetcher (a full `maxBatchSize` batch goes at once). 0 = one tick
   * (the default, as DataLoader). >= 0, finite. Not with `batchScheduleFn`.
   * @default 0
   */
  batchWindowMs?: number;
  /**
   * Batch mode: DataLoader's `batchScheduleFn`: called with a `dispatch` callback when a batch
   * gets its first key; the batch goes to the batch fetcher when `dispatch()` is called (a second
   * call does nothing). A batch that reaches `maxBatchSize` is closed and later keys start the
   * next one. Not with `batchWindowMs`.
   */
  batchScheduleFn?: (dispatch: () => void) => void;
  /** @default systemClock */
  clock?: Clock;
  /** Where the counters, gauges and the duration histogram are registered. @default none */
  metrics?: MetricsRegistry;
  /**
   * Called with a fetcher failure that no caller receives: a failed stale-while-revalidate
   * refresh, or a call whose every caller gave up before it failed. @default none (counted in
   * `stats().errors` only)
   */
  onError?: (error: unknown, key: K | undefined) => void;
}

/**
 * `lingerMs` as a function: the lifetime in ms of one fulfilled value (0 = do not keep it). The
 * method-style declaration keeps the parameters bivariant, like the fetchers'.
 */
export type LingerFunction<T, K> = {
  lingerMs(value: T, key: K | undefined): number;
}['lingerMs'];

/** The `onSettled` event: one per finished fetcher run, after the valve's state is updated. */
export type SettledEvent<K> = {
  /** The call's key (the first caller's key when `keyOf` maps several keys to one). */
  key: K | undefined;
  /** Callers that joined the call (1 = nothing was coalesced). */
  callers: number;
  /** Fetcher run time in ms (on the valve's clock); NaN when runs are not timed. */
  durationMs: number;
} & ({ status: 'fulfilled' } | { status: 'rejected'; error: unknown });
