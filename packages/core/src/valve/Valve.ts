import { REASONS, type Reason } from '../errors/ValveError.js';

/**
 * The one vocabulary for every valve's counters (CONTRIBUTING.md, "The Valve contract"). Each
 * valve states its unit of work (a task, a job, a fetcher run, an item); the words mean the same
 * for all of them. A valve's own stats type extends this one with extra fields.
 *
 * Invariants, at any instant no call is in progress: `admitted = running + completed + failed`
 * and `offered = rejected + queued + admitted`.
 */
export interface ValveStats {
  /** The valve's `name` (also its metrics label `valve`). */
  name: string;
  /**
   * Units offered and refused or dropped before they started: queue full, rate limited, deadline
   * or abort while queued, cleared, closed, overload, sampled out. They never started.
   */
  rejected: number;
  /** `rejected` by reason; aborts while queued are counted under `aborted`. */
  rejectedByReason: Record<Reason | 'aborted', number>;
  /** Waiting now (not started). */
  queued: number;
  /** Started and not yet settled. */
  running: number;
  /** Units that started (passed admission). */
  admitted: number;
  /** Settled successfully. */
  completed: number;
  /** Settled with an error (threw, rejected, timed out while running, dead-lettered). */
  failed: number;
  /** Whether `close()` was called. */
  closed: boolean;
}

/**
 * What every valve is: named, observable through {@link ValveStats}, and closed with one awaitable,
 * idempotent `close()` (each valve documents what happens to its queued and running work), which
 * `await using` calls through `Symbol.asyncDispose`.
 */
export interface Valve {
  readonly name: string;
  stats(): ValveStats;
  /** Shuts the valve down; a second call returns the same promise. */
  close(): Promise<void>;
  /** The same as `close()`, for `await using valve = new ...`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A fresh `rejectedByReason` with every key at 0 (so every valve reports the same keys). */
export function emptyRejectedByReason(): Record<Reason | 'aborted', number> {
  const out = { aborted: 0 } as Record<Reason | 'aborted', number>;
  for (const reason of REASONS) out[reason] = 0;
  return out;
}
