/**
 * SafetyValve: Erlang safetyvalve's load regulation (jlouis/safetyvalve 2.5.1, `sv_queue.erl`)
 * for Node.
 *
 * A job starts when the rate source has a token AND the concurrency source has a free slot;
 * starting spends the token, finishing returns the slot and no token. Otherwise the job waits in
 * the queue, and when `size` jobs already wait it is refused with `queue_full` before any queue
 * discipline runs. Whenever a slot frees up or tokens arrive, the valve starts as many waiters as
 * both allow, synchronously and in queue order.
 *
 * Invariant (no barging): in synchronous mode the queue is non-empty only while tokens or slots
 * are exhausted, and the fast path is taken only when the queue is empty, so a newcomer can never
 * overtake a waiter. `pump()` is the one place queued jobs start; it is re-entrancy safe (a job
 * that finishes synchronously inside it sets `again` instead of recursing).
 *
 * With an asynchronous source (`source.async === true`, e.g. Redis) every job queues, and one
 * loop asks the source for the head's permission with `acquire(signal)`, keeping the valve's
 * order.
 */
import { AsyncResource } from 'node:async_hooks';
import {
  abortReason,
  type Clock,
  type ConcurrencySource,
  type Counter,
  type Disposable,
  Emitter,
  errorForReason,
  type Histogram,
  isLimit,
  LocalConcurrency,
  type Permit,
  type RateSource,
  REASONS,
  type Reason,
  rejectUnknownOptions,
  rethrowLater,
  SignalGroups,
  type Timer,
  TimeoutError,
  ClosedError,
  TokenBucket,
  validateClock,
  validateFunction,
  validateInteger,
  validateMetrics,
  validateNumber,
  validateObject,
  validateOneOf,
  validateSignal,
  validateString,
  type ValveError,
  type Valve,
  ValveMetrics,
  emptyRejectedByReason,
} from '@valve/core';
import { CoDel, type CoDelSource } from './CoDel.js';
import { type QueuedEntry, JobQueue } from './internal/JobQueue.js';
import { JobScope, QuietContext, type SignalMember } from './JobScope.js';
import {
  type Job as Work,
  KNOWN_OPTIONS,
  QUEUE_DISCIPLINES,
  type QueueDiscipline,
  type RejectEvent,
  type RunOptions,
  type SafetyPermit,
  type SafetyValveConfiguration,
  type SafetyValveOptions,
  type SafetyValveStats,
  type TryRunResult,
} from './options.js';

const DROPPED = Object.freeze({ dropped: true });

interface Job extends QueuedEntry {
  /** The work; `undefined` for an `ask()`, which resolves with a permit instead. */
  readonly fn: Work<unknown> | undefined;
  /** This call's execution limit (its own or the valve's), for when it starts. */
  readonly timeoutMs: number | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  /** Links in the valve's SignalGroups (one abort listener per distinct signal; written there). */
  signalGroup: unknown;
  signalPrev: SignalMember | undefined;
  signalNext: SignalMember | undefined;
  /**
   * The caller's async context, captured when the job queued: it starts later, from whichever
   * job freed its slot, and must run in its own caller's AsyncLocalStorage context (issue 14).
   */
  readonly context: AsyncResource;
  /** The job's deadline timer (ref'd: the job waits on it). */
  timer: Timer | undefined;
}

/** Counters a valve keeps; registered in `metrics` when one is given. */
interface Meters {
  /** Registers the counters below and removes them on close(). */
  series: ValveMetrics;
  admitted: Counter;
  completed: Counter;
  failed: Counter;
  aborted: Counter;
  reclaimed: Counter;
  rejected: Record<Reason, Counter>;
  /** Only with a registry (nothing reads it otherwise). */
  sojourn: Histogram | undefined;
}

