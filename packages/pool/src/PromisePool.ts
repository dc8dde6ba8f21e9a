import {
  abortReason,
  describeValue,
  type Clock,
  ClosedError,
  type ConcurrencySource,
  type Counter,
  type Disposable,
  Emitter,
  type Histogram,
  histogramSnapshot,
  isLimit,
  LocalConcurrency,
  type NormalizedRetry,
  normalizeRetry,
  type Permit,
  type RateSource,
  rejectUnknownOptions,
  rethrowLater,
  retry,
  SignalGroups,
  KeepAlive,
  type Timer,
  TimeoutError,
  TokenBucket,
  validateFunction,
  validateInteger,
  validateNumber,
  validateObject,
  validateSignal,
  validateBoolean,
  validateClock,
  validateMetrics,
  validateString,
} from '@valve/core';
import { bindTask, captureContext } from './internal/callerContext.js';
import { Cohort } from './internal/Cohort.js';
import { ACQUIRING, DONE, Job, JobContext, PLAIN_CONTEXT, QUEUED, QueuedRun, RUNNING } from './internal/Job.js';
import { mapItems, mapItemsSettled, type MapOptions, type MapTask } from './map.js';
import type {
  PoolStats,
  PoolSummary,
  PromisePoolOptions,
  RunOptions,
  SettledEvent,
  Task,
  TaskErrorInfo,
} from './options.js';
import { PoolTimeoutError } from './PoolTimeoutError.js';
import { PriorityQueue } from './PriorityQueue.js';

const KNOWN_OPTIONS = [
  'maxWorkers',
  'concurrencySource',
  'rate',
  'hz',
  'tokenLimit',
  'rateSource',
  'taskTimeoutMs',
  'releaseOnTimeout',
  'runtimeLimitMs',
  'idleTimeoutMs',
  'retry',
  'onError',
  'maxErrors',
  'metrics',
  'name',
  'clock',
] as const;

/** Dead (aborted) jobs tolerated in the queue before it is compacted. */
const COMPACT_AFTER = 64;

interface SizeWaiter {
  limit: number;
  resolve: () => void;
}

interface DrainWaiter {
  resolve: (summary: PoolSummary) => void;
  reject: (error: unknown) => void;
}

interface PoolMetrics {
  completed: Counter;
  failed: Counter;
  retried: Counter;
  timedOut: Counter;
  wait: Histogram;
  run: Histogram;
}

type QueueItem = Task | QueuedRun | Job;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function validateShape(value: unknown, name: string, methods: readonly string[]): void {
  validateObject(value, name);
  for (const m of methods) {
    if (typeof (value as Record<string, unknown>)[m] !== 'function') {
      throw new TypeError(`${name}.${m} must be a function, got ${typeof (value as Record<string, unknown>)[m]}`);
    }
  }
}

/**
 * A promise pool: runs tasks with at most `maxWorkers` at once, higher priority first and FIFO
 * within a priority, with the seed's `add()` / smart `drain()` / `done()` and p-queue's
 * `run()`, waits and events.
 *
 * Hot paths. A "plain" task (the pool has a numeric `maxWorkers`, no timeouts, retries, metrics
 * or async sources, and the call has no signal or timeout) gets no record of its own: it is
 * called with one shared context, settles through handlers made once per drain cohort, and, when
 * it must wait, the queue holds the function itself. Everything else gets a `Job` record.
 *
 * Invariants: `queued` counts live waiting tasks (the queue may also hold aborted jobs, counted
 * in `dead`); `active` counts tasks holding a slot; `openOutstanding + waitingFor` counts
 * accepted, unsettled tasks (those of the current cohort, and those a drain waits for).
 * Each accepted task settles exactly once: `finishJob` ignores a job already `DONE`.
 */
// Not `implements CohortOwner` (it is structurally one): the clause would pull the internal Cohort
// types into the published .d.ts, which stripInternal cannot remove.
export class PromisePool {
  /** Runs `fn` over `items` with at most `maxWorkers` at once; results in input order. */
  static map<T, R>(items: Iterable<T>, fn: MapTask<T, R>, options?: MapOptions): Promise<R[]> {
    return mapItems(items, fn, options);
  }

  /** Like `map`, but never rejects for a failed item: each result is a `PromiseSettledResult`. */
  static mapSettled<T, R>(
    items: Iterable<T>,
    fn: MapTask<T, R>,
    options?: MapOptions,
  ): Promise<PromiseSettledResult<R>[]> {
    return mapItemsSettled(items, fn, options);
  }

  /**
   * Never read: it keeps the hot path's hidden classes alive (see `holdShapes`). A static field,
   * because a module-level constant nothing reads may be collected.
   */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: held, never read (see holdShapes)
  static readonly #shapes: PromisePool = holdShapes(new PromisePool({ maxWorkers: 1, name: 'shapes' }));

  readonly name: string;
  private readonly clock: Clock;
  /** True when `maxWorkers` is a number and no concurrency source is used: a plain counter. */
  private readonly counter: boolean;
  private readonly maxWorkers: number;
  private readonly conc: ConcurrencySource | undefined;
  private readonly rate: RateSource | undefined;
  private readonly owned: { close?(): void }[] = [];
  /** Some source is asynchronous: every task goes through `acquireFor`. */
  private readonly asyncMode: boolean;
  /** Every `add()`ed task is plain (see the class comment). */
  private readonly plain: boolean;
  private readonly taskTimeoutMs: number | undefined;
  /** Free a timed-out or aborted task's slot at once (true) or when its promise settles (false). */
  private readonly releaseOnTimeout: boolean;
  private readonly runtimeLimitMs: number | undefined;
  private readonly idleTimeoutMs: number | undefined;
  private readonly retryOptions: NormalizedRetry | undefined;
  private readonly onErrorOption: ((error: unknown, info: TaskErrorInfo) => void) | undefined;
  private readonly maxErrors: number;
  private readonly m: PoolMetrics | undefined;
  private readonly subscriptions: Disposable[] = [];

