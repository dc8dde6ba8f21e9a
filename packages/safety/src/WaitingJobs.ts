import { type Admission, abortReason, type Clock, type Permit, type Reason, type SignalGroups } from '@valve/core';
import { Grant } from './Grant.js';
import type { SignalMember } from './JobScope.js';
import type { Meters } from './meters.js';
import type { Job, RunOptions, Settings } from './options.js';
import type { Refusals } from './Refusals.js';
import { CURRENT, type RunningJobs } from './RunningJobs.js';
import type { QueuedJob, SafetyLine } from './SafetyLine.js';
import type { ScopedJobs } from './ScopedJobs.js';
import { newWaiter } from './Waiter.js';
import { WaitTimers, type WaitTimersHost } from './WaitTimers.js';

/**
 * The jobs of a SafetyValve that could not start at once: how a job joins the line (or is
 * refused `queue_full`/`shutdown`), and every way it leaves it: started by the admission's pump,
 * aborted by its caller, past its deadline or dropped by the discipline (`WaitTimers`, CoDel),
 * refused by `close()`. A job that waits captures its caller's async context and starts in it.
 */
export class WaitingJobs implements WaitTimersHost {
  /** Jobs allowed to wait; written by `setLimits()`. */
  size: number;
  /** The longest wait of a job queued from now on (a call's own `deadlineMs` first); written by `setLimits()`. */
  deadlineMs: number | undefined;
  private readonly timeoutMs: number | undefined;
  private readonly leaseMs: number | undefined;
  private readonly clock: Clock;
  /** Deadlines and codel-timer's expiry. */
  private readonly timers: WaitTimers;

  constructor(
    s: Settings,
    private readonly line: SafetyLine,
    private readonly admission: Admission<QueuedJob>,
    private readonly jobs: RunningJobs,
    private readonly scoped: ScopedJobs,
    private readonly signals: SignalGroups<SignalMember>,
    private readonly refusals: Refusals,
    private readonly meters: Meters,
  ) {
    this.size = s.size;
    this.deadlineMs = s.deadlineMs;
    this.timeoutMs = s.timeoutMs;
    this.leaseMs = s.leaseMs;
    this.clock = s.clock;
    this.timers = new WaitTimers(
      s.clock,
      line,
      s.discipline === 'codel-timer' ? { targetMs: s.targetMs, intervalMs: s.intervalMs } : undefined,
      this,
    );
  }

  /** Only codel-timer re-aims a timer when the line's head changes (the admission's `pumped`). */
  get expires(): boolean {
    return this.timers.expires;
  }

  /** Re-aims codel-timer's expiry after the line changed at its front. */
  headChanged(): void {
    this.timers.update();
  }

  /**
   * Puts a job that could not start at once in the line; `fn` is `undefined` for an `ask()`, which
   * resolves with a permit. Refuses it at once when the valve is closed or `size` jobs wait.
   */
  enqueue(fn: Job<unknown> | undefined, options: RunOptions | undefined): Promise<unknown> {
    if (this.jobs.closed) return Promise.reject(this.refusals.refuse('shutdown', 0));
    // With an async source the head waits while its permission is fetched; it does not count against `size`.
    if (this.line.size >= this.size + (this.admission.async ? 1 : 0)) {
      return Promise.reject(this.refusals.refuse('queue_full', 0));
    }
    const signal = options?.signal;
    return new Promise((resolve, reject) => {
      const now = this.clock.now();
      const weight = options?.weight ?? 1;
      const timeoutMs = options?.timeoutMs ?? this.timeoutMs;
      const job = newWaiter(now, fn, resolve, reject, signal, weight, timeoutMs, undefined, undefined, 0);
      // Abort listener and deadline first: the admission may start the job at once (which detaches it).
      if (signal !== undefined) this.signals.add(signal, job);
      this.line.push(job, now);
      const deadline = options?.deadlineMs ?? this.deadlineMs;
      if (deadline !== undefined) this.timers.startDeadline(job, deadline);
      this.admission.enqueued();
      if (this.timers.expires) this.timers.update();
    });
  }

  /** Starts a job the admission took from the line: it holds `permit` and has spent its token. */
  start(job: QueuedJob, permit: Permit, now: number): void {
    this.detach(job);
    this.meters.sojourn?.record(now - job.enqueuedAt);
    const jobs = this.jobs;
    jobs.started();
    const fn = job.fn;
    if (fn === undefined) {
      job.resolve(new Grant(jobs, permit, this.leaseMs, this.clock));
    } else if (job.signal !== undefined || job.timeoutMs !== undefined || this.leaseMs !== undefined) {
      // The scope's timers and listeners are made in the caller's context too.
      job.context.runInAsyncScope(
        () => this.scoped.start(fn, permit, job.signal, job.timeoutMs, CURRENT, job.resolve, job.reject),
        undefined,
        undefined,
      );
    } else {
      jobs.settle(job.context, fn, permit, job.resolve, job.reject);
    }
  }

  /**
   * An asynchronous source failed to grant the head: it never started, so it is rejected
   * (`overload`: the valve could not get it a slot or a token) and gets the source's error.
   */
  fail(job: QueuedJob, error: unknown): void {
    this.detach(job);
    this.refusals.count('overload', this.clock.now() - job.enqueuedAt);
    job.reject(error);
  }

  /** A waiting job's caller aborted: it leaves the line and rejects with the signal's reason. */
  abort(job: QueuedJob): void {
    if (!this.line.remove(job)) return;
    this.detach(job);
    this.meters.aborted.inc();
    job.reject(abortReason(job.signal!));
    this.afterRemoval();
  }

  /** Waiters left the line from the middle (an abort, a deadline, codel-timer's expiry). */
  afterRemoval(): void {
    this.admission.removed();
    if (this.timers.expires) this.timers.update();
  }

  /** Rejects a job that left the line. */
  refuse(job: QueuedJob, reason: Reason): void {
    this.detach(job);
    job.reject(this.refusals.refuse(reason, this.clock.now() - job.enqueuedAt));
  }

  /** `close()`: every waiter is refused with `shutdown` and the timers stop. */
  close(): void {
    this.timers.clear();
    for (const job of this.line.drain()) this.refuse(job, 'shutdown');
  }

  /** Stops listening for the job's abort and clears its deadline. */
  private detach(job: QueuedJob): void {
    if (job.signalGroup !== undefined) this.signals.remove(job);
    if (job.timer !== undefined) this.timers.stopDeadline(job);
  }
}
