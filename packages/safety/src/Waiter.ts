import { type CallerContext, captureContext, type LazyQueueEntry, type Timer } from '@valve/core';
import type { SignalMember } from './JobScope.js';
import type { Job } from './options.js';

/**
 * A job waiting in a safety valve's line, what SafetyValve's `QueuedJob` and KeyedValve's waiters
 * have in common: when it queued, its work, its caller's promise and signal, and its deadline.
 *
 * It captures its caller's async context when it is made: it starts later, from whichever job
 * freed its slot, and must run in its own caller's AsyncLocalStorage context (issue 14). The link
 * fields put it in the valve's SignalGroups while its caller's signal can abort it.
 */
export class Waiter<F extends Job<unknown> | undefined = Job<unknown>> implements LazyQueueEntry, SignalMember {
  gone = false;
  signalGroup: unknown = undefined;
  signalPrev: SignalMember | undefined = undefined;
  signalNext: SignalMember | undefined = undefined;
  readonly context: CallerContext = captureContext();
  /** The job's deadline timer (ref'd: the job waits on it). */
  timer: Timer | undefined = undefined;

  constructor(
    /** When the job entered the line, by the valve's clock. */
    readonly enqueuedAt: number,
    /** The work; `undefined` for an `ask()`, which resolves with a permit instead. */
    readonly fn: F,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {}
}
