import type { Admission, Permit, SignalGroups } from '@valve/core';
import { captureContext, TimeoutError } from '@valve/core';
import type { Task } from '../options.js';
import type { Cohort } from './Cohort.js';
import { ACQUIRING, DONE, Job, JobContext, QUEUED, RUNNING, runWithRetry } from './Job.js';
import type { PoolLedger } from './PoolLedger.js';
import type { PoolLine, QueueItem } from './PoolLine.js';
import type { PoolConfig } from './poolOptions.js';

/** What the job path reads and calls of its pool. */
export interface JobHost {
  readonly admission: Admission<QueueItem>;
  readonly line: PoolLine;
  readonly ledger: PoolLedger;
  readonly config: PoolConfig;
  readonly signals: SignalGroups<Job>;
  /** With `trackRunning`: the jobs running now. */
  readonly running: Set<Job> | undefined;
  /** A task took a slot (the pool's `active` count and stuck detection). */
  started(): void;
  /** A task gave its slot back. */
  stopped(): void;
  /** A task was accepted (the drain cycle counts it). */
  accepted(): void;
  /** A job was just pushed onto the line. */
  queued(): void;
  afterSettle(): void;
  afterDequeue(): void;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/**
 * The pool's reference path: a task with a `Job` record of its own, used whenever the task or the
 * pool needs per-task handling (a signal, a timeout, retries, metrics, a concurrency source,
 * running-task tracking, aging). It starts a job, times it out, lets its caller abort it, and
 * settles it exactly once (`finish` ignores a job already `DONE`, except to end its abandonment).
 * The plain fast path lives in PromisePool and PlainPath.ts; test/paths.property.test.ts checks
 * both agree.
 */
export class JobPath {
  constructor(private readonly h: JobHost) {}

  /** `add()` for a pool that is not plain: a job per task, in `cohort`. Returns how many started. */
  addAll(tasks: readonly Task[], cohort: Cohort): number {
    const n = tasks.length;
    const { name, maxQueued, taskTimeoutMs } = this.h.config;
    let started = 0;
    for (let i = 0; i < n; i++) {
      const s = this.submit(new Job(tasks[i]!, 0, cohort, undefined, taskTimeoutMs));
      if (s < 0) throw this.h.ledger.addRefused(name, maxQueued, i, n);
      started += s;
    }
    return started;
  }

  /**
   * Starts `job` now if nothing waits and a slot and a token are free; otherwise queues it, or
   * refuses it when `maxQueued` tasks wait. Returns 1 (started), 0 (queued) or -1 (refused).
   */
  submit(job: Job): number {
    const h = this.h;
    const permit = h.admission.tryEnter();
    if (permit === undefined && h.line.size >= h.config.maxQueued) return -1;
    h.accepted();
    const signal = job.userSignal;
    if (signal !== undefined) h.signals.add(signal, job);
    if (h.ledger.m !== undefined || h.line.timed) job.enqueuedAt = h.config.clock.now();
    if (permit !== undefined) {
      this.start(job, permit);
      return 1;
    }
    job.context = captureContext();
    h.line.push(job, job.priority, job.cohort);
    h.queued();
    return 0;
  }

  /** Starts a job that holds its slot (`permit`) and its token. */
  start(job: Job, permit: Permit): void {
    job.state = RUNNING;
    job.permit = permit;
    this.h.started();
    const clock = this.h.config.clock;
    if (this.h.ledger.m !== undefined) {
      job.startedAt = clock.now();
      this.h.ledger.m.wait.record(job.startedAt - job.enqueuedAt);
    }
    if (this.h.running !== undefined) {
      if (this.h.ledger.m === undefined) job.startedAt = clock.now();
      this.h.running.add(job);
    }
    if (job.timeoutMs !== undefined) {
      const ms = job.timeoutMs;
      job.timer = clock
        .setTimeout(() => {
          job.timer = undefined;
          if (job.state !== RUNNING) return;
          const error = new TimeoutError(`task timed out after ${ms} ms`);
          this.h.ledger.timeout();
          job.abort(error);
          this.abandon(job, error);
        }, ms)
        .ref();
    }
    let result: unknown;
    try {
      result = job.context === undefined ? this.invoke(job) : job.context.runInAsyncScope(this.invoke, this, job);
    } catch (error) {
      this.finish(job, false, error);
      return;
    }
    if (isThenable(result)) {
      const p = result instanceof Promise ? result : Promise.resolve(result);
      p.then(
        (value) => this.finish(job, true, value),
        (error) => this.finish(job, false, error),
      );
    } else {
      this.finish(job, true, result);
    }
  }

