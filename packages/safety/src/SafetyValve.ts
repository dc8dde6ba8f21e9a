/**
 * SafetyValve: Erlang safetyvalve's load regulation (jlouis/safetyvalve 2.5.1, `sv_queue.erl`)
 * for Node.
 *
 * A job starts when the rate source has a token AND the concurrency source has a free slot;
 * starting spends the token, finishing returns the slot and no token. Otherwise the job waits in
 * the line, and when `size` jobs already wait it is refused with `queue_full` before any queue
 * discipline runs.
 *
 * Core's `Admission` is the only place a job takes a slot and a token (CONTRIBUTING.md,
 * "Admission"): the fast path is `tryEnter()` (taken only while nobody waits, so a newcomer never
 * overtakes a waiter), queued jobs start from its pump in the line's order (`SafetyLine`: FIFO,
 * CoDel, adaptive LIFO), and with an asynchronous source (Redis) its acquire loop asks for the
 * head's permission. Every admitted job (a `run()`, an `ask()` permit, a lease) hands its permit
 * back through `finish` exactly once. This class owns the jobs: what a job does when it starts,
 * its scope (signal, execution limit, lease), its wait limits (`WaitTimers`) and its refusal.
 */
import {
  Admission,
  abortReason,
  captureContext,
  type Clock,
  ClosedError,
  emptyRejectedByReason,
  type Event,
  type LoadMonitor,
  type LocalConcurrency,
  type Permit,
  type RateSource,
  REASONS,
  type Reason,
  SignalGroups,
  TimeoutError,
  type TokenBucket,
  type Valve,
  validateFunction,
} from '@valve/core';
import { CoDel } from './CoDel.js';
import { Grant } from './Grant.js';
import { JobScope, QuietContext, type SignalMember } from './JobScope.js';
import { loadGauge } from './loadGauge.js';
import { createMeters, type Meters } from './meters.js';
import {
  checkLimits,
  checkOptions,
  checkRunOptions,
  type Job as Work,
  type RejectEvent,
  type RunOptions,
  type SafetyPermit,
  type SafetyValveConfiguration,
  type SafetyValveLimits,
  type SafetyValveOptions,
  type SafetyValveStats,
  type TryRunResult,
} from './options.js';
import { Refusals } from './Refusals.js';
import { type QueuedJob, SafetyLine } from './SafetyLine.js';
import { WaitTimers } from './WaitTimers.js';

const COUNTED = Admission.COUNTED;

export class SafetyValve implements Valve {
  readonly name: string;
  private readonly clock: Clock;
  private readonly rate: RateSource | undefined;
  /** Sources built from `hz`/`rate`/`tokenLimit` and an adaptive `concurrency`: the valve closes them. */
  private readonly ownRate: TokenBucket | undefined;
  private readonly ownConc: LocalConcurrency | undefined;
  /** The load gate (`loadShedding`), closed by `close()` only when the valve built it. */
  private readonly load: LoadMonitor | undefined;
  private readonly ownLoad: boolean;
  /** Written by `setLimits()`. */
  private size: number;
  /** Written by `setLimits()`; read when a job queues. */
  private deadlineMs: number | undefined;
  private readonly leaseMs: number | undefined;
  private readonly timeoutMs: number | undefined;
  /** Replaced (frozen) by `setLimits()`. */
  private configuration: SafetyValveConfiguration;
  /** Aborted by `close()`: every started job's signal follows it. */
  private readonly closing = new AbortController();
  /** The context of jobs that only `close()` can abort (one per valve, see QuietContext). */
  private readonly quiet = new QuietContext(this.closing.signal);
  /** Started jobs with their own scope (a signal, a timeout or a lease), for `close()` to abort. */
  private readonly scopes = new Set<JobScope>();
  private readonly codel: CoDel | undefined;
  /** The waiting jobs and their discipline (named `queue` for the tests that read its capacity). */
  private readonly queue: SafetyLine;
  /** The slot and token gates, the pump, the async acquire loop and the refill timer. */
  private readonly admission: Admission<QueuedJob>;
  /** Deadlines and codel-timer's expiry. */
  private readonly timers: WaitTimers;
  private readonly meters: Meters;
  private readonly refusals: Refusals;
  /**
   * One abort listener per distinct caller signal, however many jobs share it (issue 18): a queued
   * job leaves the line, a running one (its JobScope) has its signal aborted and its caller settled.
   */
  private readonly signals = new SignalGroups<SignalMember>((w, reason) =>
    w instanceof JobScope ? w.abort(reason, true) : this.abortJob(w as QueuedJob),
  );
  private closed = false;
  /** `close()`'s promise (the same for every call) and its resolver, until nothing runs. */
  private closePromise: Promise<void> | undefined = undefined;
  private closeResolve: (() => void) | undefined = undefined;
  /**
   * Jobs of this valve started and not ended (written by the start sites and `finish`). Not the
   * admission's `running`: that one also counts a slot its async loop holds while it waits for
   * the token, before any job started.
   */
  private running = 0;
  /** Throughput estimate for Retry-After: completions counted since `tpSince`. */
  private tpSince: number;
  private tpBase = 0;
  private tpPerMs = 0;
  /** Fires for every rejected job. */
  readonly onReject: Event<RejectEvent>;