  private readonly queue = new PriorityQueue<QueueItem, Cohort>();
  private queued = 0;
  private dead = 0;
  /** Tasks holding a slot (the public `active` getter reads it). */
  private activeCount = 0;
  private pumping = false;
  /** Async mode: an `acquire` for the head task is in flight. */
  private acquiring = false;

  private completed = 0;
  private failed = 0;
  private retried = 0;
  private timedOut = 0;
  /** Jobs settled by timeout or abort whose task has not settled yet (see `Job.abandoned`). */
  private abandonedCount = 0;

  private cohort: Cohort;
  private openOutstanding = 0;
  private waitingFor = 0;
  private cycleStart: number | undefined = undefined;
  private cycleCompleted = 0;
  private cycleFailed = 0;
  private cycleErrors: unknown[] = [];
  private drainWaiter: DrainWaiter | undefined = undefined;
  private runtimeTimer: Timer | undefined = undefined;
  private idleTimer: Timer | undefined = undefined;
  /** True while a drain waits and `idleTimeoutMs` is set: settles then record the time. */
  private trackProgress = false;
  private lastProgressAt = 0;

  private paused = false;
  private pauseTimer: Timer | undefined = undefined;
  private pausedUntil = 0;
  private rateTimer: Timer | undefined = undefined;
  /**
   * Ref'd while a drain waits on queued work that nothing else will start (a paused pool): no
   * task runs and no timer is due, so without it the process could exit with work accepted.
   */
  private readonly keepAlive: KeepAlive;

  private closed = false;
  private donePromise: Promise<PoolSummary> | undefined = undefined;
  private sizeWaiters: SizeWaiter[] = [];
  private idleWaiters: (() => void)[] = [];

  /** One abort listener per distinct caller signal, however many jobs share it (issue 18). */
  private readonly signals = new SignalGroups<Job>((job, reason) => this.onJobAbort(job, reason));

  private readonly settled$ = new Emitter<SettledEvent>();
  /** Every task's outcome, after the pool's state is updated. Costs nothing when unused. */
  readonly onSettled = this.settled$.event;

  constructor(options: PromisePoolOptions = {}) {
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', KNOWN_OPTIONS);
    this.clock = validateClock(options.clock);
    this.keepAlive = new KeepAlive(this.clock);
    this.name = validateString(options.name ?? 'pool', 'name', { nonEmpty: true });

    // Plain options first, so a bad one throws before any source is subscribed to.
    this.taskTimeoutMs = optionalMs(options.taskTimeoutMs, 'taskTimeoutMs');
    this.releaseOnTimeout =
      options.releaseOnTimeout === undefined ? true : validateBoolean(options.releaseOnTimeout, 'releaseOnTimeout');
    this.runtimeLimitMs = optionalMs(options.runtimeLimitMs, 'runtimeLimitMs');
    this.idleTimeoutMs = optionalMs(options.idleTimeoutMs, 'idleTimeoutMs');
    const r = options.retry === undefined ? undefined : normalizeRetry(options.retry, 'retry');
    this.retryOptions = r !== undefined && r.retries > 0 ? r : undefined;
    this.onErrorOption = options.onError === undefined ? undefined : validateFunction(options.onError, 'onError');
    this.maxErrors = validateInteger(options.maxErrors ?? 10, 'maxErrors', { min: 0 });
    validateMetrics(options.metrics);

    if (options.concurrencySource !== undefined) {
      if (options.maxWorkers !== undefined) {
        throw new TypeError('maxWorkers and concurrencySource cannot both be set: the source replaces maxWorkers');
      }
      validateShape(options.concurrencySource, 'concurrencySource', ['tryAcquire', 'acquire', 'onAvailable']);
      this.conc = options.concurrencySource;
      this.counter = false;
      this.maxWorkers = 0;
    } else if (isLimit(options.maxWorkers)) {
      // Made below, once every option is valid (it subscribes to the limit).
      this.conc = undefined;
      this.counter = false;
      this.maxWorkers = 0;
    } else {
      if (typeof options.maxWorkers === 'object' && options.maxWorkers !== null) {
        throw new TypeError('maxWorkers must be an integer >= 1, Infinity or a Limit (limit, onSample, onChange)');
      }
      this.maxWorkers = validateInteger(options.maxWorkers ?? 4, 'maxWorkers', { min: 1, allowInfinity: true });
      this.counter = true;
    }

    const bucketSet = options.rate !== undefined || options.hz !== undefined || options.tokenLimit !== undefined;
    if (options.rateSource !== undefined) {
      if (bucketSet) {
        throw new TypeError('rate/hz/tokenLimit and rateSource cannot both be set: the source replaces the bucket');
      }
      validateShape(options.rateSource, 'rateSource', ['tryAcquire', 'acquire', 'onAvailable', 'nextTokenInMs']);
      this.rate = options.rateSource;
    } else if (bucketSet) {
      if (options.rate === undefined || options.hz === undefined) {
        throw new TypeError(`rate and hz must be set together (rate = ${options.rate}, hz = ${options.hz})`);
      }
      const rate = validateInteger(options.rate, 'rate', { min: 1 });
      const bucket = new TokenBucket({
        rate,
        hz: validateNumber(options.hz, 'hz', { above: 0 }),
        tokenLimit: validateInteger(options.tokenLimit ?? rate, 'tokenLimit', { min: 1 }),
        clock: this.clock,
      });
      this.owned.push(bucket);
      this.rate = bucket;
    }

    if (isLimit(options.maxWorkers)) {
      const local = new LocalConcurrency({ limit: options.maxWorkers, clock: this.clock });
      this.owned.push(local);
      this.conc = local;
    }
    this.asyncMode = this.conc?.async === true || this.rate?.async === true;

    this.m = options.metrics === undefined ? undefined : this.register(options.metrics);
    const wake = () => this.pump();
    if (this.conc !== undefined && this.conc.async !== true) this.subscriptions.push(this.conc.onAvailable(wake));
    if (this.rate !== undefined && this.rate.async !== true) this.subscriptions.push(this.rate.onAvailable(wake));

    this.plain =
      this.counter &&
      !this.asyncMode &&
      this.taskTimeoutMs === undefined &&
      this.retryOptions === undefined &&
      this.m === undefined;
    this.cohort = new Cohort(this);
  }

