import { type Clock, type Permit, type Timer, TimeoutError } from '@valve/core';
import type { JobScope } from './JobScope.js';
import type { SafetyPermit } from './options.js';

/** What a grant gives its slot back to (the valve's RunningJobs). */
export interface GrantHolder {
  /** Ends the admitted job: exactly once per admitted job. */
  end(permit: Permit, failed: boolean): void;
  /** Counts a lease that ran out. */
  reclaimed(): void;
}

const DROPPED = Object.freeze({ dropped: true });

/**
 * A started job's hold on its slot (an `ask()` permit, or a leased `run()`), released exactly
 * once: by `done()`, by the end of a leased `run`, or by the lease timer (which counts it as
 * reclaimed and aborts the leased job's signal). `holder` is cleared on release: it is the
 * "released" flag and lets a late `done()` do nothing.
 */
export class Grant implements SafetyPermit {
  private holder: GrantHolder | undefined;
  private timer: Timer | undefined = undefined;

  constructor(
    holder: GrantHolder,
    /** The admission's permit (`Admission.COUNTED` for a fixed cap). */
    private readonly permit: Permit,
    leaseMs: number | undefined,
    clock: Clock,
    /** The leased job's scope: a reclaim aborts its signal (`undefined` for an `ask()` permit). */
    readonly scope?: JobScope,
  ) {
    this.holder = holder;
    if (leaseMs !== undefined) this.timer = clock.setTimeout(() => this.reclaim(), leaseMs);
  }

  get released(): boolean {
    return this.holder === undefined;
  }

  done(outcome?: { dropped?: boolean }): void {
    const holder = this.holder;
    if (holder === undefined) return;
    this.holder = undefined;
    this.timer?.clear();
    this.timer = undefined;
    holder.end(this.permit, outcome?.dropped === true);
  }

  private reclaim(): void {
    this.timer = undefined;
    const holder = this.holder;
    if (holder === undefined) return;
    holder.reclaimed();
    this.scope?.abort(new TimeoutError('the lease ran out (leaseMs): the slot was reclaimed'), false);
    this.done(DROPPED);
  }
}