  constructor(options: SafetyValveOptions) {
    const s = checkOptions(options);
    this.name = s.name;
    this.clock = s.clock;
    this.size = s.size;
    this.deadlineMs = s.deadlineMs;
    this.leaseMs = s.leaseMs;
    this.timeoutMs = s.timeoutMs;
    this.rate = s.rate;
    this.ownRate = s.ownRate;
    this.ownConc = s.ownConc;
    this.configuration = s.configuration;
    this.load = s.load;
    this.ownLoad = s.ownLoad;
    this.meters = createMeters(this.name, s.metrics, () => this.stats());
    this.refusals = new Refusals(
      this.name,
      this.meters,
      s.onReject,
      () => `${this.running} running, ${this.queue.size} waiting (size ${this.size})`,
    );
    this.onReject = this.refusals.onReject;
    this.codel = s.discipline === 'codel' ? new CoDel(s.targetMs, s.intervalMs) : undefined;
    this.queue = new SafetyLine(
      this.codel,
      s.lifo ? s.intervalMs : undefined,
      this.meters.sojourn !== undefined,
      (job) => this.refuse(job, 'overload'),
    );
    const timers = new WaitTimers(
      this.clock,
      this.queue,
      s.discipline === 'codel-timer' ? { targetMs: s.targetMs, intervalMs: s.intervalMs } : undefined,
      { refuse: (job, reason) => this.refuse(job, reason), afterRemoval: () => this.afterRemoval() },
    );
    this.timers = timers;
    this.admission = new Admission<QueuedJob>({
      line: this.queue,
      concurrency: s.concurrency,
      rate: s.rate,
      clock: this.clock,
      start: (job, permit, now) => this.start(job, permit, now),
      fail: (job, error) => {
        this.detach(job);
        job.reject(error);
      },
      // Only codel-timer re-aims a timer when the line's head changes.
      pumped: timers.expires ? () => timers.update() : undefined,
      weight: (job) => job.weight,
    });
    this.tpSince = this.clock.now();
    if (s.load !== undefined) this.shedOnLoad(loadGauge(this.meters, s.load));
  }

  /**
   * The load gate: `run` and `ask` refuse with reason `overload` while `load` says the process is
   * overloaded. Installed as own properties that shadow the prototype's methods, so a valve
   * without `loadShedding` keeps the prototype's `run()` and its admitted path checks nothing;
   * a gated one reads one boolean the monitor's timer keeps up to date (no syscall per call).
   */
  private shedOnLoad(load: LoadMonitor): void {
    const run = this.run;
    const ask = this.ask;
    this.run = <T>(fn: Work<T>, options?: RunOptions): Promise<Awaited<T>> =>
      load.overloaded ? this.refuseOverload(load) : (run.call(this, fn, options) as Promise<Awaited<T>>);
    this.ask = (options?: RunOptions): Promise<SafetyPermit> =>
      load.overloaded ? this.refuseOverload(load) : ask.call(this, options);
  }