  /** Tasks waiting to start. */
  get size(): number {
    return this.queued;
  }

  /** Tasks running. */
  get active(): number {
    return this.activeCount;
  }

  /** The concurrency allowed now (moves with an adaptive limit). */
  get limit(): number {
    return this.counter ? this.maxWorkers : this.conc!.limit;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** True once `done()` was called: `add` throws and `run` rejects with `ClosedError`. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Adds tasks to run in the background; returns how many started right away. Failures go to
   * `onError`, `stats()` and the drain summary, never to an unhandled rejection. Throws a
   * `TypeError` (adding nothing) if any task is not a function, and `ClosedError` after `done()`.
   */
  add(...tasks: Task[]): number {
    const n = tasks.length;
    for (let i = 0; i < n; i++) if (typeof tasks[i] !== 'function') throwNotATask(i, tasks[i]);
    if (this.closed) throw this.closedError();
    if (this.cycleStart === undefined) this.cycleStart = this.clock.now();
    let started = 0;
    for (let i = 0; i < n; i++) {
      const task = tasks[i]!;
      this.openOutstanding++;
      if (!this.plain) {
        if (this.submit(new Job(task, 0, this.cohort, undefined, this.taskTimeoutMs))) started++;
      } else if (this.queued === 0 && this.admitCounter()) {
        this.startPlain(task, this.cohort);
        started++;
      } else {
        this.queue.pushZero(bindTask(task), this.cohort);
        if (++this.queued === 1) this.onQueued();
      }
    }
    return started;
  }

  /**
   * Runs one task and returns a promise for its own result: a thrown error or rejection
   * rejects with exactly that value; a non-promise return value resolves with it.
   */
  run<T>(task: Task<T>, options?: RunOptions): Promise<T> {
    if (typeof task !== 'function') {
      throw new TypeError(`run(): task must be a function returning a promise, got ${describeValue(task)}`);
    }
    let priority = 0;
    let signal: AbortSignal | undefined;
    let timeoutMs = this.taskTimeoutMs;
    if (options !== undefined) {
      validateObject(options, 'options');
      if (options.priority !== undefined) priority = validateNumber(options.priority, 'priority');
      signal = validateSignal(options.signal, 'signal');
      if (options.timeoutMs !== undefined) timeoutMs = validateNumber(options.timeoutMs, 'timeoutMs', { above: 0 });
    }
    if (this.closed) return Promise.reject(this.closedError());
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.cycleStart === undefined) this.cycleStart = this.clock.now();
    this.openOutstanding++;
    const cohort = this.cohort;
    const full = !this.plain || signal !== undefined || timeoutMs !== undefined;
    if (!full && this.queued === 0 && this.admitCounter()) {
      // Started at once with nothing per task to clean up: chain the caller's promise straight
      // onto the task's, through the cohort's shared handlers (no closure, no record).
      if (this.activeCount++ === 0 && this.trackProgress) this.onBusy();
      let result: T | PromiseLike<T>;
      try {
        result = task(PLAIN_CONTEXT);
      } catch (error) {
        this.settlePlain(cohort, false, error, true);
        return Promise.reject(error);
      }
      if (result instanceof Promise) return result.then(cohort.okPass, cohort.errPass);
      if (isThenable(result)) return Promise.resolve(result).then(cohort.okPass, cohort.errPass);
      this.settlePlain(cohort, true, undefined, true);
      return Promise.resolve(result);
    }
    if (!full) {
      return new Promise<T>((resolve, reject) => {
        const run = new QueuedRun(captureContext(), task, priority, resolve as (value: unknown) => void, reject);
        this.queue.push(run, priority, cohort);
        if (++this.queued === 1) this.onQueued();
      });
    }
    const job = new Job(task, priority, cohort, signal, timeoutMs);
    const promise = new Promise<T>((resolve, reject) => {
      job.resolve = resolve as (value: unknown) => void;
      job.reject = reject;
    });
    this.submit(job);
    return promise;
  }

  /**
   * Resolves with a summary once every task accepted before the call has settled, or at once
   * when a later `drain()` takes over the waiting (the seed's smart drain: only the latest
   * caller waits). The pool stays usable. After `done()`, returns `done()`'s promise.
   */
  drain(): Promise<PoolSummary> {
    if (this.donePromise !== undefined) return this.donePromise;
    return this.waitCycle();
  }

