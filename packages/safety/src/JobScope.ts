import type { Permit, Timer } from '@valve/core';
import type { Grant } from './Grant.js';
import type { JobContext } from './options.js';

/**
 * The `{ signal }` a started job receives when something besides `close()` can abort it: a
 * caller's signal, an execution limit (`timeoutMs`) or a lease. Its AbortController is made only
 * when the job reads `signal`, so a job that never looks costs one small object.
 *
 * Who aborts it, and what the caller sees (issue 14 defect 3): the caller's abort and `timeoutMs`
 * abort the signal and settle the caller at once (its code may never return: the caller must not
 * wait for it); a lease reclaim and `close()` abort the signal only, and the caller gets the job's
 * own outcome. The slot is given back when the job's promise settles (or by the lease). The link
 * fields put the scope in the valve's SignalGroups while the job runs (one listener per signal).
 */
/**
 * What the valve's one SignalGroups holds: queued jobs and running scopes alike, so a signal
 * shared by waiting and running jobs still gets one listener from the valve.
 */
export interface SignalMember {
  signalGroup: unknown;
  signalPrev: SignalMember | undefined;
  signalNext: SignalMember | undefined;
}

export class JobScope implements JobContext, SignalMember {
  signalGroup: unknown = undefined;
  signalPrev: SignalMember | undefined = undefined;
  signalNext: SignalMember | undefined = undefined;
  /** The execution limit's timer, cleared when the job ends. */
  timer: Timer | undefined = undefined;
  /** The lease on the job's slot (`leaseMs`), which gives the slot back; else the valve does. */
  grant: Grant | undefined = undefined;
  /** The valve's running scopes, a list through these fields (O(1) in and out, no hashing). */
  prevScope: JobScope | undefined = undefined;
  nextScope: JobScope | undefined = undefined;
  /** Settles the caller early (its promise's reject); written by the valve when the job starts. */
  fail: ((reason: unknown) => void) | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private aborted = false;
  private reason: unknown = undefined;

  constructor(
    /** The admission's permit the job holds. */
    readonly permit: Permit,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /**
   * Aborts the job's signal once (the first reason stays); with `settleCaller`, the caller's
   * promise rejects with `reason` now, even when `close()` or a lease aborted the signal before
   * (a caller's abort or its time limit always settles the caller; a second settle is a no-op).
   */
  abort(reason: unknown, settleCaller: boolean): void {
    if (!this.aborted) {
      this.aborted = true;
      this.reason = reason;
      this.controller?.abort(reason);
    }
    if (settleCaller) this.fail?.(reason);
  }
}

/**
 * The context of a job nothing but `close()` can abort (the common case: one object per valve, no
 * allocation per job). Each read of `signal` makes a fresh signal that follows the valve's closing
 * signal (`AbortSignal.any`), so listeners a job adds are collected with it instead of piling up
 * on one shared signal. Read it once: `const { signal } = context`.
 */
export class QuietContext implements JobContext {
  constructor(private readonly closing: AbortSignal) {}

  get signal(): AbortSignal {
    return AbortSignal.any([this.closing]);
  }
}