  private refuseOverload(load: LoadMonitor): Promise<never> {
    if (this.closed) return Promise.reject(this.refusals.refuse('shutdown', 0));
    return Promise.reject(this.refusals.refuse('overload', 0, `process overloaded (${load.describe()})`));
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
      const weight = options.weight;
      if (weight !== undefined && weight !== 1) return this.runWeighted(fn, options, signal, weight);
    }
    if (signal !== undefined || this.timeoutMs !== undefined || options?.timeoutMs !== undefined) {
      return this.runScoped(fn, options, signal);
    }
    const permit = this.admission.tryEnter();
    if (permit === undefined) return this.enqueue(fn, options) as Promise<Awaited<T>>;
    this.meters.admitted.inc();
    this.running++;
    if (this.leaseMs !== undefined) {
      return this.executeLeased(fn, new Grant(this, permit, this.leaseMs, this.clock, new JobScope()));
    }
    return permit === COUNTED ? this.executeCounted(fn) : this.execute(fn, permit);
  }

  /** `run` for a job of weight > 1: `weight` slots and tokens (checked: throws when it never fits). */
  private runWeighted<T>(
    fn: Work<T>,
    options: RunOptions,
    signal: AbortSignal | undefined,
    weight: number,
  ): Promise<Awaited<T>> {
    this.admission.checkWeight(weight);
    const permit = this.admission.tryEnterWeighted(weight);
    if (permit === undefined) return this.enqueue(fn, options) as Promise<Awaited<T>>;
    this.meters.admitted.inc();
    this.running++;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const scope = new JobScope();
      const grant = this.leaseMs === undefined ? undefined : new Grant(this, permit, this.leaseMs, this.clock, scope);
      this.runInScope(fn, scope, signal, timeoutMs, grant, permit, resolve as (v: unknown) => void, reject);
    });
  }

  /** `run` for a job with its own scope (a caller signal or an execution limit). */
  private runScoped<T>(
    fn: Work<T>,
    options: RunOptions | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Awaited<T>> {
    const permit = this.admission.tryEnter();
    if (permit === undefined) return this.enqueue(fn, options) as Promise<Awaited<T>>;
    this.meters.admitted.inc();
    this.running++;
    const timeoutMs = options?.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const scope = new JobScope();
      const grant = this.leaseMs === undefined ? undefined : new Grant(this, permit, this.leaseMs, this.clock, scope);
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
    permit: Permit,
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
      else this.finish(permit, failed);
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

  /** Like `run`, but a refusal resolves to `{ ok: false, reason }` (safetyvalve's tuple). */
  async tryRun<T>(fn: Work<T>, options?: RunOptions): Promise<TryRunResult<Awaited<T>>> {
    let value: Awaited<T>;
    try {
      value = await this.run(fn, options);
    } catch (error) {
      if (this.refusals.made(error)) return { ok: false, reason: error.reason!, error };
      throw error;
    }
    return { ok: true, value };
  }

  /** Waits for a token and a slot like `run`, and resolves with a permit; call `done()` when finished. */
  ask(options?: RunOptions): Promise<SafetyPermit> {
    let weight = 1;
    if (options !== undefined) {
      const signal = checkRunOptions(options);
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      weight = options.weight ?? 1;
      this.admission.checkWeight(weight);
    }
    const permit = weight === 1 ? this.admission.tryEnter() : this.admission.tryEnterWeighted(weight);
    if (permit === undefined) return this.enqueue(undefined, options) as Promise<SafetyPermit>;
    this.meters.admitted.inc();
    this.running++;
    return Promise.resolve(new Grant(this, permit, this.leaseMs, this.clock));
  }

  /** Adds `n` tokens (default `rate`) to the built-in bucket now; starts waiters it allows. */
  replenish(n?: number): void {
    if (this.ownRate === undefined) {
      throw new TypeError(`valve ${this.name} has no built-in token bucket to replenish`);
    }
    this.ownRate.replenish(n);
  }

  /**
   * Changes limits at run time without dropping or duplicating a token, a slot or a waiting job:
   * the bucket keeps its tokens (clamped to a lowered `tokenLimit`), a raised `concurrency` starts
   * waiters at once and a lowered one lets running jobs finish, a lowered `size` refuses newcomers
   * until the line is shorter (no waiter is dropped), `deadlineMs` applies to jobs queued from
   * now on. Throws (and changes nothing) for a bad value or a limit this valve does not own:
   * `rate`/`tokenLimit` need the built-in bucket, `concurrency` a fixed cap.
   */
  setLimits(limits: SafetyValveLimits): void {
    this.applyLimits(this.planLimits(limits));
  }

  /** @internal `setLimits()`'s checks alone (SafetyValves.configure checks every queue first). */
  planLimits(limits: SafetyValveLimits): SafetyValveLimits {
    const next = checkLimits(limits);
    if ((next.rate !== undefined || next.tokenLimit !== undefined) && this.ownRate === undefined) {
      throw new TypeError(
        `valve ${this.name} has no built-in token bucket: rate and tokenLimit need hz/rate/tokenLimit options (a rateSource sets its own)`,
      );
    }
    if (next.concurrency !== undefined && typeof this.configuration.concurrency !== 'number') {
      throw new TypeError(
        `valve ${this.name} has no fixed concurrency cap to set: a concurrency source or adaptive Limit sets its own limit`,
      );
    }
    return next;
  }

  /** @internal Applies limits `planLimits` accepted. */
  applyLimits(next: SafetyValveLimits): void {
    if (this.closed) return;
    if (next.rate !== undefined || next.tokenLimit !== undefined) {
      this.ownRate!.reconfigure({ rate: next.rate, tokenLimit: next.tokenLimit });
    }
    if (next.size !== undefined) this.size = next.size;
    if (next.deadlineMs !== undefined) this.deadlineMs = next.deadlineMs;
    const c = this.configuration;
    this.configuration = Object.freeze({
      ...c,
      rate: this.ownRate?.rate,
      tokenLimit: this.ownRate?.tokenLimit,
      size: this.size,
      deadlineMs: this.deadlineMs,
      concurrency: next.concurrency ?? c.concurrency,
    });
    // Last: a raised cap starts waiters now, with the new bucket and size already in place. A new
    // bucket re-times the refill and pumps too: a waiter heavier than a lowered tokenLimit takes
    // the whole bucket now, where it used to wait for tokens the bucket can never hold (issue 17).
    // The cap first: a pump must never see a new bucket with the old, higher cap.
    if (next.concurrency !== undefined) this.admission.setLimit(next.concurrency);
    if (next.rate !== undefined || next.tokenLimit !== undefined) this.admission.rateChanged();
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
      limit: this.admission.limit,
      admitted: this.meters.admitted.value,
      completed: this.meters.completed.value,
      failed: this.meters.failed.value,
      rejected,
      rejectedByReason: byReason,
      aborted: this.meters.aborted.value,
      reclaimed: this.meters.reclaimed.value,
      dropping: this.codel?.state.dropping ?? false,
      loadCause: this.load?.cause,
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
    this.admission.close();
    this.timers.clear();
    for (const job of this.queue.drain()) this.refuse(job, 'shutdown');
    // Running jobs finish, but are told: their signals abort (the callers get the jobs' outcomes).
    const closedError = new ClosedError(`valve ${this.name} is closed`);
    this.closing.abort(closedError);
    for (const scope of this.scopes) scope.abort(closedError, false);
    this.ownRate?.close();
    this.ownConc?.close();
    if (this.ownLoad) this.load?.close();
    this.meters.series.close();
    if (this.running === 0) this.resolveClose();
    return this.closePromise;
  }

  /** The same as `close()`, for `await using valve = new SafetyValve(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal Ends a started job and hands its permit back: exactly once per admitted job. */
  finish(permit: Permit, failed: boolean): void {
    this.running--;
    if (failed) this.meters.failed.inc();
    else this.meters.completed.inc();
    this.admission.leave(permit, failed);
    if (this.running === 0 && this.closed) this.resolveClose();
  }

  /** @internal A lease ran out. */
  reclaimed(): void {
    this.meters.reclaimed.inc();
  }

  private resolveClose(): void {
    const resolve = this.closeResolve;
    if (resolve === undefined) return;
    this.closeResolve = undefined;
    resolve();
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
   * Runs a job admitted with a counted slot (`Admission.COUNTED`: a fixed cap, no lease) and gives
   * it back exactly once, through one `then` with handlers bound once per valve (the caller
   * resumes with the slot already free).
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
      this.finish(COUNTED, true);
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(this.endCountedPass, this.endCountedRethrow) as Promise<Awaited<T>>;
  }

  private readonly endCountedPass = (value: unknown): unknown => {
    this.finish(COUNTED, false);
    return value;
  };

  private readonly endCountedRethrow = (error: unknown): never => {
    this.finish(COUNTED, true);
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
    if (this.closed) return Promise.reject(this.refusals.refuse('shutdown', 0));
    // With an async source the head waits while its permission is fetched; it does not count against `size`.
    if (this.queue.size >= this.size + (this.admission.async ? 1 : 0)) {
      return Promise.reject(this.refusals.refuse('queue_full', 0));
    }
    const signal = options?.signal;
    return new Promise((resolve, reject) => {
      const now = this.clock.now();
      const job: QueuedJob = {
        gone: false,
        enqueuedAt: now,
        fn,
        weight: options?.weight ?? 1,
        timeoutMs: options?.timeoutMs ?? this.timeoutMs,
        resolve,
        reject,
        signal,
        signalGroup: undefined,
        signalPrev: undefined,
        signalNext: undefined,
        context: captureContext(),
        timer: undefined,
      };
      // Abort listener and deadline first: the admission may start the job at once (which detaches it).
      if (signal !== undefined) this.signals.add(signal, job);
      this.queue.push(job, now);
      const deadline = options?.deadlineMs ?? this.deadlineMs;
      if (deadline !== undefined) this.timers.startDeadline(job, deadline);
      this.admission.enqueued();
      if (this.timers.expires) this.timers.update();
    });
  }

  /** Starts a job the admission took from the line: it holds `permit` and has spent its token. */
  private start(job: QueuedJob, permit: Permit, now: number): void {
    this.detach(job);
    this.meters.sojourn?.record(now - job.enqueuedAt);
    this.meters.admitted.inc();
    this.running++;
    const fn = job.fn;
    if (fn === undefined) {
      job.resolve(new Grant(this, permit, this.leaseMs, this.clock));
      return;
    }
    if (job.signal !== undefined || job.timeoutMs !== undefined || this.leaseMs !== undefined) {
      const scope = new JobScope();
      const grant = this.leaseMs === undefined ? undefined : new Grant(this, permit, this.leaseMs, this.clock, scope);
      job.context.runInAsyncScope(
        () => this.runInScope(fn, scope, job.signal, job.timeoutMs, grant, permit, job.resolve, job.reject),
        undefined,
        undefined,
      );
      return;
    }
    let result: unknown;
    try {
      result = job.context.runInAsyncScope(fn, undefined, this.quiet);
    } catch (error) {
      this.finish(permit, true);
      job.reject(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        this.finish(permit, false);
        job.resolve(value);
      },
      (error) => {
        this.finish(permit, true);
        job.reject(error);
      },
    );
  }

  /** A waiting job's caller aborted: it leaves the line and rejects with the signal's reason. */
  private abortJob(job: QueuedJob): void {
    if (!this.queue.remove(job)) return;
    this.detach(job);
    this.meters.aborted.inc();
    job.reject(abortReason(job.signal!));
    this.afterRemoval();
  }

  /** Waiters left the line from the middle (an abort, a deadline, codel-timer's expiry). */
  private afterRemoval(): void {
    this.admission.removed();
    if (this.timers.expires) this.timers.update();
  }

  /** Stops listening for the job's abort and clears its deadline. */
  private detach(job: QueuedJob): void {
    if (job.signalGroup !== undefined) this.signals.remove(job);
    if (job.timer !== undefined) this.timers.stopDeadline(job);
  }

  /** Rejects a job that left the line. */
  private refuse(job: QueuedJob, reason: Reason): void {
    this.detach(job);
    job.reject(this.refusals.refuse(reason, this.clock.now() - job.enqueuedAt));
  }
}
