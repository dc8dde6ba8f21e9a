import type { Event } from '../events/Emitter.js';

/**
 * Where a valve gets permission to start work. Each source has a synchronous `tryAcquire()`
 * fast path (in-process sources answer in ~100 ns and never let a newcomer barge past a
 * waiter, because the valve's own queue decides who asks next) and an asynchronous
 * `acquire(signal)` for sources that must ask someone else (Redis).
 */

/** A started piece of work's hold on a concurrency slot. */
export interface Permit {
  /**
   * Gives the slot back. Idempotent: a second call does nothing (safetyvalve's double `done`
   * over-admits; ours does not). `dropped` tells an adaptive limit the work failed.
   */
  release(outcome?: { dropped?: boolean }): void;
  /**
   * `release()` without an outcome, so `using permit = ...` releases at the end of the block.
   * Core's and redis's permits have it; optional so that a custom source's permits need not.
   */
  [Symbol.dispose]?(): void;
}

export interface ConcurrencySource {
  /**
   * True when `tryAcquire()` cannot answer for the source because it must ask a server (Redis):
   * a valve then waits on `acquire(signal)` instead of the synchronous fast path. Absent (false)
   * for in-process sources.
   */
  readonly async?: boolean;
  /** The concurrency currently allowed. */
  readonly limit: number;
  /** Permits held now. */
  readonly inUse: number;
  /** A permit if one is free now, else `undefined`. */
  tryAcquire(): Permit | undefined;
  /** Resolves with a permit when one is free; rejects with `signal.reason` on abort. */
  acquire(signal?: AbortSignal): Promise<Permit>;
  /** Fires when a permit may have become free (a release, or a raised limit). */
  readonly onAvailable: Event<void>;
  /** Stops timers and rejects pending `acquire`s. */
  close?(): void;
}

export interface RateSource {
  /**
   * True when `tryAcquire()` cannot answer for the source because it must ask a server (Redis):
   * a valve then waits on `acquire(signal)` instead of the synchronous fast path. Absent (false)
   * for in-process sources.
   */
  readonly async?: boolean;
  /** Tokens available now. */
  readonly available: number;
  /** Takes one token if available now. */
  tryAcquire(): boolean;
  /**
   * Takes `n` tokens at once if `n` are available now, else none. Optional: a source without it
   * cannot take a weight, and a valve refuses `weight > 1` with a TypeError.
   */
  tryAcquireMany?(n: number): boolean;
  /** Resolves once a token is taken; rejects with `signal.reason` on abort. */
  acquire(signal?: AbortSignal): Promise<void>;
  /**
   * Milliseconds until the next token is expected: 0 when one is available (for Retry-After).
   * A source with `tryAcquireMany` may take `n`: the time until `n` tokens are available.
   */
  nextTokenInMs(n?: number): number;
  /** The most tokens the source ever holds at once, if it has such a bound (a bucket's size). */
  readonly tokenLimit?: number;
  /** Fires when tokens were added. */
  readonly onAvailable: Event<void>;
  /** Stops timers and rejects pending `acquire`s. */
  close?(): void;
}
