import type {
  Clock,
  ConcurrencySource,
  HistogramSnapshot,
  Limit,
  MetricsRegistry,
  RateSource,
  RetryOptions,
  ValveStats,
} from '@valve/core';

/** What a task is called with. The seed's zero-argument tasks simply ignore it. */
export interface TaskContext {
  /**
   * Aborts when the task times out (`taskTimeoutMs`/`timeoutMs`, with a `TimeoutError`) or the
   * caller's `signal` aborts (with its reason). Reading it is what creates an `AbortController`,
   * so tasks that never read it cost none. Each task gets its own signal, never one shared with
   * other tasks, so listeners a task adds go away with it. A task that nothing can abort gets a
   * new never-aborting signal on each read: read it once (`const { signal } = context`).
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number;
}

/** A function returning a promise (or a plain value, or throwing). */
export type Task<T = unknown> = (context: TaskContext) => T | PromiseLike<T>;

/** What `onError` learns about a failed `add()`ed task besides the error. */
export interface TaskErrorInfo {
  /** The task's priority (`add()`ed tasks have 0). */
  priority: number;
  /** Attempts made (more than 1 only with `retry`). */
  attempts: number;
}

export interface PromisePoolOptions {
  /**
   * Tasks running at once: an integer >= 1 (or Infinity), or an adaptive `Limit` from
   * @valve/core (`AimdLimit`, `Gradient2Limit`, `VegasLimit`) that raises it while task
   * latency stays flat and lowers it when latency grows or tasks fail.
   * Not together with `concurrencySource`.
   * @default 4
   */
  maxWorkers?: number | Limit;
  /**
   * Where permission to run comes from instead of the built-in counter made from `maxWorkers`
   * (for example a Redis semaphore shared by many processes). Not together with `maxWorkers`.
   * @default a local counter of `maxWorkers`
   */
  concurrencySource?: ConcurrencySource;
  /**
   * Token-bucket rate limit, as in @valve/safety: tokens added every `hz` milliseconds. Each
   * task start takes one token. Setting any of `rate`, `hz`, `tokenLimit` turns it on.
   * @default no rate limit
   */
  rate?: number;
  /** Refill period of the token bucket, ms (> 0). Required with `rate`. */
  hz?: number;
  /** Bucket size, tokens (an integer >= 1); the bucket starts full. @default rate */
  tokenLimit?: number;
  /**
   * Where start tokens come from instead of the built-in `TokenBucket` (for example a Redis
   * bucket). Not together with `rate`/`hz`/`tokenLimit`.
   * @default none
   */
  rateSource?: RateSource;
  /**
   * A running task's time limit, ms (> 0). When it passes, the task's `signal` aborts with a
   * `TimeoutError`, its slot is freed (see `releaseOnTimeout`) and it counts as failed with that error.
   * @default no limit
   */
  taskTimeoutMs?: number;
  /**
   * What happens to the slot of a task that timed out or whose `signal` aborted while it ran.
   * The caller is settled at once either way (`TimeoutError` or the abort reason) and the task
   * counts as failed; the pool cannot stop code that ignores its `signal`.
   * `true`: the slot is freed at once, so the next task starts; tasks still running after their
   * timeout (`stats().abandoned`) then come on top of `maxWorkers`, without bound if a downstream
   * hangs. `false`: the slot is held until the task's promise actually settles, so at most
   * `maxWorkers` tasks' code runs at once, and a hung downstream stalls the pool instead.
   * @default true
   */
  releaseOnTimeout?: boolean;
  /**
   * A drain cycle's time limit, ms (> 0), counted from the first task accepted in the cycle:
   * a `drain()` or `done()` still waiting then rejects with a `PoolTimeoutError` (reason
   * `deadline`) whose `summary` reports what did not finish. The seed's "total runtime limit,
   * aligned to the Lambda limit". Tasks are not cancelled; the pool stays usable.
   * @default no limit
   */
  runtimeLimitMs?: number;
  /**
   * Zombie detection, ms (> 0): while a `drain()`/`done()` waits and tasks are running, if no
   * task settles for this long it rejects with a `PoolTimeoutError` (reason `timeout`) counting
   * the stuck tasks.
   * @default no limit
   */
  idleTimeoutMs?: number;
  /** Retries of a failed task, waiting on the clock between attempts. @default no retries */
  retry?: RetryOptions | number;
  /**
   * Called with each failed `add()`ed task's error (`run()` callers get theirs as a
   * rejection). Errors are also counted in `stats()` and reported in summaries, so without it
   * nothing is unhandled; with it nothing is missed. A throw from it surfaces as an uncaught
   * exception on a microtask and leaves the pool's state intact.
   * @default none
   */
  onError?: (error: unknown, info: TaskErrorInfo) => void;
  /** Errors kept per drain summary (the first ones of the cycle). @default 10 */
  maxErrors?: number;
  /**
   * Registry for Prometheus metrics. Also turns on the wait/run-time histograms, which cost
   * two clock reads per task.
   * @default none
   */
  metrics?: MetricsRegistry;
  /** Exported as the `valve` label. @default "pool" */
  name?: string;
  /** @default systemClock */
  clock?: Clock;
  /**
   * Tasks that may wait to start (an integer >= 1, or Infinity). Past it `add()` throws and
   * `run()` rejects with a `QueueFullError` (counted in `stats().rejectedByReason.queue_full`),
   * while `addWhenRoom()`/`runWhenRoom()` make the producer wait for room instead.
   * @default Infinity (unbounded)
   */
  maxQueued?: number;
  /**
   * Keep a record of each running task (its start time on the pool's clock, priority and the
   * `meta` its caller passed to `run()`) for `runningTasks`. Off by default: the records put
   * every task on the pool's per-task path, which costs a little on the plain `add()`/`run()`.
   * @default false
   */
  trackRunning?: boolean;
  /**
   * Priority aging, ms (> 0): a task that has waited this long starts before every task that
   * has not (aged tasks among themselves: oldest first), so a low priority never starves.
   * Puts every task on the per-task path. @default no aging
   */
  agingMs?: number;
}

/** Options of one `run()`. */
export interface RunOptions {
  /** Higher runs first; FIFO within a priority. Any finite number. @default 0 */
  priority?: number;
  /**
   * Aborting rejects the call with `signal.reason` at once, whether the task is queued (it is
   * removed) or running (its context signal aborts and its slot is freed).
   */
  signal?: AbortSignal;
  /** This task's time limit, ms (> 0). @default the pool's `taskTimeoutMs` */
  timeoutMs?: number;
  /**
   * The caller's own data about the task, shown by `runningTasks` while it runs. Only with
   * `trackRunning: true` (a `TypeError` otherwise, so it is never silently dropped).
   */
  meta?: unknown;
}

/** One entry of `runningTasks`: a snapshot, not a live view. */
export interface RunningTask {
  /** When it started, on the pool's clock (ms). */
  readonly startedAt: number;
  /** For how long it has run, ms (the pool's clock now minus `startedAt`). */
  readonly runningMs: number;
  readonly priority: number;
  /** The `meta` passed to `run()` (undefined for `add()`ed tasks). */
  readonly meta: unknown;
  /** 1 for the first attempt, more while retrying. */
  readonly attempt: number;
}

/** What `onRateLimit` listeners receive. */
export interface RateLimitEvent {
  /** Tasks waiting when it began. */
  queued: number;
  /** When a token is expected, ms from now (the source's estimate; may be Infinity). */
  nextTokenInMs: number;
}

/** Options of `addWhenRoom()` / `runWhenRoom()`: `run()`'s, while waiting for room too. */
export interface WhenRoomOptions extends RunOptions {}

/** What `drain()` and `done()` resolve to: a summary of one drain cycle, never every result. */
export interface PoolSummary {
  /** Tasks that succeeded in this cycle. */
  completed: number;
  /** Tasks that failed in this cycle (errors, timeouts, aborts, refused permissions). */
  failed: number;
  /** The first `maxErrors` errors of the cycle. */
  errors: unknown[];
  /** Tasks not finished when the summary was made: still waiting, and running. */
  unfinished: { queued: number; active: number };
  /** From the cycle's first accepted task to the summary, ms. */
  durationMs: number;
}

/** `stats()`: plain JSON. */
/**
 * The Valve contract's words (`ValveStats`: `queued`, `running`, `admitted`, `completed`, `failed`,
 * `rejected` by reason, `closed`; CONTRIBUTING.md) and the pool's own fields. A task refused before
 * it started (its caller aborted while it waited: `aborted`; the pool was closed: `shutdown`; an
 * async source failed to grant it: `overload`) is `rejected`, never `failed`; the drain summary still counts it among the cycle's failures, since
 * its `run()` promise rejected.
 */
export interface PoolStats extends ValveStats {
  /** Running: the same as `running` (the seed's word). */
  active: number;
  /** The concurrency allowed now (moves with an adaptive limit). */
  limit: number;
  /** Retry attempts made (not counting first attempts). */
  retried: number;
  /** Failures that were task timeouts (also counted in `failed`). */
  timedOut: number;
  /**
   * Tasks settled by their timeout or abort whose code is still running (their promise has not
   * settled). With `releaseOnTimeout: false` they also hold slots and count in `active`.
   */
  abandoned: number;
  paused: boolean;
  /** Time waiting in the queue, ms (only with `metrics`). */
  waitMs?: HistogramSnapshot;
  /** Task run time, ms (only with `metrics`). */
  runMs?: HistogramSnapshot;
}

/** What `onSettled` listeners receive for each task. */
export interface SettledEvent {
  status: 'fulfilled' | 'rejected';
  /** The error, for a rejected task. */
  error?: unknown;
}
