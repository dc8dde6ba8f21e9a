import { type CallerContext, captureContext, type LazyQueueEntry, type Timer } from '@valve/core';
import type { FairFlow } from './FairLine.js';
import type { SignalMember } from './JobScope.js';
import type { KeyState } from './KeyTable.js';
import type { Job } from './options.js';

/**
 * A job waiting in a safety valve's line (SafetyValve's `QueuedJob`, KeyedValve's `KeyedJob`):
 * when it queued, its work, its caller's promise and signal, its deadline, and the fields of
 * either valve (the other's stay at their defaults).
 *
 * It captures its caller's async context when it is made: it starts later, from whichever job
 * freed its slot, and must run in its own caller's AsyncLocalStorage context (issue 14). The link
 * fields put it in the valve's SignalGroups while its caller's signal can abort it.
 */
export interface Waiter extends LazyQueueEntry, SignalMember {
  /** When the job entered the line, by the valve's clock. */
  readonly enqueuedAt: number;
  /** The work; `undefined` for an `ask()`, which resolves with a permit instead. */
  readonly fn: Job<unknown> | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly context: CallerContext;
  /** The job's deadline timer (ref'd: the job waits on it). */
  timer: Timer | undefined;
  /** SafetyValve: slots and tokens the job takes when it starts (`run(fn, { weight })`). */
  readonly weight: number;
  /** SafetyValve: this call's execution limit (its own or the valve's), for when it starts. */
  readonly timeoutMs: number | undefined;
  /** KeyedValve: the job's key, the flow it queues in and its priority class. */
  readonly ks?: KeyState | undefined;
  readonly flow?: FairFlow | undefined;
  readonly priority?: number;
}

/**
 * A new waiter. One object literal for both valves, not a class: V8 drops optimized code that
 * checked a layout once a major GC frees the last object of it (CONTRIBUTING.md, holdShapes), and
 * waiters all die whenever the line empties, while a literal's layout lives with the code that
 * makes it. Measured (bench/before-after/safety.mjs, 2026-12-04, 20,000 jobs queued behind one
 * slot on one valve kept for every round, gc() before each round, load 4.5-5.5): class waiters
 * 1,840-1,860 ns per job, this literal 530-564, main's two literals (one per valve, no keyed
 * fields on a SafetyValve waiter) 460-462. The three fields a SafetyValve waiter carries for a
 * keyed one cost that difference (without them: 0.96-1.06x main); one layout for both is kept
 * so that the record is written once.
 */
export function newWaiter(
  enqueuedAt: number,
  fn: Job<unknown> | undefined,
  resolve: (value: unknown) => void,
  reject: (error: unknown) => void,
  signal: AbortSignal | undefined,
  weight: number,
  timeoutMs: number | undefined,
  ks: KeyState | undefined,
  flow: FairFlow | undefined,
  priority: number,
): Waiter {
  return {
    gone: false,
    enqueuedAt,
    fn,
    resolve,
    reject,
    signal,
    signalGroup: undefined,
    signalPrev: undefined,
    signalNext: undefined,
    context: captureContext(),
    timer: undefined,
    weight,
    timeoutMs,
    ks,
    flow,
    priority,
  };
}
