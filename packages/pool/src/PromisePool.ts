import {
  Admission,
  abortReason,
  captureContext,
  describeValue,
  type Event,
  NO_HOOKS_PROBE,
  NO_STORE,
  rejectExtraArguments,
  SignalGroups,
  type Valve,
  validateInteger,
} from '@valve/core';
import type { Cohort } from './internal/Cohort.js';
import { DrainCycle } from './internal/DrainCycle.js';
import { holdShapes } from './internal/holdShapes.js';
import { PauseControl } from './internal/PauseControl.js';
import { PoolWaits } from './internal/PoolWaits.js';
import { failPoolItem, poolPumped, startPoolItem } from './internal/admissionSide.js';
import { Job, QueuedRun } from './internal/Job.js';
import { runPlain, startPlain } from './internal/PlainPath.js';
import { JobPath } from './internal/JobPath.js';
import { PoolLine, type QueueItem } from './internal/PoolLine.js';
import { PoolLedger } from './internal/PoolLedger.js';
import { RateWatch } from './internal/RateWatch.js';
import { RoomWaits } from './internal/RoomWaits.js';
import { clearLine, runningSnapshot } from './internal/clearAndRunning.js';
import { type PoolConfig, poolConfig, runConfig, throwNotATask } from './internal/poolOptions.js';
import { mapItems, mapItemsSettled, type MapOptions, type MapTask } from './map.js';
import { type MapIterableOptions, mapIterable } from './mapIterable.js';
import type {
  PoolStats,
  PoolSummary,
  PromisePoolOptions,
  RateLimitEvent,
  RunningTask,
  RunOptions,
  SettledEvent,
  Task,
  WhenRoomOptions,
} from './options.js';

const COUNTED = Admission.COUNTED;

/**
 * A promise pool: runs tasks with at most `maxWorkers` at once, higher priority first and FIFO
 * within a priority, with the seed's `add()` / smart `drain()` / `done()` and p-queue's
 * `run()`, waits and events.
 *
 * Built on core's `Admission` (the slot, the token, the pump, the refill timer and the async
 * acquire loop) with a `PoolLine` as its waiting line; the drain cycles live in
 * `DrainCycle`. The pool owns what a task is and how it settles.
 *
 * Two paths, checked against each other by a property test (test/paths.property.test.ts):
 * - the reference path: every task gets a `Job` record (used whenever a task or the pool needs
 *   per-task handling: a signal, a timeout, retries, metrics, a concurrency source, `trackRunning`,
 *   `agingMs`);
 * - the plain fast path (a numeric `maxWorkers`, none of the above): a task gets no record of its
 *   own (internal/PlainPath.ts). It is called with one shared context and settles through handlers
 *   made once per drain cohort; a waiting one is the function itself (an `add()` whose caller has
 *   no AsyncLocalStorage store) or a five-field `QueuedRun`.
 *
 * Invariants: `size` counts live waiting tasks; `active` counts tasks holding a slot; the cycle's
 * `open + waitingFor` counts accepted, unsettled tasks. Each accepted task settles exactly once:
 * `JobPath#finish` ignores a job already `DONE`.
 */
// Not `implements CohortOwner` (it is structurally one): the clause would pull the internal Cohort
// types into the published .d.ts, which stripInternal cannot remove.
export class PromisePool implements Valve {
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
   * `map` over a sync or async iterable, streamed: an async iterator of results, in input order
   * (`ordered: true`, the default) or as they complete. Pulls at most `concurrency + buffer`
   * items ahead of the consumer; the first error, or the consumer's `break`, closes the source.
   */
  static mapIterable<T, R>(
    items: AsyncIterable<T> | Iterable<T>,
    fn: MapTask<T, R>,
    options?: MapIterableOptions,
  ): AsyncIterableIterator<R> {
    return mapIterable(items, fn, options);
  }

