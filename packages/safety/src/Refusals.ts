import { Emitter, errorForReason, type Reason, rethrowLater, type ValveError } from '@valve/core';
import type { Meters } from './meters.js';
import type { RejectEvent } from './options.js';

/**
 * How a valve refuses a job: the error (core's `errorForReason`, with a message that carries the
 * valve's state), the count by reason, the `onReject` option and event. It also remembers the
 * errors it made, so `tryRun` can tell a refusal from the job's own error (which passes through).
 */
export class Refusals {
  private readonly errors = new WeakSet<object>();
  private readonly reject$ = new Emitter<RejectEvent>();
  /** Fires for every rejected job. */
  readonly onReject = this.reject$.event;

  constructor(
    private readonly name: string,
    private readonly meters: Meters,
    private readonly option: ((event: RejectEvent) => void) | undefined,
    /** "N running, M waiting (size S)", read only when a refusal is described. */
    private readonly state: () => string,
  ) {}

  /** Counts and announces a refusal; returns the error the job rejects with. */
  refuse(reason: Reason, waitedMs: number, detail?: string): ValveError {
    const error = errorForReason(
      reason,
      detail === undefined ? this.describe(reason, waitedMs) : `valve ${this.name}: ${detail}, ${this.state()}`,
    );
    this.errors.add(error);
    this.count(reason, waitedMs);
    return error;
  }

  /**
   * Counts and announces a refusal whose error is not the valve's own: an asynchronous source
   * failed to grant a waiting job, which rejects with the source's error unchanged.
   */
  count(reason: Reason, waitedMs: number): void {
    this.meters.rejected[reason].inc();
    const event: RejectEvent = { valve: this.name, reason, waitedMs };
    if (this.option !== undefined) {
      try {
        this.option(event);
      } catch (e) {
        rethrowLater(e);
      }
    }
    if (this.reject$.hasListeners) this.reject$.emit(event);
  }

  /** True for an error this valve refused a job with. */
  made(error: unknown): error is ValveError {
    return typeof error === 'object' && error !== null && this.errors.has(error);
  }

  private describe(reason: Reason, waitedMs: number): string {
    switch (reason) {
      case 'queue_full':
        return `valve ${this.name}: queue full, ${this.state()}`;
      case 'shutdown':
        return `valve ${this.name} is closed`;
      case 'deadline':
        return `valve ${this.name}: waited ${waitedMs} ms without starting, ${this.state()}`;
      default:
        return `valve ${this.name}: dropped after waiting ${waitedMs} ms (${reason}), ${this.state()}`;
    }
  }
}
