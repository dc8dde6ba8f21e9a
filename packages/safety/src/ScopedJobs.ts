import { type CallerContext, type Clock, type Permit, type SignalGroups, TimeoutError } from '@valve/core';
import { Grant } from './Grant.js';
import { JobScope, type SignalMember } from './JobScope.js';
import type { Job } from './options.js';
import { type Ender, type RunningJobs, runAndReturn, runAndSettle } from './RunningJobs.js';

const DROPPED = Object.freeze({ dropped: true });

/**
 * The started jobs of a SafetyValve that something besides `close()` can stop: a caller's signal,
 * an execution limit (`timeoutMs`) or a lease (`leaseMs`). Each gets a `JobScope` (its `{ signal }`)
 * that this list holds until the job ends, so `close()` aborts every one of them.
 *
 * Who stops a scoped job, and what its caller sees (issue 14 defect 3): the caller's abort and
 * `timeoutMs` abort the job's signal and settle the caller at once (the job's code may never
 * return); a lease reclaim and `close()` abort the signal only, and the caller gets the job's own
 * outcome. The slot comes back when the job's own promise settles (or by the lease), exactly once.
 */
export class ScopedJobs implements Ender<JobScope> {
  /** The most recently started scope; the running ones are linked through `nextScope`. */
  private head: JobScope | undefined = undefined;

  constructor(
    private readonly name: string,
    private readonly clock: Clock,
    private readonly jobs: RunningJobs,
    /** The valve's one SignalGroups (queued jobs and running scopes share its listeners). */
    private readonly signals: SignalGroups<SignalMember>,
    private readonly leaseMs: number | undefined,
  ) {}

  /**
   * Runs `fn`, admitted and holding `permit`, in a scope of its own, and settles its caller
   * (`resolve`/`reject`) with its outcome, or earlier on the caller's abort or `timeoutMs`.
   * `context` is where `fn` runs: `CURRENT` when this is already the caller's context.
   */
  start(
    fn: Job<unknown>,
    permit: Permit,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    context: CallerContext,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ): void {
    const scope = this.open(permit);
    scope.fail = reject;
    if (signal !== undefined) this.signals.add(signal, scope);
    if (timeoutMs !== undefined) {
      scope.timer = this.clock.setTimeout(() => {
        scope.timer = undefined;
        scope.abort(new TimeoutError(`valve ${this.name}: job ran longer than timeoutMs (${timeoutMs} ms)`), true);
      }, timeoutMs);
    }
    runAndSettle(context, fn, scope, this, scope, resolve, reject);
  }

  /**
   * `start` for a job with neither a caller signal nor an execution limit (only a lease or a
   * weight), called by its caller: nothing settles the caller early, so it gets the job's own
   * outcome (no promise of the caller's made in advance).
   */
  run<T>(fn: Job<T>, permit: Permit): Promise<Awaited<T>> {
    const scope = this.open(permit);
    return runAndReturn(fn, scope, this, scope);
  }

  private open(permit: Permit): JobScope {
    const scope = new JobScope(permit);
    if (this.leaseMs !== undefined) scope.grant = new Grant(this.jobs, permit, this.leaseMs, this.clock, scope);
    const head = this.head;
    if (head !== undefined) {
      scope.nextScope = head;
      head.prevScope = scope;
    }
    this.head = scope;
    return scope;
  }

  /** The scoped job ended: its scope is forgotten and its slot handed back (by its lease, if any). */
  end(scope: JobScope, failed: boolean): void {
    const { prevScope, nextScope } = scope;
    if (prevScope !== undefined) prevScope.nextScope = nextScope;
    else this.head = nextScope;
    if (nextScope !== undefined) nextScope.prevScope = prevScope;
    scope.prevScope = scope.nextScope = undefined;
    if (scope.signalGroup !== undefined) this.signals.remove(scope);
    scope.timer?.clear();
    scope.timer = undefined;
    scope.fail = undefined;
    const grant = scope.grant;
    if (grant !== undefined) grant.done(failed ? DROPPED : undefined);
    else this.jobs.end(scope.permit, failed);
  }

  /** `close()`: every running scoped job's signal aborts; their callers get the jobs' outcomes. */
  abortAll(closedError: unknown): void {
    for (let scope = this.head; scope !== undefined; ) {
      const next = scope.nextScope;
      scope.abort(closedError, false);
      scope = next;
    }
  }
}