  /**
   * Never read: it keeps the hot path's hidden classes alive (see `holdShapes`). A static field,
   * because a module-level constant nothing reads may be collected.
   */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: held, never read (see holdShapes)
  static readonly #shapes: readonly PromisePool[] = holdShapes(
    new PromisePool({ maxWorkers: 1, name: 'shapes' }),
    new PromisePool({ maxWorkers: 1, name: 'shapes-ran' }),
  );

  readonly name: string;
  private readonly config: PoolConfig;
  private readonly admission: Admission<QueueItem>;
  private readonly line: PoolLine;
  /** @internal */
  readonly cycle: DrainCycle;
  /** Every `add()`ed task is plain (see the class comment). */
  private readonly plain: boolean;
  /** A rate limit is set: every queued task tells Admission and the rate watch (`queuedOne`). */
  private readonly rated: boolean;
  private readonly ledger: PoolLedger;

  /** Tasks holding a slot (the public `active` getter reads it). */
  /** @internal Tasks holding a slot (read and written by the plain path too). */
  activeCount = 0;

  private readonly pausing: PauseControl;

  private closed = false;
  private released = false;
  private donePromise: Promise<PoolSummary> | undefined = undefined;
  private closePromise: Promise<void> | undefined = undefined;
  private readonly waits = new PoolWaits();
  /** `maxQueued` (read on the queueing paths only). */
  private readonly maxQueued: number;
  private readonly rooms: RoomWaits;
  /** With `trackRunning`: the jobs running now. */
  private readonly running: Set<Job> | undefined;
  private readonly rateWatch: RateWatch;

  /** One abort listener per distinct caller signal, however many jobs share it (issue 18). */
  private readonly signals = new SignalGroups<Job>((job, reason) => this.jobs.abort(job, reason));
  /** The reference path: every task that needs a record of its own (see `JobPath`). */
  private readonly jobs: JobPath;

  /** Every task's outcome, after the pool's state is updated. Costs nothing when unused. */
  get onSettled(): Event<SettledEvent> {
    return this.ledger.settled$.event;
  }

  constructor(options: PromisePoolOptions = {}) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new PromisePool()');
    const config = poolConfig(options);
    this.config = config;
    this.name = config.name;
    this.maxQueued = config.maxQueued;
    this.line = new PoolLine(config.agingMs);
    this.running = config.trackRunning ? new Set() : undefined;
    this.admission = new Admission<QueueItem>({
      line: this.line,
      concurrency: config.concurrency ?? config.maxWorkers,
      rate: config.rate,
      clock: config.clock,
      // Shared by every pool, called with `this` = the pool (see AdmissionOptions.host).
      start: startPoolItem,
      fail: failPoolItem,
      pumped: poolPumped,
      host: this,
    });
    this.rated = config.rate !== undefined;
    this.plain =
      config.concurrency === undefined &&
      !this.admission.async &&
      config.taskTimeoutMs === undefined &&
      config.retry === undefined &&
      config.metrics === undefined &&
      !config.trackRunning &&
      config.agingMs === undefined;
    this.pausing = new PauseControl(config.clock, (paused, timed) => this.pauseChanged(paused, timed));
    this.cycle = new DrainCycle(this, config.clock, config.runtimeLimitMs, config.idleTimeoutMs, config.maxErrors);
    this.ledger = new PoolLedger(config.metrics, this.name, this, this.cycle, config.onError);
    this.jobs = new JobPath({
      admission: this.admission,
      line: this.line,
      ledger: this.ledger,
      config,
      signals: this.signals,
      running: this.running,
      started: () => {
        if (this.activeCount++ === 0 && this.cycle.trackProgress) this.cycle.busy();
      },
      stopped: () => void this.activeCount--,
      accepted: () => this.cycle.accepted(),
      queued: () => this.queuedOne(),
      afterSettle: () => this.afterSettle(),
      afterDequeue: () => this.afterDequeue(),
    });
    this.rateWatch = new RateWatch(this, config.rate, this.ledger.settled$.event);
    this.rooms = new RoomWaits({
      room: () => this.maxQueued - this.line.size,
      closed: () => this.closed,
      trackRunning: config.trackRunning,
      run: (task, options) => this.run(task, options),
      add: (task) => this.add(task),
      refuseClosed: () => {
        return this.ledger.closedError(this.name, 1);
      },
      aborted: () => void this.ledger.abortedQueued++,
    });
  }

  /** Fires when queued tasks start waiting for a rate token with a slot free (p-queue's `rateLimit`). */
  get onRateLimit(): Event<RateLimitEvent> {
    return this.rateWatch.onRateLimit;
  }

  /** Fires when that wait ends: a token came, or the queue emptied (p-queue's `rateLimitCleared`). */
  get onRateLimitCleared(): Event<void> {
    return this.rateWatch.onRateLimitCleared;
  }

  /** Tasks waiting to start. */
  get size(): number {
    return this.line.size;
  }

  /** Tasks running. */
  get active(): number {
    return this.activeCount;
  }

  /** The concurrency allowed now (moves with an adaptive limit). */
  get limit(): number {
    return this.admission.limit;
  }

  /** The numeric `maxWorkers` now (the same as `limit`). */
  get concurrency(): number {
    return this.admission.limit;
  }

  /**
   * Changes a numeric `maxWorkers` at run time: raising it starts queued tasks at once, lowering
   * it lets running tasks finish (no new one starts until `active` is below it). A `RangeError`
   * for anything but an integer >= 1 or Infinity; a `TypeError` for a pool whose limit comes from
   * an adaptive `Limit` or a `concurrencySource` (they set their own).
   */
  set concurrency(n: number) {
    if (this.config.concurrency !== undefined) {
      throw new TypeError('concurrency can be set only on a pool with a numeric maxWorkers');
    }
    this.admission.setLimit(validateInteger(n, 'concurrency', { min: 1, allowInfinity: true }));
  }

  /** Tasks wait because every slot is taken or the rate limit has no token (p-queue's `isSaturated`). */
  get isSaturated(): boolean {
    return this.line.size > 0 && (this.activeCount >= this.admission.limit || this.rateWatch.isLimited());
  }

  /**
   * What runs now: start time (the pool's clock), run time so far, priority, attempt and the
   * caller's `meta`. Needs `trackRunning: true` (a `TypeError` otherwise: the records cost the
   * plain path its speed, so they are opt-in).
   */
  get runningTasks(): RunningTask[] {
    if (this.running === undefined) throw new TypeError('runningTasks needs a pool made with trackRunning: true');
    return runningSnapshot(this.running, this.config.clock.now());
  }

  get isPaused(): boolean {
    return this.pausing.paused;
  }

  /** True once `done()` was called: `add` throws and `run` rejects with `ClosedError`. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal Tasks settled by their timeout or abort whose code still runs (the metrics gauge). */
  get abandoned(): number {
    return this.ledger.abandoned;
  }

  /**
   * Adds tasks to run in the background; returns how many started right away. Failures go to
   * `onError`, `stats()` and the drain summary, never to an unhandled rejection. Throws a
   * `TypeError` (adding nothing) if any task is not a function, and `ClosedError` after `done()`.
   */
  add(...tasks: Task[]): number {
    const n = tasks.length;
    for (let i = 0; i < n; i++) if (typeof tasks[i] !== 'function') throwNotATask(i, tasks[i]);
    if (this.closed) {
      throw this.ledger.closedError(this.name, n);
    }
    if (!this.plain) return this.jobs.addAll(tasks, this.cycle.cohort);
    const cycle = this.cycle;
    const line = this.line;
    let started = 0;
    for (let i = 0; i < n; i++) {
      const task = tasks[i]!;
      if (line.size === 0 && this.admission.tryEnter() !== undefined) {
        // (tryEnter refuses whenever someone waits; asking it only for an empty line saves the
        // queued path a call, which a cold burst of 10^5 add()s pays before V8 optimizes add.)
        cycle.accepted();
        startPlain(this, task, cycle.cohort, false);
        started++;
      } else {
        if (line.size >= this.maxQueued) this.addRefused(i, n);
        // accepted() written out for a cycle that has begun (DrainCycle#waitedFor).
        if (cycle.start === undefined) cycle.accepted();
        else cycle.open++;
        // A caller without an AsyncLocalStorage store queues the bare task (no allocation: at
        // 10^5 waiting tasks a record each cost more than the rest of add()); any other caller's
        // context rides in a record. With no storage enabled in the process, the capture is
        // core's probe read written out (NO_HOOKS_PROBE: a call less, which a cold burst's
        // interpreted add()s feel).
        const probe = Promise.resolve();
        const context =
          NO_HOOKS_PROBE !== undefined && (probe as unknown as Record<symbol, unknown>)[NO_HOOKS_PROBE] === undefined
            ? NO_STORE
            : captureContext(probe);
        line.pushZero(
          context === NO_STORE ? task : new QueuedRun(context, task, 0, undefined, undefined),
          cycle.cohort,
        );
        // Behind another waiter, with no rate limit, there is nothing to tell anyone (see
        // queuedOne): a call less per queued task in a cold burst.
        if (line.size === 1 || this.rated) this.queuedOne();
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
    let timeoutMs = this.config.taskTimeoutMs;
    let meta: unknown;
    if (options !== undefined) {
      ({ priority, signal, timeoutMs, meta } = runConfig(options, timeoutMs, this.running !== undefined));
    }
    if (this.closed) {
      return Promise.reject(this.ledger.closedError(this.name, 1));
    }
    if (signal?.aborted) {
      this.ledger.abortedQueued++;
      return Promise.reject(abortReason(signal));
    }
    const cycle = this.cycle;
    const cohort = cycle.cohort;
    const full = !this.plain || signal !== undefined || timeoutMs !== undefined;
    if (!full && this.admission.tryEnter() !== undefined) {
      cycle.accepted();
      return runPlain(this, task, cohort);
    }
    if (!full) {
      if (this.line.size >= this.maxQueued) return this.runRefused();
      cycle.accepted();
      return new Promise<T>((resolve, reject) => {
        const run = new QueuedRun(captureContext(), task, priority, resolve as (value: unknown) => void, reject);
        this.line.push(run, priority, cohort);
        this.queuedOne();
      });
    }
    const job = new Job(task, priority, cohort, signal, timeoutMs);
    job.meta = meta;
    const promise = new Promise<T>((resolve, reject) => {
      job.resolve = resolve as (value: unknown) => void;
      job.reject = reject;
    });
    return this.jobs.submit(job) < 0 ? this.runRefused() : promise;
  }

  /**
   * `run()` that waits for room under `maxQueued` instead of rejecting with `QueueFullError`
   * (producers first come first served). Its `signal` also aborts the wait (counted `aborted`);
   * `done()` refuses it with `ClosedError`. With room it is `run(task, options)`.
   */
  runWhenRoom<T>(task: Task<T>, options?: WhenRoomOptions): Promise<T> {
    return this.rooms.runWhenRoom(task, options);
  }

  /**
   * `add(task)` that waits for room under `maxQueued` instead of throwing `QueueFullError`;
   * resolves once the task is accepted. `signal` and `done()` as for `runWhenRoom`.
   */
  addWhenRoom(task: Task, options?: { signal?: AbortSignal }): Promise<void> {
    return this.rooms.addWhenRoom(task, options);
  }

  /**
   * Empties the queue: every waiting task leaves it and counts as rejected (reason `shutdown`,
   * `stats().rejectedByReason.shutdown`); a `run()` caller's promise rejects with a
   * `PoolClearedError` (code `ERR_VALVE_CLEARED`). Running tasks are untouched; a waiting
   * `drain()` still settles (it counts the cleared tasks among the cycle's failures, as the
   * `run()` promises rejected); producers waiting for room get it. The pool stays open.
   * Returns how many tasks were cleared.
   */
  clear(): number {
    const size = this.line.size;
    if (size === 0) return 0;
    clearLine(this.line, this.ledger, this.signals, this.name);
    this.admission.removed();
    this.afterDequeue();
    return size;
  }

  /**
   * Resolves with a summary once every task accepted before the call has settled, or at once
   * when a later `drain()` takes over the waiting (the seed's smart drain: only the latest
   * caller waits). The pool stays usable. After `done()`, returns `done()`'s promise.
   */
  drain(): Promise<PoolSummary> {
    if (this.donePromise !== undefined) return this.donePromise;
    return this.cycle.wait();
  }

  /**
   * Drains and finalizes: later `add` throws and `run` rejects with `ClosedError`. Runs once;
   * every caller gets the same promise. Once it settles, the pool's metric series leave the
   * registry and the sources it made are closed.
   */
  done(): Promise<PoolSummary> {
    if (this.donePromise === undefined) {
      this.closed = true;
      if (this.rooms.waiting) this.rooms.refuseAll();
      this.donePromise = this.cycle.wait();
      if (this.line.size === 0 && this.activeCount === 0) this.release();
    }
    return this.donePromise;
  }

  /**
   * The Valve contract's shutdown: `done()` (queued and running tasks run to the end, new ones
   * are refused), resolving with nothing. Rejects as `done()` does (`runtimeLimitMs`).
   */
  close(): Promise<void> {
    if (this.closePromise === undefined) this.closePromise = this.done().then(() => undefined);
    return this.closePromise;
  }

  /** The same as `close()`, for `await using pool = new PromisePool(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Stops starting tasks (running ones continue) until `resume()`. */
  pause(): void {
    this.pausing.pause();
  }

  /** Starts tasks again (also ends a `pauseFor`). */
  resume(): void {
    this.pausing.resume();
  }

  /**
   * Starts no task for `ms` milliseconds (a server's Retry-After). A longer pause extends it;
   * a shorter one does not shorten it; after `pause()` it does nothing (`resume()` ends both).
   */
  pauseFor(ms: number): void {
    this.pausing.pauseFor(ms, this.line.size > 0);
  }

  /** Resolves when no task is waiting (some may still run). */
  onEmpty(): Promise<void> {
    return this.onSizeLessThan(1);
  }

  /** Resolves when fewer than `limit` tasks are waiting: a producer's back pressure. */
  onSizeLessThan(limit: number): Promise<void> {
    validateInteger(limit, 'limit', { min: 1 });
    return this.waits.sizeBelow(limit, this.line.size);
  }

  /** Resolves when nothing waits and nothing runs. */
  onIdle(): Promise<void> {
    return this.waits.idle(this.isIdle());
  }

  /** The Valve contract's words and the pool's own (see `PoolStats`). */
  stats(): PoolStats {
    return this.ledger.stats(this.name, this.line.size, this.activeCount, this.limit, this.pausing.paused, this.closed);
  }

  // ---------------------------------------------------------------- internals

  private addRefused(i: number, n: number): never {
    throw this.ledger.addRefused(this.name, this.maxQueued, i, n);
  }

  private runRefused<T>(): Promise<T> {
    return Promise.reject(this.ledger.queueFullError(this.name, this.maxQueued, 1, 'run()'));
  }

  /** A pause began or ended. */
  private pauseChanged(paused: boolean, timed: boolean): void {
    if (paused) this.admission.pause();
    if (!timed) this.cycle.syncKeepAlive();
    if (!paused) this.admission.resume();
  }

  /** One task was just pushed onto the line. */
  private queuedOne(): void {
    if (this.line.size === 1) {
      this.pausing.hold();
      if (this.cycle.waiting) this.cycle.syncKeepAlive();
    }
    this.admission.enqueued();
    if (this.rateWatch.on) this.rateWatch.check();
  }

  // A task left the line. (settleOk asks these conditions before calling: keep them in step.)
  private afterDequeue(): void {
    if (this.rooms.waiting) this.rooms.admit();
    if (this.waits.sized) this.waits.sizeChanged(this.line.size);
    if (this.rateWatch.on) this.rateWatch.check();
    if (this.line.size === 0) {
      this.pausing.release();
      if (this.cycle.keepingAlive) this.cycle.syncKeepAlive();
      if (this.activeCount === 0) this.becameIdle();
    }
  }

  /** @internal A plain task succeeded (the hot path: small enough to inline). */
  settleOk(cohort: Cohort): void {
    this.activeCount--;
    if (this.cycle.trackProgress || this.ledger.settled$.hasListeners) {
      this.ledger.ran(cohort, true, undefined);
    } else {
      this.ledger.completed++;
      // The cycle's settled(cohort, true) written out (see DrainCycle#waitedFor).
      const cycle = this.cycle;
      cycle.completed++;
      if (!cohort.closed) cycle.open--;
      else if (--cycle.waitingFor === 0) cycle.waitedFor();
    }
    // The slot passes straight to the next waiter when one can start (Admission#passOn).
    const next = this.admission.passOn();
    if (next !== undefined) {
      // A bare task is started here (startPoolItem's first case): a call less per queued task.
      if (typeof next === 'function') startPlain(this, next, this.line.lastTag!, true);
      else startPoolItem.call(this, next, COUNTED);
      // afterDequeue's conditions, asked here first: it has nothing to do for a task taken from
      // a long line with nobody watching, and the call is one more per task in a cold burst.
      if (this.line.size === 0 || this.rooms.waiting || this.waits.sized || this.rateWatch.on) this.afterDequeue();
      return;
    }
    if (this.activeCount === 0 && this.line.size === 0) this.afterSettle();
  }

  /** @internal Called by a cohort's handlers when a plain task settles. */
  settlePlain(cohort: Cohort, ok: boolean, error: unknown, fromRun: boolean): void {
    if (ok) {
      this.settleOk(cohort);
      return;
    }
    this.activeCount--;
    this.ledger.ran(cohort, false, error);
    if (!fromRun) this.ledger.reportError(error, 0, 1);
    this.admission.leave(COUNTED, true);
    this.afterSettle();
  }

  private afterSettle(): void {
    if (this.line.size === 0) {
      if (this.waits.sized) this.waits.sizeChanged(this.line.size);
      if (this.activeCount === 0) this.becameIdle();
    }
  }

  private isIdle(): boolean {
    return this.line.size === 0 && this.activeCount === 0;
  }

  private becameIdle(): void {
    if (this.waits.idling) this.waits.becameIdle();
    if (this.closed) this.release();
  }

  /** Closed and idle: nothing will run again, so stop listening and close what we own. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.admission.close();
    for (const o of this.config.owned) o.close?.();
    this.pausing.clear();
    this.ledger.m?.close();
  }
}