  /** Calls a job's task (with its retries); in its caller's context when it waited. */
  private invoke(job: Job): unknown {
    const r = this.h.config.retry;
    return r === undefined ? job.fn(new JobContext(job)) : runWithRetry(job, r, this.h.config.clock, this.h.ledger);
  }

  /**
   * A running job's timeout fired or its signal aborted: settle it now (its caller must not wait
   * for code that may never return) and count it as abandoned until its task settles. With
   * `releaseOnTimeout: false` it keeps its slot until then.
   */
  private abandon(job: Job, error: unknown): void {
    job.abandoned = true;
    this.h.ledger.abandoned++;
    this.finish(job, false, error, !this.h.config.releaseOnTimeout);
  }

  /** The task of an abandoned job settled at last: free what it still holds. */
  private abandonedSettled(job: Job): void {
    job.abandoned = false;
    this.h.ledger.abandoned--;
    if (!job.slotHeld) return;
    job.slotHeld = false;
    this.h.stopped();
    if (this.h.ledger.m !== undefined) this.h.ledger.m.run.record(this.h.config.clock.now() - job.startedAt);
    const permit = job.permit!;
    job.permit = undefined;
    this.h.admission.leave(permit, true);
    this.h.afterSettle();
  }

  /**
   * Settles a job exactly once (later calls, e.g. a task finishing after its timeout, only end
   * its abandonment). `keepSlot`: a running job stays in `active` and keeps its permit until its
   * task settles (`releaseOnTimeout: false`).
   */
  private finish(job: Job, ok: boolean, value: unknown, keepSlot = false): void {
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
    if (job.signalGroup !== undefined) this.h.signals.remove(job);
    job.context = undefined;
    let permit: Permit | undefined;
    if (was === RUNNING) {
      this.h.running?.delete(job);
      if (keepSlot) job.slotHeld = true;
      else {
        this.h.stopped();
        if (this.h.ledger.m !== undefined) this.h.ledger.m.run.record(this.h.config.clock.now() - job.startedAt);
        permit = job.permit;
        job.permit = undefined;
      }
    } else if (was === QUEUED) {
      this.h.line.removed();
    }
    if (was === RUNNING) this.h.ledger.ran(job.cohort, ok, value);
    else this.h.ledger.refusedQueued(job.cohort, value, was === ACQUIRING ? 'source' : 'aborted');
    if (job.resolve !== undefined) {
      if (ok) job.resolve(value);
      else job.reject!(value);
    } else if (!ok) {
      this.h.ledger.reportError(value, job.priority, job.attempt);
    }
    // Released last: a source may wake the pool synchronously from release().
    if (permit !== undefined) this.h.admission.leave(permit, !ok);
    if (was === QUEUED) {
      this.h.admission.removed();
      this.h.afterDequeue();
    } else if (!job.slotHeld) this.h.afterSettle();
  }

  /**
   * An async source failed to grant the head of the line: it settles with the source's error,
   * rejected (`overload`), never started.
   */
  fail(job: Job, error: unknown): void {
    job.state = ACQUIRING;
    this.finish(job, false, error);
    this.h.afterDequeue();
  }

  /** A job's caller aborted (SignalGroups hands each job over once, already out of its group). */
  abort(job: Job, reason: unknown): void {
    if (job.state === DONE) return;
    job.abort(reason);
    if (job.state === RUNNING) this.abandon(job, reason);
    else this.finish(job, false, reason);
  }
}