  /**
   * Drains and finalizes: later `add` throws and `run` rejects with `ClosedError`. Runs once;
   * every caller gets the same promise.
   */
  done(): Promise<PoolSummary> {
    if (this.donePromise === undefined) {
      this.closed = true;
      this.donePromise = this.waitCycle();
      if (this.queued === 0 && this.activeCount === 0 && !this.acquiring) this.release();
    }
    return this.donePromise;
  }

  /** Stops starting tasks (running ones continue) until `resume()`. */
  pause(): void {
    this.paused = true;
    this.pauseTimer?.clear();
    this.pauseTimer = undefined;
    this.syncKeepAlive();
  }

  /** Starts tasks again (also ends a `pauseFor`). */
  resume(): void {
    this.pauseTimer?.clear();
    this.pauseTimer = undefined;
    if (!this.paused) return;
    this.paused = false;
    this.syncKeepAlive();
    this.pump();
  }

  /**
   * Starts no task for `ms` milliseconds (a server's Retry-After). A longer pause extends it;
   * a shorter one does not shorten it; after `pause()` it does nothing (`resume()` ends both).
   */
  pauseFor(ms: number): void {
    validateNumber(ms, 'ms', { min: 0 });
    if (this.paused && this.pauseTimer === undefined) return;
    const until = this.clock.now() + ms;
    if (this.pauseTimer !== undefined && until <= this.pausedUntil) return;
    this.pauseTimer?.clear();
    this.paused = true;
    this.pausedUntil = until;
    this.pauseTimer = this.clock.setTimeout(() => {
      this.pauseTimer = undefined;
      this.paused = false;
      this.syncKeepAlive();
      this.pump();
    }, ms);
    // The timer keeps the process alive only while accepted work waits for it.
    if (this.queued > 0) this.pauseTimer.ref();
  }

  /** Resolves when no task is waiting (some may still run). */
  onEmpty(): Promise<void> {
    return this.onSizeLessThan(1);
  }

  /** Resolves when fewer than `limit` tasks are waiting: a producer's back pressure. */
  onSizeLessThan(limit: number): Promise<void> {
    validateInteger(limit, 'limit', { min: 1 });
    if (this.queued < limit) return Promise.resolve();
    return new Promise((resolve) => this.sizeWaiters.push({ limit, resolve }));
  }

