import { type CallerContext, type Clock, type NormalizedRetry, type Permit, retry, type Timer } from '@valve/core';
import type { Task, TaskContext } from '../options.js';
import type { Cohort } from './Cohort.js';

export const QUEUED = 0;
export const ACQUIRING = 1;
export const RUNNING = 2;
export const DONE = 3;

/**
 * A signal that never aborts, made on demand. Never shared: a task that adds an `abort`
 * listener to a shared signal (as `fetch` and most clients do) would leave it there for good,
 * 1000 tasks -> 1000 listeners and a MaxListenersExceededWarning. An unshared one is collected
 * with its listeners once the task lets go of it.
 */
function quietSignal(): AbortSignal {
  return new AbortController().signal;
}

/**
 * The context of tasks that cannot be aborted or retried: one object for all of them, so a task
 * that never reads `signal` costs nothing. Each read of `signal` makes a new never-aborting signal
 * (the shared context has nowhere to keep a per-task one): read it once, `const { signal } = ctx`.
 */
export const PLAIN_CONTEXT: TaskContext = Object.freeze({
  get signal() {
    return quietSignal();
  },
  attempt: 1,
});

/**
 * The pool's record of a task that needs per-task handling: a timeout, a signal, retries,
 * timing or a permit. Plain `add()`ed tasks have none (the queue holds the function itself) and
 * plain queued `run()`s a {@link QueuedRun}. Written by the pool only.
 */
export class Job {
  /** Links in the pool's SignalGroups (one abort listener per distinct signal; written there). */
  signalGroup: unknown = undefined;
  signalPrev: Job | undefined = undefined;
  signalNext: Job | undefined = undefined;
  /** The caller's async context, captured when the job had to wait (core's `captureContext`). */
  context: CallerContext | undefined = undefined;
  state: 0 | 1 | 2 | 3 = QUEUED;
  /** Set for `run()`: the caller's promise. */
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((error: unknown) => void) | undefined = undefined;
  /** Created only when the task reads `signal` and something can abort it. */
  controller: AbortController | undefined = undefined;
  /** The reason the job was aborted or timed out before `controller` existed. */
  abortedWith: unknown = undefined;
  timer: Timer | undefined = undefined;
  permit: Permit | undefined = undefined;
  enqueuedAt = 0;
  startedAt = 0;
  /** The caller's `run(task, { meta })` (with `trackRunning`). */
  meta: unknown = undefined;
  attempt = 1;
  /**
   * Settled by its timeout or abort while its code still runs (counted in the pool's
   * `abandoned` until the task's own promise settles).
   */
  abandoned = false;
  /** Abandoned with `releaseOnTimeout: false`: still in `active`, `permit` kept until it settles. */
  slotHeld = false;

  constructor(
    readonly fn: Task,
    readonly priority: number,
    readonly cohort: Cohort,
    readonly userSignal: AbortSignal | undefined,
    readonly timeoutMs: number | undefined,
  ) {}

  get signal(): AbortSignal {
    if (this.controller !== undefined) return this.controller.signal;
    if (this.timeoutMs === undefined && this.userSignal !== undefined) return this.userSignal;
    // A timeout can abort it, or nothing can: either way the job's own controller, made once.
    this.controller = new AbortController();
    if (this.abortedWith !== undefined) this.controller.abort(this.abortedWith);
    return this.controller.signal;
  }

  /** Aborts the task's signal (if anybody made one) with `reason`. */
  abort(reason: unknown): void {
    this.abortedWith = reason;
    this.controller?.abort(reason);
  }
}

/** The `{ signal, attempt }` a job's task receives; keeps the job's other fields out of reach. */
export class JobContext implements TaskContext {
  constructor(private readonly job: Job) {}
  get signal(): AbortSignal {
    return this.job.signal;
  }
  get attempt(): number {
    return this.job.attempt;
  }
}

/**
 * A queued plain task (no signal, timeout, retry, timing or permit): its caller's async context
 * and just what it needs to start and settle, five fields instead of a `Job`'s seventeen, because
 * a million of them may wait at once. `resolve`/`reject` are the `run()` caller's, `undefined`
 * for an `add()`ed task.
 */
export class QueuedRun {
  constructor(
    readonly context: CallerContext,
    readonly fn: Task,
    readonly priority: number,
    readonly resolve: ((value: unknown) => void) | undefined,
    readonly reject: ((error: unknown) => void) | undefined,
  ) {}
}

/** Calls a job's task with its retries, waiting on `clock` between attempts. */
export function runWithRetry(
  job: Job,
  options: NormalizedRetry,
  clock: Clock,
  ledger: { retry(): void },
): Promise<unknown> {
  const context = new JobContext(job);
  const signal = job.userSignal !== undefined || job.timeoutMs !== undefined ? job.signal : undefined;
  return retry(
    (attempt) => {
      job.attempt = attempt;
      if (attempt > 1) ledger.retry();
      return job.fn(context);
    },
    options,
    { clock, signal },
  );
}
