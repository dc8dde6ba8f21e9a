import type { Reason, ValveStats } from '@valve/core';

/**
 * How full the buffer is, as the watermarks read it. `blocked` means the active budget is used
 * up; `critical` is held from the high watermark down to the low one (the hysteresis band).
 */
export type PressureLevel = 'normal' | 'elevated' | 'critical' | 'blocked';

/** The controller's public state: the pressure level, or `draining` while a `drain()` runs. */
export type BackpressureState = PressureLevel | 'draining';

/** What happens to a push when the buffer is full (see the strategy table in the README). */
export type BackpressureStrategy = 'block' | 'drop_oldest' | 'drop_newest' | 'sample';

/** The reasons an item can be dropped or refused by this controller. */
export type DropReason = Extract<Reason, 'evicted' | 'queue_full' | 'sampled' | 'timeout' | 'shutdown'>;

export const DROP_REASONS: readonly DropReason[] = Object.freeze([
  'evicted',
  'queue_full',
  'sampled',
  'timeout',
  'shutdown',
]);

/**
 * What a flush reports. Resolve nothing (`undefined`) when every item was written.
 *
 * Partial failure: name the failed items in `failedItems`, and only those are retried and, if
 * they keep failing, dead-lettered. The whole batch is treated as failed (at-least-once, as a
 * Kafka producer retries a whole batch) whenever the result cannot say exactly which items
 * failed: `failed` above 0 without `failedItems`, `failed` above `failedItems.length`, or a
 * `failedItems` entry that is not one of the batch's own items (compared by identity: a copy
 * does not match).
 */
export interface FlushResult<T = unknown> {
  /** Items written (informational: the controller counts by exclusion of `failedItems`). */
  success: number;
  /** Items not written. */
  failed: number;
  /** Why they failed; carried by the `FlushError` handed to `onDeadLetter`. */
  errors: unknown[];
  /** The failed items themselves: the batch's own objects (a subset of the batch). */
  failedItems?: readonly T[];
}

/** The second argument of every flush call. */
export interface FlushContext {
  /**
   * Aborts (with a `TimeoutError`) when the attempt exceeds `flushTimeoutMs`; the attempt then
   * counts as failed whatever the flush does later, so pass it on to the driver to cancel it.
   */
  readonly signal: AbortSignal;
}

/** Writes one batch. Throwing (or rejecting) fails the whole batch. */
export type FlushFunction<T> = (
  items: T[],
  context: FlushContext,
) => Promise<FlushResult<T> | undefined | void> | FlushResult<T> | undefined | void;

/** Delivered to `onDrop` listeners, once per dropped or refused item (or group of items). */
export interface DropEvent<T> {
  readonly items: readonly T[];
  readonly reason: DropReason;
  /** False for a refused push (never accepted); true for an item dropped after acceptance. */
  readonly accepted: boolean;
}

export interface StateChange {
  readonly from: BackpressureState;
  readonly to: BackpressureState;
}

/** What `drain()` resolves to: what happened while it ran. */
export interface DrainSummary {
  flushed: number;
  deadLettered: number;
  /** Items dropped or refused while the drain ran (by strategy, eviction or sampling). */
  dropped: number;
  /** Clock milliseconds the drain took. */
  durationMs: number;
}

/**
 * A typed snapshot from `stats()` (alias `getMetrics()`).
 *
 * Accounting invariant, at every instant:
 * `accepted === flushed + deadLettered + dropped + bufferSize + inFlight`.
 * Refused pushes (`rejected`) were never accepted and are counted apart.
 */
/**
 * The shared words (core's ValveStats; the unit of work is an item): `queued` buffered or in a
 * blocked push, `running` handed to a flush and not settled, `admitted` handed to a flush,
 * `completed` flushed, `failed` dead-lettered, `rejected` refused or dropped before it was handed
 * to a flush (`refused` + `dropped`; by reason in `rejectedByReason`, aborts as `aborted`). Then
 * the controller's own fields.
 */
export interface BackpressureStats extends ValveStats {
  state: BackpressureState;
  level: PressureLevel;
  /** Above the high watermark and not yet back below the low one. */
  pressured: boolean;
  bufferSize: number;
  /** Sum of `sizeOf(item)` over the buffer (equals `bufferSize` without `sizeOf`). */
  bufferBytes: number;
  /** Fill of the active budget, 0-1 (the larger of items and bytes). */
  bufferUtilization: number;
  /** Items handed to `flush` and not yet settled (retries included). */
  inFlight: number;
  /** Pushes waiting for space (`block`). */
  blockedPushes: number;
  accepted: number;
  /** Pushes refused (full, sampled out, timed out, closed or aborted); never accepted. */
  refused: number;
  /** Accepted items dropped later (evicted, or left in the buffer by `stop()`). */
  dropped: number;
  /** Every drop and refusal by reason (aborted pushes are not drops: the caller cancelled). */
  droppedByReason: Record<DropReason, number>;
  flushed: number;
  deadLettered: number;
  /** Flush attempts that threw or reported failures (retries included). */
  flushFailures: number;
  lastFlushLatencyMs: number;
  /** The current idle pacing interval (adaptive). */
  flushIntervalMs: number;
}