  /** Resolves when nothing waits and nothing runs. */
  onIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): PoolStats {
    const s: PoolStats = {
      name: this.name,
      queued: this.queued,
      active: this.activeCount,
      limit: this.limit,
      completed: this.completed,
      failed: this.failed,
      retried: this.retried,
      timedOut: this.timedOut,
      abandoned: this.abandonedCount,
      paused: this.paused,
      closed: this.closed,
    };
    if (this.m !== undefined) {
      s.waitMs = histogramSnapshot(this.m.wait);
      s.runMs = histogramSnapshot(this.m.run);
    }
    return s;
  }

  // ---------------------------------------------------------------- internals

  private closedError(): ClosedError {
    return new ClosedError(`the pool "${this.name}" is closed: done() was called`);
  }

  /** A free slot and a rate token for a plain task (counter mode, sync sources). */
  private admitCounter(): boolean {
    if (this.paused || this.activeCount >= this.maxWorkers) return false;
    return this.rate === undefined || this.rate.tryAcquire();
  }

  /**
   * Starts `job` now if nothing waits and a slot, a token (and a permit) are free; otherwise
   * queues it. Returns whether it started.
   */
  private submit(job: Job): boolean {
    const signal = job.userSignal;
    if (signal !== undefined) this.signals.add(signal, job);
    if (this.m !== undefined) job.enqueuedAt = this.clock.now();
    if (!this.asyncMode && this.queued === 0 && !this.paused) {
      if (this.counter) {
        if (this.admitCounter()) {
          this.startJob(job, undefined);
          return true;
        }
      } else if (this.conc!.inUse < this.conc!.limit) {
        const permit = this.takeSlotThenToken();
        if (permit !== undefined) {
          this.startJob(job, permit);
          return true;
        }
      }
    }
    job.context = captureContext();
    this.queue.push(job, job.priority, job.cohort);
    if (++this.queued === 1) this.onQueued();
    if (this.asyncMode) this.pump();
    return false;
  }

  /**
   * The one gate order: the slot first, then the token. A slot can be given back (its permit is
   * released unused) and a token cannot (a RateSource has no way to return one), so if the rate
   * refuses, the slot goes back and nothing is lost; a source whose `tryAcquire()` refuses while
   * its `inUse < limit` costs no token either, since no token was taken yet.
   */
  private takeSlotThenToken(): Permit | undefined {
    const permit = this.conc!.tryAcquire();
    if (permit === undefined) return undefined;
    if (this.rate !== undefined && !this.rate.tryAcquire()) {
      permit.release();
      return undefined;
    }
    return permit;
  }

  /** A job's caller aborted (SignalGroups hands each job over once, already out of its group). */
  private onJobAbort(job: Job, reason: unknown): void {
    if (job.state === DONE) return;
    job.abort(reason);
    if (job.state === RUNNING) this.abandon(job, reason);
    else this.finishJob(job, false, reason);
  }

  /** The queue just became non-empty. */
  private onQueued(): void {
    this.pauseTimer?.ref();
    if (this.drainWaiter !== undefined) this.syncKeepAlive();
    if (this.rate !== undefined && this.rate.available < 1) this.waitForRate();
  }

  /**
   * Tasks wait for a token: the source's `onAvailable` wakes the pool, and this one timer (due
   * when the source expects its next token) keeps the process alive meanwhile, since in-process
   * buckets leave their own timers unref'd.
   */
  private waitForRate(): void {
    if (this.rateTimer !== undefined || this.queued === 0) return;
    const ms = this.rate!.nextTokenInMs();
    if (!Number.isFinite(ms)) return;
    this.rateTimer = this.clock
      .setTimeout(() => {
        this.rateTimer = undefined;
        this.pump();
      }, ms)
      .ref();
  }

  /** Starts waiting tasks while slots, tokens and permits allow. Never recursive. */
  private pump(): void {
    if (this.pumping) return;
    if (this.plain && this.rate === undefined) {
      this.pumpPlain();
      return;
    }
    if (this.asyncMode) {
      this.pumpAsync();
      return;
    }
    this.pumping = true;
    const q = this.queue;
    while (this.queued > 0 && !this.paused) {
      if (this.counter ? this.activeCount >= this.maxWorkers : this.conc!.inUse >= this.conc!.limit) break;
      if (this.rate !== undefined && this.rate.available < 1) {
        this.waitForRate();
        break;
      }
      const item = q.shift()!;
      const cohort = q.lastTag!;
      if (item instanceof Job && item.state !== QUEUED) {
        this.dead--;
        continue;
      }
      // Slot first, then token (see takeSlotThenToken): a refusal loses neither.
      let permit: Permit | undefined;
      if (!this.counter) {
        permit = this.conc!.tryAcquire();
        if (permit === undefined) {
          q.unshift(item, typeof item === 'function' ? 0 : item.priority);
          break;
        }
      }
      if (this.rate !== undefined && !this.rate.tryAcquire()) {
        permit?.release();
        q.unshift(item, typeof item === 'function' ? 0 : item.priority);
        this.waitForRate();
        break;
      }
      this.queued--;
      if (typeof item === 'function') this.startPlain(item, cohort);
      else if (item instanceof QueuedRun) this.startQueuedRun(item, cohort);
      else this.startJob(item, permit);
    }
    this.pumping = false;
    this.afterDequeue();
  }

  /** `pump` for the common case: a counter, no rate limit, no async source. */
  private pumpPlain(): void {
    this.pumping = true;
    const q = this.queue;
    while (this.queued > 0 && this.activeCount < this.maxWorkers && !this.paused) {
      const item = q.shift()!;
      if (typeof item === 'function') {
        this.queued--;
        this.startPlain(item, q.lastTag!);
      } else if (item instanceof QueuedRun) {
        this.queued--;
        this.startQueuedRun(item, q.lastTag!);
      } else if (item.state === QUEUED) {
        this.queued--;
        this.startJob(item, undefined);
      } else {
        this.dead--;
      }
    }
    this.pumping = false;
    if (this.queued === 0 || this.sizeWaiters.length > 0) this.afterDequeue();
  }

  /** Async sources: ask for the head task's permission, one at a time, in queue order. */
  private pumpAsync(): void {
    while (
      !this.acquiring &&
      this.queued > 0 &&
      !this.paused &&
      (!this.counter || this.activeCount < this.maxWorkers)
    ) {
      const job = this.queue.shift() as Job;
      if (job.state !== QUEUED) {
        this.dead--;
        continue;
      }
      this.queued--;
      job.state = ACQUIRING;
      this.acquiring = true;
      void this.acquireFor(job);
    }
    this.afterDequeue();
  }

  private async acquireFor(job: Job): Promise<void> {
    let permit: Permit | undefined;
    try {
      // Slot first, then token (see takeSlotThenToken): if the token never comes, the slot goes back.
      if (this.conc !== undefined) permit = await this.conc.acquire(job.userSignal);
      if (this.rate !== undefined) await this.rate.acquire(job.userSignal);
    } catch (error) {
      permit?.release();
      this.acquiring = false;
      // The source's error, unchanged (an abort already settled the job with its reason).
      if (job.state === ACQUIRING) this.finishJob(job, false, error);
      else this.pump();
      return;
    }
    this.acquiring = false;
    if (job.state !== ACQUIRING) {
      permit?.release();
      this.pump();
      return;
    }
    this.startJob(job, permit);
    this.pump();
  }

  private afterDequeue(): void {
    if (this.sizeWaiters.length > 0) this.checkSizeWaiters();
    if (this.queued === 0) {
      this.pauseTimer?.unref();
      if (this.keepAlive.held) this.syncKeepAlive();
      if (this.rateTimer !== undefined) {
        this.rateTimer.clear();
        this.rateTimer = undefined;
      }
      if (this.activeCount === 0 && !this.acquiring) this.becameIdle();
    }
  }

  private startPlain(task: Task, cohort: Cohort): void {
    if (this.activeCount++ === 0 && this.trackProgress) this.onBusy();
    let result: unknown;
    try {
      result = task(PLAIN_CONTEXT);
    } catch (error) {
      this.settlePlain(cohort, false, error, false);
      return;
    }
    if (result instanceof Promise) result.then(cohort.onOk, cohort.onErr);
    else if (isThenable(result)) Promise.resolve(result).then(cohort.onOk, cohort.onErr);
    else this.settlePlain(cohort, true, undefined, false);
  }

  /** @internal A plain task succeeded (the hot path: small enough to inline). */
  settleOk(cohort: Cohort): void {
    this.activeCount--;
    if (this.m !== undefined || this.trackProgress || this.settled$.hasListeners) {
      this.account(cohort, true, undefined);
      this.afterSettle();
      return;
    }
    this.completed++;
    this.cycleCompleted++;
    if (!cohort.closed) this.openOutstanding--;
    else if (--this.waitingFor === 0 && this.drainWaiter !== undefined) this.finishDrain();
    if (this.queued > 0) this.pump();
    else this.afterSettle();
  }

  /** @internal Called by a cohort's handlers when a plain task settles. */
  settlePlain(cohort: Cohort, ok: boolean, error: unknown, fromRun: boolean): void {
    if (ok) {
      this.settleOk(cohort);
      return;
    }
    this.activeCount--;
    this.account(cohort, ok, error);
    if (!ok && !fromRun) this.reportError(error, 0, 1);
    this.afterSettle();
  }

  /** A queued plain run(): the caller's promise follows the task's. */
  private startQueuedRun(run: QueuedRun, cohort: Cohort): void {
    if (this.activeCount++ === 0 && this.trackProgress) this.onBusy();
    let result: unknown;
    try {
      result = run.context.runInAsyncScope(run.fn, undefined, PLAIN_CONTEXT);
    } catch (error) {
      this.settlePlain(cohort, false, error, true);
      run.reject(error);
      return;
    }
    if (isThenable(result)) {
      const p = result instanceof Promise ? result : Promise.resolve(result);
      // Two closures and one derived promise: measured faster than chaining the cohort's
      // shared handlers (two derived promises) once many tasks are in flight.
      p.then(
        (value) => {
          run.resolve(value);
          this.settlePlain(cohort, true, undefined, true);
        },
        (error) => {
          run.reject(error);
          this.settlePlain(cohort, false, error, true);
        },
      );
    } else {
      this.settlePlain(cohort, true, undefined, true);
      run.resolve(result);
    }
  }

  private startJob(job: Job, permit: Permit | undefined): void {
    job.state = RUNNING;
    job.permit = permit;
    if (this.activeCount++ === 0 && this.trackProgress) this.onBusy();
    if (this.m !== undefined) {
      job.startedAt = this.clock.now();
      this.m.wait.record(job.startedAt - job.enqueuedAt);
    }
    if (job.timeoutMs !== undefined) {
      const ms = job.timeoutMs;
      job.timer = this.clock
        .setTimeout(() => {
          job.timer = undefined;
          if (job.state !== RUNNING) return;
          const error = new TimeoutError(`task timed out after ${ms} ms`);
          this.timedOut++;
          this.m?.timedOut.inc();
          job.abort(error);
          this.abandon(job, error);
        }, ms)
        .ref();
    }
    let result: unknown;
    try {
      result = job.context === undefined ? this.invoke(job) : job.context.runInAsyncScope(this.invoke, this, job);
    } catch (error) {
      this.finishJob(job, false, error);
      return;
    }
    if (isThenable(result)) {
      const p = result instanceof Promise ? result : Promise.resolve(result);
      p.then(
        (value) => this.finishJob(job, true, value),
        (error) => this.finishJob(job, false, error),
      );
    } else {
      this.finishJob(job, true, result);
    }
  }

  /** Calls a job's task (with its retries); in its caller's context when it waited. */
  private invoke(job: Job): unknown {
    return this.retryOptions === undefined ? job.fn(new JobContext(job)) : this.runWithRetry(job);
  }

  private runWithRetry(job: Job): Promise<unknown> {
    const context = new JobContext(job);
    const signal = job.userSignal !== undefined || job.timeoutMs !== undefined ? job.signal : undefined;
    return retry(
      (attempt) => {
        job.attempt = attempt;
        if (attempt > 1) {
          this.retried++;
          this.m?.retried.inc();
        }
        return job.fn(context);
      },
      this.retryOptions,
      { clock: this.clock, signal },
    );
  }

  /**
   * A running job's timeout fired or its signal aborted: settle it now (its caller must not wait
   * for code that may never return) and count it as abandoned until its task settles. With
   * `releaseOnTimeout: false` it keeps its slot until then.
   */
  private abandon(job: Job, error: unknown): void {
    job.abandoned = true;
    this.abandonedCount++;
    this.finishJob(job, false, error, !this.releaseOnTimeout);
  }

  /** The task of an abandoned job settled at last: free what it still holds. */
  private abandonedSettled(job: Job): void {
    job.abandoned = false;
    this.abandonedCount--;
    if (!job.slotHeld) return;
    job.slotHeld = false;
    this.activeCount--;
    if (this.m !== undefined) this.m.run.record(this.clock.now() - job.startedAt);
    const permit = job.permit;
    job.permit = undefined;
    permit?.release({ dropped: true });
    this.afterSettle();
  }

  /**
   * Settles a job exactly once (later calls, e.g. a task finishing after its timeout, only end
   * its abandonment). `keepSlot`: a running job stays in `active` and keeps its permit until its
   * task settles (`releaseOnTimeout: false`).
   */
  private finishJob(job: Job, ok: boolean, value: unknown, keepSlot = false): void {
    const was = job.state;
    if (was === DONE) {
      if (job.abandoned) this.abandonedSettled(job);
      return;
    }
    job.state = DONE;
    if (job.timer !== undefined) {
      job.timer.clear();
      job.timer = undefined;
    }
    if (job.signalGroup !== undefined) this.signals.remove(job);
    job.context = undefined;
    if (was === RUNNING && keepSlot) {
      job.slotHeld = true;
    } else if (was === RUNNING) {
      this.activeCount--;
      if (this.m !== undefined) this.m.run.record(this.clock.now() - job.startedAt);
    } else if (was === QUEUED) {
      this.queued--;
      if (++this.dead >= COMPACT_AFTER && this.dead > this.queued) this.compact();
    }
    this.account(job.cohort, ok, value);
    const permit = job.slotHeld ? undefined : job.permit;
    if (!job.slotHeld) job.permit = undefined;
    if (job.resolve !== undefined) {
      if (ok) job.resolve(value);
      else job.reject!(value);
    } else if (!ok) {
      this.reportError(value, job.priority, job.attempt);
    }
    // Released last: a source may wake the pool synchronously from release().
    permit?.release({ dropped: !ok });
    if (was === QUEUED) this.afterDequeue();
    else if (!job.slotHeld) this.afterSettle();
  }

  /** Removes aborted jobs from the queue (they are otherwise skipped when they reach the head). */
  private compact(): void {
    this.queue.filter((item) => !(item instanceof Job) || item.state === QUEUED);
    this.dead = 0;
  }

  /** Counts one settled task in the totals, the cycle, the drain and the events. */
  private account(cohort: Cohort, ok: boolean, error: unknown): void {
    if (ok) {
      this.completed++;
      this.cycleCompleted++;
      if (this.m !== undefined) this.m.completed.inc();
    } else {
      this.failed++;
      this.cycleFailed++;
      if (this.cycleErrors.length < this.maxErrors) this.cycleErrors.push(error);
      if (this.m !== undefined) this.m.failed.inc();
    }
    if (this.trackProgress) this.lastProgressAt = this.clock.now();
    if (cohort.closed) {
      if (--this.waitingFor === 0 && this.drainWaiter !== undefined) this.finishDrain();
    } else {
      this.openOutstanding--;
    }
    if (this.settled$.hasListeners) {
      this.settled$.emit(ok ? { status: 'fulfilled' } : { status: 'rejected', error });
    }
  }

  private afterSettle(): void {
    if (this.queued > 0) this.pump();
    else {
      if (this.sizeWaiters.length > 0) this.checkSizeWaiters();
      if (this.activeCount === 0 && !this.acquiring) this.becameIdle();
    }
  }

  private reportError(error: unknown, priority: number, attempts: number): void {
    const onError = this.onErrorOption;
    if (onError === undefined) return;
    try {
      onError(error, { priority, attempts });
    } catch (thrown) {
      rethrowLater(thrown);
    }
  }

  private checkSizeWaiters(): void {
    const q = this.queued;
    const keep: SizeWaiter[] = [];
    for (const w of this.sizeWaiters) {
      if (q < w.limit) w.resolve();
      else keep.push(w);
    }
    this.sizeWaiters = keep;
  }

  private isIdle(): boolean {
    return this.queued === 0 && this.activeCount === 0 && !this.acquiring;
  }

  private becameIdle(): void {
    if (this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
    if (this.closed) this.release();
  }

  /** Closed and idle: nothing will run again, so stop listening and close what we own. */
  private release(): void {
    for (const s of this.subscriptions) s.dispose();
    this.subscriptions.length = 0;
    for (const o of this.owned) o.close?.();
    this.owned.length = 0;
    this.pauseTimer?.clear();
    this.pauseTimer = undefined;
  }

  // ---------------------------------------------------------------- drain cycles

  private waitCycle(): Promise<PoolSummary> {
    if (this.openOutstanding > 0) {
      this.cohort.closed = true;
      this.waitingFor += this.openOutstanding;
      this.openOutstanding = 0;
      this.cohort = new Cohort(this);
    }
    const previous = this.drainWaiter;
    if (previous !== undefined) {
      // The seed's smart drain: the earlier caller stops waiting, with the cycle so far.
      this.drainWaiter = undefined;
      previous.resolve(this.summary());
    }
    if (this.waitingFor === 0) {
      this.clearDrainTimers();
      return Promise.resolve(this.endCycle());
    }
    const now = this.clock.now();
    if (this.runtimeLimitMs !== undefined && this.cycleStart !== undefined) {
      const left = this.cycleStart + this.runtimeLimitMs - now;
      if (left <= 0) {
        this.clearDrainTimers();
        return Promise.reject(this.runtimeError());
      }
      if (this.runtimeTimer === undefined) {
        this.runtimeTimer = this.clock.setTimeout(() => {
          this.runtimeTimer = undefined;
          const w = this.drainWaiter;
          if (w === undefined) return;
          this.drainWaiter = undefined;
          this.clearDrainTimers();
          w.reject(this.runtimeError());
        }, left);
        this.runtimeTimer.ref();
      }
    }
    if (this.idleTimeoutMs !== undefined && !this.trackProgress) {
      this.trackProgress = true;
      this.lastProgressAt = now;
      if (this.activeCount > 0) this.armIdle(this.idleTimeoutMs);
    }
    return new Promise((resolve, reject) => {
      this.drainWaiter = { resolve, reject };
      this.syncKeepAlive();
    });
  }

  private runtimeError(): PoolTimeoutError {
    const summary = this.endCycle();
    const { queued, active } = summary.unfinished;
    return new PoolTimeoutError(
      `pool "${this.name}" did not drain within runtimeLimitMs (${this.runtimeLimitMs} ms): ` +
        `${active} running, ${queued} waiting, ${summary.completed} completed, ${summary.failed} failed`,
      'deadline',
      summary,
    );
  }

  /** A task started while none ran and a drain waits: stuck detection starts now. */
  private onBusy(): void {
    this.lastProgressAt = this.clock.now();
    if (this.idleTimer === undefined && this.idleTimeoutMs !== undefined) this.armIdle(this.idleTimeoutMs);
  }

  private armIdle(ms: number): void {
    this.idleTimer = this.clock.setTimeout(() => this.onIdleTimer(), ms).ref();
  }

  private onIdleTimer(): void {
    this.idleTimer = undefined;
    const w = this.drainWaiter;
    if (w === undefined || this.activeCount === 0) return;
    const idle = this.idleTimeoutMs!;
    const quiet = this.clock.now() - this.lastProgressAt;
    if (quiet < idle) {
      this.armIdle(idle - quiet);
      return;
    }
    this.drainWaiter = undefined;
    this.clearDrainTimers();
    const summary = this.endCycle();
    w.reject(
      new PoolTimeoutError(
        `pool "${this.name}": ${summary.unfinished.active} task(s) running and none settled for ` +
          `idleTimeoutMs (${idle} ms); ${summary.unfinished.queued} waiting`,
        'timeout',
        summary,
      ),
    );
  }

  private finishDrain(): void {
    const w = this.drainWaiter!;
    this.drainWaiter = undefined;
    this.clearDrainTimers();
    w.resolve(this.endCycle());
  }

  /** Holds or drops the keep-alive timer (see `keepAlive`). */
  private syncKeepAlive(): void {
    this.keepAlive.hold(this.drainWaiter !== undefined && this.queued > 0 && this.paused);
  }

  private clearDrainTimers(): void {
    this.keepAlive.hold(false);
    this.runtimeTimer?.clear();
    this.runtimeTimer = undefined;
    this.idleTimer?.clear();
    this.idleTimer = undefined;
    this.trackProgress = false;
  }

  private summary(): PoolSummary {
    return {
      completed: this.cycleCompleted,
      failed: this.cycleFailed,
      errors: this.cycleErrors.slice(),
      unfinished: { queued: this.queued, active: this.activeCount },
      durationMs: this.cycleStart === undefined ? 0 : this.clock.now() - this.cycleStart,
    };
  }

  /** The summary of the cycle that ends now; the next starts with the next task (or now, if some are unfinished). */
  private endCycle(): PoolSummary {
    const s = this.summary();
    this.cycleCompleted = 0;
    this.cycleFailed = 0;
    this.cycleErrors = [];
    this.cycleStart = this.isIdle() ? undefined : this.clock.now();
    return s;
  }

  private register(registry: PromisePoolOptions['metrics'] & object): PoolMetrics {
    const labels = { valve: this.name };
    registry.gauge({ name: 'valve_pool_queued', help: 'Tasks waiting to start.', labels, collect: () => this.queued });
    registry.gauge({ name: 'valve_pool_active', help: 'Tasks running.', labels, collect: () => this.activeCount });
    registry.gauge({ name: 'valve_pool_limit', help: 'Concurrency allowed now.', labels, collect: () => this.limit });
    registry.gauge({
      name: 'valve_pool_abandoned',
      help: 'Tasks settled by their timeout or abort whose code still runs.',
      labels,
      collect: () => this.abandonedCount,
    });
    return {
      completed: registry.counter({ name: 'valve_pool_completed_total', help: 'Tasks that succeeded.', labels }),
      failed: registry.counter({ name: 'valve_pool_failed_total', help: 'Tasks that failed.', labels }),
      retried: registry.counter({ name: 'valve_pool_retried_total', help: 'Retry attempts.', labels }),
      timedOut: registry.counter({ name: 'valve_pool_timed_out_total', help: 'Tasks that timed out.', labels }),
      wait: registry.histogram({ name: 'valve_pool_wait_seconds', help: 'Time waiting in the queue.', labels }),
      run: registry.histogram({ name: 'valve_pool_run_seconds', help: 'Task run time.', labels }),
    };
  }
}

