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
 * back through `RunningJobs.end` exactly once.
 */
import {
  Admission,
  abortReason,
  type Clock,
  type Event,
  type LoadMonitor,
  type LocalConcurrency,
  type RateSource,
  rejectExtraArguments,
  SignalGroups,
  type TokenBucket,
  type Valve,
  validateFunction,
} from '@valve/core';
import { CoDel } from './CoDel.js';
import { Grant } from './Grant.js';
import { JobScope, type SignalMember } from './JobScope.js';
import { loadGauge } from './loadGauge.js';
import { contractStats, createMeters, type Meters } from './meters.js';
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
import { CURRENT, RunningJobs } from './RunningJobs.js';
import { type QueuedJob, SafetyLine } from './SafetyLine.js';
import { ScopedJobs } from './ScopedJobs.js';
import { Throughput } from './Throughput.js';
import { WaitingJobs } from './WaitingJobs.js';

const COUNTED = Admission.COUNTED;

/**
 * The valve's parts, one concept each: `admission` (core's: the gates, the pump, the async acquire
 * loop, the refill timer), `waiting` (the line and how a job joins and leaves it), `jobs` (started
 * jobs: counting, ending once, `close()`), `scoped` (started jobs with their own signal, execution
 * limit or lease). This class is the public API: the fast path, the load gate, runtime limits,
 * Retry-After and the Valve contract's `stats()`.
 */
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
  private readonly timeoutMs: number | undefined;
  private readonly leaseMs: number | undefined;
  /** Every job gets a scope of its own (a valve-wide `timeoutMs` or `leaseMs`). */
  private readonly scopedByDefault: boolean;
  /** Replaced (frozen) by `setLimits()`. */
  private configuration: SafetyValveConfiguration;
  private readonly codel: CoDel | undefined;
  /** Jobs CoDel dropped (`stats().codelDrops`). */
  private codelDrops = 0;
  /** The waiting jobs and their discipline (named `queue` for the tests that read its capacity). */
  private readonly queue: SafetyLine;
  /** The slot and token gates, the pump, the async acquire loop and the refill timer. */
  private readonly admission: Admission<QueuedJob>;
  private readonly meters: Meters;
  private readonly refusals: Refusals;
  /**
   * One abort listener per distinct caller signal, however many jobs share it (issue 18): a queued
   * job leaves the line, a running one (its JobScope) has its signal aborted and its caller settled.
   */
  private readonly signals: SignalGroups<SignalMember>;
  private readonly jobs: RunningJobs;
  private readonly scoped: ScopedJobs;
  private readonly waiting: WaitingJobs;
  private readonly throughput: Throughput;
  /** Fires for every rejected job. */
  readonly onReject: Event<RejectEvent>;

  constructor(options: SafetyValveOptions) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new SafetyValve()');
    const s = checkOptions(options);
    this.name = s.name;
    this.clock = s.clock;
    this.timeoutMs = s.timeoutMs;
    this.leaseMs = s.leaseMs;
    this.scopedByDefault = s.timeoutMs !== undefined || s.leaseMs !== undefined;
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
      () => `${this.jobs.count} running, ${this.queue.size} waiting (size ${this.waiting.size})`,
    );
    this.onReject = this.refusals.onReject;
    this.codel = s.discipline === 'codel' ? new CoDel(s.targetMs, s.intervalMs) : undefined;
    this.queue = new SafetyLine(
      this.codel,
      s.lifo ? s.intervalMs : undefined,
      this.meters.sojourn !== undefined,
      (job) => {
        this.codelDrops++;
        this.waiting.refuse(job, 'overload');
      },
    );
    this.admission = new Admission<QueuedJob>({
      line: this.queue,
      concurrency: s.concurrency,
      rate: s.rate,
      clock: this.clock,
      start: (job, permit, now) => this.waiting.start(job, permit, now),
      fail: (job, error) => this.waiting.fail(job, error),
      // Only codel-timer re-aims a timer when the line's head changes.
      pumped: s.discipline === 'codel-timer' ? () => this.waiting.headChanged() : undefined,
      weight: (job) => job.weight,
    });
    // A valve lives as long as what it guards: keep the listener (core SignalGroups' keepListening;
    // removing it cost +0.8-1.0 us per run() with a signal).
    this.signals = new SignalGroups<SignalMember>(
      (w, reason) => (w instanceof JobScope ? w.abort(reason, true) : this.waiting.abort(w as QueuedJob)),
      undefined,
      { keepListening: true },
    );
    this.jobs = new RunningJobs(this.name, this.admission, this.meters);
    this.scoped = new ScopedJobs(this.name, this.clock, this.jobs, this.signals, s.leaseMs);
    this.waiting = new WaitingJobs(
      s,
      this.queue,
      this.admission,
      this.jobs,
      this.scoped,
      this.signals,
      this.refusals,
      this.meters,
    );
    this.throughput = new Throughput(this.clock, this.meters.completed);
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
    if (this.jobs.closed) return Promise.reject(this.refusals.refuse('shutdown', 0));
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
      if (weight !== undefined && weight !== 1) {
        // A weighted job always gets its own scope (its slots come back together).
        this.admission.checkWeight(weight);
        return this.runScoped(fn, options, signal, weight);
      }
    }
    if (signal !== undefined || this.scopedByDefault || options?.timeoutMs !== undefined) {
      return this.runScoped(fn, options, signal, 1);
    }
    const permit = this.admission.tryEnter();
    if (permit === undefined) return this.waiting.enqueue(fn, options) as Promise<Awaited<T>>;
    return permit === COUNTED ? this.jobs.startCounted(fn) : this.jobs.start(fn, permit);
  }

  /**
   * `run` for a job with its own scope: a caller signal, an execution limit, a lease or a weight
   * (`weight` slots and tokens, checked before).
   */
  private runScoped<T>(
    fn: Work<T>,
    options: RunOptions | undefined,
    signal: AbortSignal | undefined,
    weight: number,
  ): Promise<Awaited<T>> {
    const permit = weight === 1 ? this.admission.tryEnter() : this.admission.tryEnterWeighted(weight);
    if (permit === undefined) return this.waiting.enqueue(fn, options) as Promise<Awaited<T>>;
    this.jobs.started();
    const timeoutMs = options?.timeoutMs ?? this.timeoutMs;
    if (signal === undefined && timeoutMs === undefined) return this.scoped.run(fn, permit);
    return new Promise((resolve, reject) => {
      this.scoped.start(fn, permit, signal, timeoutMs, CURRENT, resolve as (v: unknown) => void, reject);
    });
  }

  /**
   * Like `run`, but a refusal resolves to `{ ok: false, reason }` (safetyvalve's tuple). Bad
   * arguments throw synchronously, as `run`'s do.
   */
  tryRun<T>(fn: Work<T>, options?: RunOptions): Promise<TryRunResult<Awaited<T>>> {
    return this.run(fn, options).then(
      (value): TryRunResult<Awaited<T>> => ({ ok: true, value }),
      (error: unknown): TryRunResult<Awaited<T>> => {
        if (this.refusals.made(error)) return { ok: false, reason: error.reason!, error };
        throw error;
      },
    );
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
    if (permit === undefined) return this.waiting.enqueue(undefined, options) as Promise<SafetyPermit>;
    this.jobs.started();
    return Promise.resolve(new Grant(this.jobs, permit, this.leaseMs, this.clock));
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
    if (this.jobs.closed) return;
    if (next.rate !== undefined || next.tokenLimit !== undefined) {
      this.ownRate!.reconfigure({ rate: next.rate, tokenLimit: next.tokenLimit });
    }
    const waiting = this.waiting;
    if (next.size !== undefined) waiting.size = next.size;
    if (next.deadlineMs !== undefined) waiting.deadlineMs = next.deadlineMs;
    const c = this.configuration;
    this.configuration = Object.freeze({
      ...c,
      rate: this.ownRate?.rate,
      tokenLimit: this.ownRate?.tokenLimit,
      size: waiting.size,
      deadlineMs: waiting.deadlineMs,
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
    return this.throughput.msFor(this.queue.size + 1);
  }

  stats(): SafetyValveStats {
    const m = this.meters;
    return {
      ...contractStats(this.name, m, this.queue.size, this.jobs.count, this.jobs.closed),
      tokens: this.rate === undefined ? Number.POSITIVE_INFINITY : this.rate.available,
      limit: this.admission.limit,
      aborted: m.aborted.value,
      reclaimed: m.reclaimed.value,
      dropping: this.codel?.state.dropping ?? false,
      codelDrops: this.codelDrops,
      loadCause: this.load?.cause,
      configuration: this.configuration,
    };
  }

  /**
   * Refuses new jobs, rejects every waiter with reason `shutdown`, stops the valve's timers and
   * closes the built-in sources (not ones passed in, which may be shared). Running jobs finish,
   * with their signals aborted (a `ClosedError`); the promise resolves once they have.
   */
  close(): Promise<void> {
    return this.jobs.close((closedError) => {
      this.waiting.close();
      this.scoped.abortAll(closedError);
      this.ownRate?.close();
      this.ownConc?.close();
      if (this.ownLoad) this.load?.close();
    });
  }

  /** The same as `close()`, for `await using valve = new SafetyValve(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