export class SafetyValve implements Valve {
  readonly name: string;
  private readonly clock: Clock;
  private readonly rate: RateSource | undefined;
  private readonly conc: ConcurrencySource;
  /** Sources built from `hz`/`rate`/`tokenLimit` and `concurrency`: the valve closes them. */
  private readonly ownRate: TokenBucket | undefined;
  private readonly ownConc: LocalConcurrency | undefined;
  private readonly asyncMode: boolean;
  private readonly size: number;
  private readonly discipline: QueueDiscipline;
  private readonly lifo: boolean;
  private readonly targetMs: number;
  private readonly intervalMs: number;
  private readonly deadlineMs: number | undefined;
  private readonly leaseMs: number | undefined;
  private readonly timeoutMs: number | undefined;
  /** Aborted by `close()`: every started job's signal follows it. */
  private readonly closing = new AbortController();
  /** The context of jobs that only `close()` can abort (one per valve, see QuietContext). */
  private readonly quiet = new QuietContext(this.closing.signal);
  /** Started jobs with their own scope (a signal, a timeout or a lease), for `close()` to abort. */
  private readonly scopes = new Set<JobScope>();
  private readonly codel: CoDel | undefined;
  private readonly configuration: SafetyValveConfiguration;
  private readonly queue = new JobQueue<Job>();
  /**
   * One abort listener per distinct caller signal, however many jobs share it (issue 18): a queued
   * job leaves the queue, a running one (its JobScope) has its signal aborted and its caller settled.
   */
  private readonly signals = new SignalGroups<SignalMember>((w, reason) =>
    w instanceof JobScope ? w.abort(reason, true) : this.abortJob(w as Job),
  );
  /** When the queue last went from empty to non-empty; meaningful while it is non-empty. */
  private nonEmptySince = 0;
  private closed = false;
  /** `close()`'s promise (the same for every call) and its resolver, until nothing runs. */
  private closePromise: Promise<void> | undefined = undefined;
  private closeResolve: (() => void) | undefined = undefined;
  /** Set while `pump()` runs; a nested call sets `again` instead. */
  private pumping = false;
  private again = false;
  /** Jobs of this valve in flight (written at start and finish). */
  private running = 0;
  /** `codel-timer`: one ref'd timer for the oldest waiter's expiry (deadlines are monotone). */
  private expiryTimer: Timer | undefined;
  private expiryDue = 0;
  /** Keeps the process alive while jobs wait for a refill (the bucket's own timer is unref'd). */
  private tokenTimer: Timer | undefined;
  /** Async mode: the loop acquiring for the head is running; its abort controller. */
  private acquiring = false;
  private acquireAbort: AbortController | undefined;
  /**
   * `pump` listens to the sources' `onAvailable` only while this valve has waiters (subscribed by
   * `enqueue`, dropped once the queue is empty and nothing of ours runs): on the uncontended path
   * a release then costs no listener call at all. `undefined` while not listening.
   */
  private watching: Disposable[] | undefined;
  /**
   * The built-in fixed cap when no lease is set: admitted `run()` jobs then take and give its
   * slots by count (`tryTake`/`give`), with no permit object, and `run()` hands `then` two
   * handlers bound once per valve instead of two closures per call. Such slots are
   * interchangeable and a job ends exactly once (its promise settles once), so counting is
   * exact. `undefined` otherwise (adaptive limit, custom source, lease: they need a permit).
   */
  private readonly counted: LocalConcurrency | undefined;
  private readonly meters: Meters;
  /** Throughput estimate for Retry-After: completions counted since `tpSince`. */
  private tpSince: number;
  private tpBase = 0;
  private tpPerMs = 0;
  /** Errors this valve refused with, so `tryRun` tells them from the job's own errors. */
  private readonly refusals = new WeakSet<object>();
  private readonly reject$ = new Emitter<RejectEvent>();
  private readonly onRejectOption: ((event: RejectEvent) => void) | undefined;
  /** Fires for every rejected job. */
  readonly onReject = this.reject$.event;

  constructor(options: SafetyValveOptions) {
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', KNOWN_OPTIONS);
    this.name = validateString(options.name ?? 'safety', 'name', { nonEmpty: true });
    this.clock = validateClock(options.clock);
    validateMetrics(options.metrics);
    this.size = validateInteger(options.size, 'size', { min: 0, allowInfinity: true });
    this.discipline = validateOneOf(options.queue ?? 'fifo', 'queue', QUEUE_DISCIPLINES);
    const lifo = options.lifo ?? false;
    if (lifo !== false && lifo !== 'adaptive') {
      throw new TypeError(`lifo must be false or "adaptive", got ${JSON.stringify(lifo)}`);
    }
    this.lifo = lifo === 'adaptive';
    this.intervalMs = validateNumber(options.intervalMs ?? 100, 'intervalMs', { above: 0 });
    this.targetMs = validateNumber(options.targetMs ?? 5, 'targetMs', { above: 0 });
    if (this.targetMs > this.intervalMs) {
      throw new RangeError(
        `targetMs must be <= intervalMs (safetyvalve refuses a target above the interval), got targetMs ${this.targetMs} and intervalMs ${this.intervalMs}`,
      );
    }
    this.deadlineMs =
      options.deadlineMs === undefined ? undefined : validateNumber(options.deadlineMs, 'deadlineMs', { min: 0 });
    if (this.discipline === 'deadline' && this.deadlineMs === undefined) {
      throw new TypeError('deadlineMs is required with queue: "deadline" (the longest wait, in ms)');
    }
    this.leaseMs = options.leaseMs === undefined ? undefined : validateNumber(options.leaseMs, 'leaseMs', { above: 0 });
    this.timeoutMs =
      options.timeoutMs === undefined ? undefined : validateNumber(options.timeoutMs, 'timeoutMs', { above: 0 });
    this.onRejectOption = options.onReject === undefined ? undefined : validateFunction(options.onReject, 'onReject');

    // The rate gate: a custom source, the built-in bucket, or none.
    const bucketKeys = options.hz !== undefined || options.rate !== undefined || options.tokenLimit !== undefined;
    if (options.rateSource !== undefined) {
      if (bucketKeys) throw new TypeError('rateSource replaces hz, rate and tokenLimit; pass one or the other');
      this.rate = checkRateSource(options.rateSource);
    } else if (bucketKeys) {
      if (options.tokenLimit === undefined) {
        throw new TypeError('tokenLimit is required with hz or rate (the bucket size, an integer >= 1)');
      }
      this.ownRate = new TokenBucket({
        hz: options.hz,
        rate: options.rate,
        tokenLimit: options.tokenLimit,
        clock: this.clock,
      });
      this.rate = this.ownRate;
    }
    // The concurrency gate: a custom source or the built-in counter.
    if (options.concurrencySource !== undefined) {
      if (options.concurrency !== undefined) {
        throw new TypeError('concurrencySource replaces concurrency; pass one or the other');
      }
      this.conc = checkConcurrencySource(options.concurrencySource);
    } else {
      const c = options.concurrency;
      if (!isLimit(c)) validateInteger(c, 'concurrency', { min: 1, allowInfinity: true });
      this.ownConc = new LocalConcurrency({ limit: c as number, clock: this.clock });
      this.conc = this.ownConc;
      if (!isLimit(c) && this.leaseMs === undefined) this.counted = this.ownConc;
    }
    this.asyncMode = this.conc.async === true || this.rate?.async === true;
    this.codel = this.discipline === 'codel' ? new CoDel(this.targetMs, this.intervalMs) : undefined;
    this.meters = createMeters(this.name, options.metrics, () => this);
    this.tpSince = this.clock.now();
    this.configuration = Object.freeze({
      name: this.name,
      hz: this.ownRate?.hz,
      rate: this.ownRate?.rate,
      tokenLimit: this.ownRate?.tokenLimit,
      size: this.size,
      concurrency: options.concurrencySource ? 'source' : isLimit(options.concurrency) ? 'adaptive' : this.conc.limit,
      queue: this.discipline,
      lifo: lifo,
      targetMs: this.targetMs,
      intervalMs: this.intervalMs,
      deadlineMs: this.deadlineMs,
      leaseMs: this.leaseMs,
      timeoutMs: this.timeoutMs,
    });
  }