function throwNotATask(index: number, value: unknown): never {
  throw new TypeError(`add(): task ${index} must be a function returning a promise, got ${describeValue(value)}`);
}

function optionalMs(value: unknown, name: string): number | undefined {
  return value === undefined ? undefined : validateNumber(value, name, { above: 0 });
}

/**
 * Keeps the hidden classes of the hot path alive for as long as this module is loaded.
 *
 * V8 holds an object's hidden class ("map") only while some object of that class is alive, and
 * throws away optimized code that checked a map once a major GC frees it (`--trace-deopt`: "weak
 * objects"). The queue's run records exist only while tasks wait, so every major GC at a moment
 * when no pool had a queued task (pools idle, or short-lived pools all gone) freed their class and
 * deoptimized `add`, the pump and the queue; the next tasks then ran unoptimized until V8
 * recompiled them: `add()` of 10^5 queued tasks took 2-3x as long after such a GC. `pool`, paused
 * and never started, is given one queued task of each kind, so it holds one of each object the hot
 * paths touch: the pool, its cohort, a queue level with its rings, a run record tagged with a
 * cohort, a plain `run()`'s record and a `Job`. It costs about 3 KB per loaded copy of the module.
 * Held tasks never start, so the running-task context of `taskTimeoutMs` pools is not covered.
 */
function holdShapes(pool: PromisePool): PromisePool {
  const noop: Task = () => undefined;
  pool.pause();
  pool.add(noop);
  void pool.run(noop);
  void pool.run(noop, { timeoutMs: 1 });
  return pool;
}