  /**
   * Runs `fn` once a token and a slot are available and resolves with its result (errors pass
   * through unchanged); rejects with a `ValveError` carrying `reason` when the valve refuses or
   * drops the job, or with `signal.reason` when the caller aborts while it waits.
   */
  run<T>(fn: Work<T>, options?: RunOptions): Promise<Awaited<T>> {
    // The check inline, the helper (and its message) only on failure: this is the hot path.
    if (typeof fn !== 'function') validateFunction(fn, 'fn');
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      signal = checkRunOptions(options);
      if (signal?.aborted) return Promise.reject(abortReason(signal));
    }
    if (signal !== undefined || this.timeoutMs !== undefined || options?.timeoutMs !== undefined) {
      return this.runScoped(fn, options, signal);
    }
    if (this.counted !== undefined) {
      if (this.startCounted(this.counted)) return this.executeCounted(fn);
    } else {
      const permit = this.startNow();
      if (permit !== undefined) {
        if (this.leaseMs === undefined) return this.execute(fn, permit);
        return this.executeLeased(fn, new Grant(this, permit, new JobScope()));
      }
    }
    return this.enqueue(fn, options) as Promise<Awaited<T>>;
  }

  /** `run` for a job with its own scope (a caller signal or an execution limit). */
  private runScoped<T>(
    fn: Work<T>,
    options: RunOptions | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Awaited<T>> {
    const permit = this.startNow();
    if (permit === undefined) return this.enqueue(fn, options) as Promise<Awaited<T>>;
    const timeoutMs = options?.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const scope = new JobScope();
      const grant = this.leaseMs === undefined ? undefined : new Grant(this, permit, scope);
      this.runInScope(fn, scope, signal, timeoutMs, grant, permit, resolve as (v: unknown) => void, reject);
    });
  }

  /**
   * Runs a started job with its own scope and ends it exactly once: the caller may be settled
   * early by its abort or the execution limit (a later settle of the same promise is a no-op),
   * the slot comes back when the job's own promise settles (or by the lease).
   */
  private runInScope(
    fn: Work<unknown>,
    scope: JobScope,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    grant: Grant | undefined,
    permit: Permit | undefined,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ): void {
    scope.fail = reject;
    this.scopes.add(scope);
    if (signal !== undefined) this.signals.add(signal, scope);
    if (timeoutMs !== undefined) {
      scope.timer = this.clock.setTimeout(() => {
        scope.timer = undefined;
        scope.abort(new TimeoutError(`valve ${this.name}: job ran longer than timeoutMs (${timeoutMs} ms)`), true);
      }, timeoutMs);
    }
    const end = (failed: boolean): void => {
      this.scopes.delete(scope);
      this.signals.remove(scope);
      scope.timer?.clear();
      scope.timer = undefined;
      scope.fail = undefined;
      if (grant !== undefined) grant.done({ dropped: failed });
      else if (permit !== undefined) this.finish(permit, failed);
      else this.endCounted(failed);
    };
    let result: unknown;
    try {
      result = fn(scope);
    } catch (error) {
      end(true);
      reject(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        end(false);
        resolve(value);
      },
      (error) => {
        end(true);
        reject(error);
      },
    );
  }

  /**
   * The fast path: when nobody waits, starting now cannot overtake anyone. Returns the slot's
   * permit with the token spent and the job counted as admitted, or `undefined`.
   */
  private startNow(): Permit | undefined {
    if (!this.openNow()) return undefined;
    const permit = this.conc.tryAcquire();
    if (permit === undefined) return undefined;
    if (!this.admitNow()) {
      permit.release();
      return undefined;
    }
    return permit;
  }

  /** `startNow` for the counted cap: takes a slot by count, no permit object. */
  private startCounted(conc: LocalConcurrency): boolean {
    if (!this.openNow() || !conc.tryTake()) return false;
    if (!this.admitNow()) {
      conc.give();
      return false;
    }
    return true;
  }

  /** Whether a job may skip the queue: nobody waits (so it overtakes no one) and a token is there. */
  private openNow(): boolean {
    if (this.queue.size !== 0 || this.closed || this.asyncMode) return false;
    const rate = this.rate;
    return rate === undefined || rate.available >= 1;
  }

  /** For a job holding a slot: spends its token and counts it admitted; false if the rate refused. */
  private admitNow(): boolean {
    const rate = this.rate;
    if (rate !== undefined && !rate.tryAcquire()) return false;
    this.meters.admitted.inc();
    this.running++;
    return true;
  }

  /** Like `run`, but a refusal resolves to `{ ok: false, reason }` (safetyvalve's tuple). */
  async tryRun<T>(fn: Work<T>, options?: RunOptions): Promise<TryRunResult<Awaited<T>>> {
    let value: Awaited<T>;
    try {
      value = await this.run(fn, options);
    } catch (error) {
      if (this.refusals.has(error as object)) return { ok: false, reason: (error as ValveError).reason!, error };
      throw error;
    }
    return { ok: true, value };
  }

  /** Waits for a token and a slot like `run`, and resolves with a permit; call `done()` when finished. */
  ask(options?: RunOptions): Promise<SafetyPermit> {
    if (options !== undefined) {
      const signal = checkRunOptions(options);
      if (signal?.aborted) return Promise.reject(abortReason(signal));
    }
    const permit = this.startNow();
    if (permit !== undefined) return Promise.resolve(new Grant(this, permit));
    return this.enqueue(undefined, options) as Promise<SafetyPermit>;
  }

  /** Adds `n` tokens (default `rate`) to the built-in bucket now; starts waiters it allows. */
  replenish(n?: number): void {
    if (this.ownRate === undefined) {
      throw new TypeError(`valve ${this.name} has no built-in token bucket to replenish`);
    }
    this.ownRate.replenish(n);
  }

  /**
   * How long a refused caller should wait before retrying, in ms: the time to the next refill
   * when tokens ran out, else the queue's length over the measured throughput (1 s when unknown).
   */
  retryAfterMs(): number {
    const rate = this.rate;
    if (rate !== undefined && rate.available < 1) {
      const ms = rate.nextTokenInMs();
      if (Number.isFinite(ms)) return Math.max(0, ms);
    }
    const now = this.clock.now();
    const elapsed = now - this.tpSince;
    const done = this.meters.completed.value - this.tpBase;
    if (elapsed >= 1000 && done > 0) {
      // Roll the window (lazily, here only: the hot path never pays for it).
      this.tpPerMs = done / elapsed;
      this.tpSince = now;
      this.tpBase = this.meters.completed.value;
    }
    const perMs = this.tpPerMs > 0 ? this.tpPerMs : elapsed > 0 && done > 0 ? done / elapsed : 0;
    if (perMs === 0) return 1000;
    return Math.ceil((this.queue.size + 1) / perMs);
  }

  stats(): SafetyValveStats {
    const byReason = emptyRejectedByReason();
    let rejected = 0;
    for (const r of REASONS) rejected += byReason[r] = this.meters.rejected[r].value;
    rejected += byReason.aborted = this.meters.aborted.value;
    return {
      name: this.name,
      tokens: this.rate === undefined ? Number.POSITIVE_INFINITY : this.rate.available,
      running: this.running,
      queued: this.queue.size,
      limit: this.conc.limit,
      admitted: this.meters.admitted.value,
      completed: this.meters.completed.value,
      failed: this.meters.failed.value,
      rejected,
      rejectedByReason: byReason,
      aborted: this.meters.aborted.value,
      reclaimed: this.meters.reclaimed.value,
      dropping: this.codel?.state.dropping ?? false,
      closed: this.closed,
      configuration: this.configuration,
    };
  }

  /**
   * Refuses new jobs, rejects every waiter with reason `shutdown`, stops the valve's timers and
   * closes the built-in sources (not ones passed in, which may be shared). Running jobs finish.
   */
  close(): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.closed = true;
    this.closePromise = new Promise<void>((resolve) => {
      this.closeResolve = resolve;
    });
    this.unwatch();
    this.clearTimers();
    this.acquireAbort?.abort();
    for (const job of this.queue.drain()) this.refuse(job, 'shutdown');
    // Running jobs finish, but are told: their signals abort (the callers get the jobs' outcomes).
    const closedError = new ClosedError(`valve ${this.name} is closed`);
    this.closing.abort(closedError);
    for (const scope of this.scopes) scope.abort(closedError, false);
    this.ownRate?.close();
    this.ownConc?.close();
    this.meters.series.close();
    if (this.running === 0) this.becameIdle();
    return this.closePromise;
  }

  /** The same as `close()`, for `await using valve = new SafetyValve(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal Ends a started job: called exactly once per admitted job. */
  finish(permit: Permit, failed: boolean): void {
    this.running--;
    if (failed) this.meters.failed.inc();
    else this.meters.completed.inc();
    permit.release(failed ? DROPPED : undefined);
    if (this.running === 0 && (this.watching !== undefined || this.closed)) this.becameIdle();
  }

  /** Nothing of ours runs: stop listening to the sources when nobody waits; end a pending close(). */
  private becameIdle(): void {
    if (this.queue.size === 0) this.unwatch();
    const resolve = this.closeResolve;
    if (resolve !== undefined && this.closed) {
      this.closeResolve = undefined;
      resolve();
    }
  }

  /** Starts listening for freed slots and tokens (synchronous sources only); idempotent. */
  private watch(): void {
    if (this.watching !== undefined || this.asyncMode || this.closed) return;
    const subscriptions = [this.conc.onAvailable(this.pump)];
    if (this.rate !== undefined) subscriptions.push(this.rate.onAvailable(this.pump));
    this.watching = subscriptions;
  }

  private unwatch(): void {
    const subscriptions = this.watching;
    if (subscriptions === undefined) return;
    this.watching = undefined;
    for (const s of subscriptions) s.dispose();
  }

  /** @internal A lease ran out. */
  reclaimed(): void {
    this.meters.reclaimed.inc();
  }

  /** @internal */
  get lease(): number | undefined {
    return this.leaseMs;
  }

  /** @internal */
  get timeSource(): Clock {
    return this.clock;
  }

  /**
   * Runs an admitted job and ends it exactly once. Written with `then` instead of an async
   * function with `finally`: one promise fewer per call on the hot path.
   */
  private execute<T>(fn: Work<T>, permit: Permit): Promise<Awaited<T>> {
    let result: T | PromiseLike<T>;
    try {
      result = fn(this.quiet);
    } catch (error) {
      this.finish(permit, true);
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.finish(permit, false);
        return value;
      },
      (error: unknown) => {
        this.finish(permit, true);
        throw error;
      },
    ) as Promise<Awaited<T>>;
  }

  /**
   * Runs a job admitted by `startCounted` and gives its slot back exactly once, through one `then`
   * with handlers bound once per valve (the caller resumes with the slot already free).
   *
   * Why not return `fn`'s own promise with the release registered on it (a microtask less): the
   * release handler would mark that promise handled, so a rejected job whose caller never looks
   * at `run()`'s promise would fail silently instead of raising `unhandledRejection`. The promise
   * returned here is the caller's alone, and rejects unhandled like a direct call would.
   */
  private executeCounted<T>(fn: Work<T>): Promise<Awaited<T>> {
    let result: T | PromiseLike<T>;
    try {
      result = fn(this.quiet);
    } catch (error) {
      this.endCounted(true);
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(this.endCountedPass, this.endCountedRethrow) as Promise<Awaited<T>>;
  }

  /** Ends a counted job: called exactly once per job that `startCounted` admitted. */
  private readonly endCounted = (failed: boolean): void => {
    this.running--;
    if (failed) this.meters.failed.inc();
    else this.meters.completed.inc();
    this.counted!.give();
    if (this.running === 0 && (this.watching !== undefined || this.closed)) this.becameIdle();
  };

  private readonly endCountedPass = (value: unknown): unknown => {
    this.endCounted(false);
    return value;
  };

  private readonly endCountedRethrow = (error: unknown): never => {
    this.endCounted(true);
    throw error;
  };

  private async executeLeased<T>(fn: Work<T>, grant: Grant): Promise<Awaited<T>> {
    let failed = true;
    try {
      const value = await fn(grant.scope ?? this.quiet);
      failed = false;
      return value;
    } finally {
      grant.done({ dropped: failed });
    }
  }

  private enqueue(fn: Work<unknown> | undefined, options: RunOptions | undefined): Promise<unknown> {
    if (this.closed) return Promise.reject(this.refusal('shutdown', 0));
    // In async mode the head waits while its permission is fetched; it does not count against `size`.
    if (this.queue.size >= this.size + (this.asyncMode ? 1 : 0)) {
      return Promise.reject(this.refusal('queue_full', 0));
    }
    const signal = options?.signal;
    return new Promise((resolve, reject) => {
      const now = this.clock.now();
      const job: Job = {
        gone: false,
        enqueuedAt: now,
        fn,
        timeoutMs: options?.timeoutMs ?? this.timeoutMs,
        resolve,
        reject,
        signal,
        signalGroup: undefined,
        signalPrev: undefined,
        signalNext: undefined,
        context: new AsyncResource('ValveQueued'),
        timer: undefined,
      };
      if (signal !== undefined) this.signals.add(signal, job);
      if (this.queue.size === 0) this.nonEmptySince = now;
      this.queue.push(job);
      this.watch();
      const deadline = options?.deadlineMs ?? this.deadlineMs;
      if (deadline !== undefined) {
        job.timer = this.clock.setTimeout(() => this.expire(job), deadline).ref();
      }
      if (this.asyncMode) void this.acquireLoop();
      else this.pump();
    });
  }

  /** Starts waiters while both a token and a slot are free. Bound once, used as a listener. */
  private readonly pump = (): void => {
    // Every release on the fast path lands here: leave at once when nobody waits.
    if (this.queue.size === 0 && this.expiryTimer === undefined && this.tokenTimer === undefined) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    let stalled = false;
    try {
      do {
        this.again = false;
        while (this.queue.size > 0 && !this.closed) {
          const conc = this.conc;
          const rate = this.rate;
          if (conc.inUse >= conc.limit) break;
          if (rate !== undefined && rate.available < 1) break;
          // One reading of the clock per start, shared by the discipline and the sojourn.
          const now = this.clock.now();
          const job = this.pick(now);
          if (job === undefined) break;
          // Both gates said yes a moment ago; a source that then refuses is misbehaving, so put
          // the job back at the front and wait for its next onAvailable event. A queued `run()` on
          // the counted cap takes its slot by count like the fast path; an `ask()` needs a permit.
          const counted = job.fn === undefined ? undefined : this.counted;
          let permit: Permit | undefined;
          let gotSlot: boolean;
          if (counted !== undefined) {
            gotSlot = counted.tryTake();
          } else {
            permit = conc.tryAcquire();
            gotSlot = permit !== undefined;
          }
          if (!gotSlot) {
            this.queue.unshift(job);
            stalled = true;
            break;
          }
          if (rate !== undefined && !rate.tryAcquire()) {
            this.queue.unshift(job);
            stalled = true;
            if (permit === undefined) counted!.give();
            else permit.release();
            break;
          }
          this.start(job, permit, now);
        }
      } while (this.again && !stalled && !this.closed);
    } finally {
      this.pumping = false;
    }
    this.updateTimers();
  };

  /** Takes the job to start next: CoDel's or the oldest, or the newest while the queue stands. */
  private pick(now: number): Job | undefined {
    let job = this.codel ? this.codel.dequeue(now, this.codelSource, this.codelDrop) : this.queue.shift();
    if (job !== undefined && this.lifo && this.queue.size > 0 && now - this.nonEmptySince >= this.intervalMs) {
      this.queue.unshift(job);
      job = this.queue.pop();
    }
    return job;
  }

  private readonly codelSource: CoDelSource<Job> = {
    shift: () => this.queue.shift(),
    enqueuedAt: (job) => job.enqueuedAt,
  };

  private readonly codelDrop = (job: Job): void => {
    this.refuse(job, 'overload');
  };

  /** Starts a queued job; `permit` is `undefined` when the job holds a slot of `counted` by count. */
  private start(job: Job, permit: Permit | undefined, now: number): void {
    this.detach(job);
    this.meters.sojourn?.record(now - job.enqueuedAt);
    this.meters.admitted.inc();
    this.running++;
    if (job.fn === undefined) {
      job.resolve(new Grant(this, permit!));
      return;
    }
    if (job.signal !== undefined || job.timeoutMs !== undefined || this.leaseMs !== undefined) {
      const scope = new JobScope();
      const grant = this.leaseMs === undefined ? undefined : new Grant(this, permit!, scope);
      const fn = job.fn;
      job.context.runInAsyncScope(() =>
        this.runInScope(fn, scope, job.signal, job.timeoutMs, grant, permit, job.resolve, job.reject),
      );
      return;
    }
    const end = permit === undefined ? this.endCounted : (failed: boolean) => this.finish(permit, failed);
    let result: unknown;
    try {
      result = job.context.runInAsyncScope(job.fn, undefined, this.quiet);
    } catch (error) {
      end(true);
      job.reject(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        end(false);
        job.resolve(value);
      },
      (error) => {
        end(true);
        job.reject(error);
      },
    );
  }

  private async acquireLoop(): Promise<void> {
    if (this.acquiring) return;
    this.acquiring = true;
    try {
      while (this.queue.size > 0 && !this.closed) {
        const ac = new AbortController();
        this.acquireAbort = ac;
        let permit: Permit | undefined;
        try {
          permit = (this.conc.async ? undefined : this.conc.tryAcquire()) ?? (await this.conc.acquire(ac.signal));
          const rate = this.rate;
          if (rate !== undefined && (rate.async || !rate.tryAcquire())) await rate.acquire(ac.signal);
        } catch (error) {
          permit?.release();
          if (ac.signal.aborted) continue;
          // The source failed: the job it was asked for gets the error unchanged.
          const job = this.queue.shift();
          if (job !== undefined) {
            this.detach(job);
            job.reject(error);
          }
          continue;
        } finally {
          this.acquireAbort = undefined;
        }
        const now = this.clock.now();
        const job = this.closed ? undefined : this.pick(now);
        if (job === undefined) {
          permit.release();
          continue;
        }
        this.start(job, permit, now);
        this.updateTimers();
      }
    } finally {
      this.acquiring = false;
    }
  }

  private abortJob(job: Job): void {
    if (job.gone) return;
    this.queue.remove(job);
    this.detach(job);
    this.meters.aborted.inc();
    job.reject(abortReason(job.signal!));
    this.afterRemoval();
  }

  private expire(job: Job): void {
    job.timer = undefined;
    if (job.gone) return;
    this.queue.remove(job);
    this.refuse(job, 'deadline');
    this.afterRemoval();
  }

  private afterRemoval(): void {
    if (this.queue.size === 0) this.acquireAbort?.abort();
    this.updateTimers();
  }

  /** Stops listening for the job's abort and clears its deadline. */
  private detach(job: Job): void {
    if (job.signalGroup !== undefined) this.signals.remove(job);
    if (job.timer !== undefined) {
      job.timer.clear();
      job.timer = undefined;
    }
  }

  /** Rejects a job that left the queue. */
  private refuse(job: Job, reason: Reason): void {
    this.detach(job);
    job.reject(this.refusal(reason, this.clock.now() - job.enqueuedAt));
  }

  private refusal(reason: Reason, waitedMs: number): ValveError {
    this.meters.rejected[reason].inc();
    const error = errorForReason(reason, this.describeRefusal(reason, waitedMs));
    this.refusals.add(error);
    const event: RejectEvent = { valve: this.name, reason, waitedMs };
    if (this.onRejectOption !== undefined) {
      try {
        this.onRejectOption(event);
      } catch (e) {
        rethrowLater(e);
      }
    }
    if (this.reject$.hasListeners) this.reject$.emit(event);
    return error;
  }

  private describeRefusal(reason: Reason, waitedMs: number): string {
    const state = `${this.running} running, ${this.queue.size} waiting (size ${this.size})`;
    switch (reason) {
      case 'queue_full':
        return `valve ${this.name}: queue full, ${state}`;
      case 'shutdown':
        return `valve ${this.name} is closed`;
      case 'deadline':
        return `valve ${this.name}: waited ${waitedMs} ms without starting, ${state}`;
      default:
        return `valve ${this.name}: dropped after waiting ${waitedMs} ms (${reason}), ${state}`;
    }
  }

  /** Arms or clears the valve's ref'd timers; they exist only while jobs wait. */
  private updateTimers(): void {
    if (this.queue.size === 0 || this.closed) {
      if (this.expiryTimer !== undefined || this.tokenTimer !== undefined) this.clearTimers();
      if (this.running === 0) this.unwatch();
      return;
    }
    // Only codel-timer needs the time here (one clock read less per hand-over for the others).
    if (this.discipline === 'codel-timer') this.armExpiry(this.clock.now());
    const rate = this.rate;
    if (rate !== undefined && !this.asyncMode && rate.available < 1) {
      if (this.tokenTimer === undefined) {
        const ms = rate.nextTokenInMs();
        if (Number.isFinite(ms)) {
          // At least 1 ms: if our timer fires just before the bucket's, we must not spin.
          this.tokenTimer = this.clock
            .setTimeout(
              () => {
                this.tokenTimer = undefined;
                this.pump();
              },
              Math.max(1, ms),
            )
            .ref();
        }
      }
    } else if (this.tokenTimer !== undefined) {
      this.tokenTimer.clear();
      this.tokenTimer = undefined;
    }
  }

  /**
   * `codel-timer` (Facebook's "Fail at Scale" controlled delay): while the queue has been
   * non-empty for less than `intervalMs` a job may wait `intervalMs`, afterwards `targetMs`.
   * Every wait limit is then `enqueuedAt + limit`, monotone in queue order, so one timer on the
   * oldest waiter suffices.
   */
  private armExpiry(now: number): void {
    const standingAt = this.nonEmptySince + this.intervalMs;
    let due: number;
    if (now < standingAt) {
      due = standingAt;
    } else {
      const oldest = this.queue.peek();
      if (oldest === undefined) return;
      due = oldest.enqueuedAt + this.targetMs;
    }
    if (this.expiryTimer !== undefined) {
      if (this.expiryDue === due) return;
      this.expiryTimer.clear();
    }
    this.expiryDue = due;
    this.expiryTimer = this.clock.setTimeout(() => this.onExpiry(), Math.max(0, due - now)).ref();
  }

  private onExpiry(): void {
    this.expiryTimer = undefined;
    const now = this.clock.now();
    if (now >= this.nonEmptySince + this.intervalMs) {
      for (let job = this.queue.peek(); job !== undefined; job = this.queue.peek()) {
        if (now - job.enqueuedAt < this.targetMs) break;
        this.queue.shift();
        this.refuse(job, 'overload');
      }
    }
    this.afterRemoval();
  }

  private clearTimers(): void {
    this.expiryTimer?.clear();
    this.expiryTimer = undefined;
    this.tokenTimer?.clear();
    this.tokenTimer = undefined;
  }
}

/**
 * A started job's hold on its slot, released exactly once: by `done()`, by the end of a leased
 * `run`, or by the lease timer (which counts it as reclaimed).
 */
class Grant implements SafetyPermit {
  private valve: SafetyValve | undefined;
  private timer: Timer | undefined;

  constructor(
    valve: SafetyValve,
    private readonly permit: Permit,
    /** The leased job's scope: a reclaim aborts its signal (`undefined` for an `ask()` permit). */
    readonly scope?: JobScope,
  ) {
    this.valve = valve;
    const lease = valve.lease;
    if (lease !== undefined) this.timer = valve.timeSource.setTimeout(() => this.reclaim(), lease);
  }

  get released(): boolean {
    return this.valve === undefined;
  }

  done(outcome?: { dropped?: boolean }): void {
    const valve = this.valve;
    if (valve === undefined) return;
    this.valve = undefined;
    this.timer?.clear();
    this.timer = undefined;
    valve.finish(this.permit, outcome?.dropped === true);
  }

  private reclaim(): void {
    this.timer = undefined;
    const valve = this.valve;
    if (valve === undefined) return;
    valve.reclaimed();
    this.scope?.abort(new TimeoutError('the lease ran out (leaseMs): the slot was reclaimed'), false);
    this.done(DROPPED);
  }
}

function checkRunOptions(options: RunOptions): AbortSignal | undefined {
  validateObject(options, 'options');
  if (options.deadlineMs !== undefined) validateNumber(options.deadlineMs, 'options.deadlineMs', { min: 0 });
  if (options.timeoutMs !== undefined) validateNumber(options.timeoutMs, 'options.timeoutMs', { above: 0 });
  return validateSignal(options.signal, 'options.signal');
}

function checkRateSource(source: RateSource): RateSource {
  validateObject(source, 'rateSource');
  validateFunction(source.tryAcquire, 'rateSource.tryAcquire');
  validateFunction(source.acquire, 'rateSource.acquire');
  validateFunction(source.nextTokenInMs, 'rateSource.nextTokenInMs');
  validateFunction(source.onAvailable, 'rateSource.onAvailable');
  return source;
}

function checkConcurrencySource(source: ConcurrencySource): ConcurrencySource {
  validateObject(source, 'concurrencySource');
  validateFunction(source.tryAcquire, 'concurrencySource.tryAcquire');
  validateFunction(source.acquire, 'concurrencySource.acquire');
  validateFunction(source.onAvailable, 'concurrencySource.onAvailable');
  return source;
}

function createMeters(name: string, registry: SafetyValveOptions['metrics'], self: () => SafetyValve): Meters {
  const series = new ValveMetrics(registry, name);
  const rejected = {} as Record<Reason, Counter>;
  for (const r of REASONS) {
    rejected[r] = series.counter(
      'valve_safety_rejected_total',
      'Jobs refused or dropped by a safety valve, by reason.',
      { reason: r },
    );
  }
  const stat = () => self().stats();
  series.gauge('valve_safety_queue_length', 'Jobs waiting in a safety valve.', () => stat().queued);
  series.gauge('valve_safety_running', 'Jobs of a safety valve in flight.', () => stat().running);
  series.gauge(
    'valve_safety_tokens',
    'Tokens in a safety valve bucket (+Inf without a rate limit).',
    () => stat().tokens,
  );
  series.gauge(
    'valve_safety_limit',
    'Concurrency a safety valve allows now (moves with an adaptive limit).',
    () => stat().limit,
  );
  return {
    series,
    admitted: series.counter('valve_safety_admitted_total', 'Jobs started by a safety valve.'),
    completed: series.counter(
      'valve_safety_completed_total',
      'Jobs of a safety valve that succeeded (or whose permit was released without dropped).',
    ),
    failed: series.counter(
      'valve_safety_failed_total',
      'Jobs of a safety valve that failed (threw, rejected, dropped permit or reclaimed lease).',
    ),
    aborted: series.counter('valve_safety_aborted_total', 'Queued jobs whose caller aborted.'),
    reclaimed: series.counter(
      'valve_safety_reclaimed_total',
      'Slots taken back from jobs or permits that outlived leaseMs.',
    ),
    rejected,
    sojourn: series.histogram('valve_safety_sojourn_seconds', 'Time queued jobs waited before they started.'),
  };
}
