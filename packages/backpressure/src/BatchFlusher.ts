import {
  type Clock,
  isValveError,
  type NormalizedRetry,
  normalizeRetry,
  type RetryOptions,
  retry,
  systemClock,
} from '@valve/core';
import { FlushError } from './FlushError.js';
import type { FlushFunction, FlushResult } from './types.js';

/** What the flusher reports; the controller turns these into counters, metrics and callbacks. */
export interface BatchFlusherHooks<T> {
  /** `count` items of a batch were written. */
  flushed(count: number): void;
  /** One attempt finished (`ok` false when it threw or reported failures), after `latencyMs`. */
  attempted(latencyMs: number, ok: boolean): void;
  /** Items that failed every attempt. Called at most once per batch. */
  deadLettered(items: T[], error: FlushError<T>): void;
}

export interface BatchFlusherOptions<T> {
  flush: FlushFunction<T>;
  hooks: BatchFlusherHooks<T>;
  /** @default no retries */
  retry?: RetryOptions | NormalizedRetry | number;
  /** @default systemClock */
  clock?: Clock;
}

/**
 * Writes one batch with retries and settles every item of it exactly once: written, or
 * dead-lettered with a {@link FlushError} that carries it. `run()` never rejects, so no caller
 * can leave a rejection unhandled, and nothing is swallowed: the seed took the batch out of the
 * buffer, logged a thrown flush with `console.error` and lost the items.
 *
 * A retry sends only what is still unwritten: the whole batch after a throw, `failedItems`
 * after a partial failure. Backoffs wait on the injected clock (core's `retry`).
 */
export class BatchFlusher<T> {
  private readonly flush: FlushFunction<T>;
  private readonly hooks: BatchFlusherHooks<T>;
  private readonly retry: NormalizedRetry;
  private readonly clock: Clock;

  constructor(options: BatchFlusherOptions<T>) {
    this.flush = options.flush;
    this.hooks = options.hooks;
    this.retry = normalizeRetry(options.retry as RetryOptions | undefined);
    this.clock = options.clock ?? systemClock;
  }

  async run(batch: T[]): Promise<void> {
    // The items not yet written; narrowed after each partial failure.
    let pending = batch;
    try {
      await retry(
        async () => {
          const start = this.clock.now();
          let result: FlushResult<T> | undefined | void;
          try {
            result = await this.flush(pending);
          } catch (error) {
            this.hooks.attempted(this.clock.now() - start, false);
            throw error;
          }
          const failed = failedItems(result, pending);
          const written = pending.length - failed.length;
          if (written > 0) this.hooks.flushed(written);
          this.hooks.attempted(this.clock.now() - start, failed.length === 0);
          if (failed.length > 0) {
            pending = failed;
            const errors = (result as FlushResult<T>).errors;
            throw new FlushError(failed, Array.isArray(errors) ? errors : []);
          }
        },
        this.retry,
        { clock: this.clock },
      );
    } catch (error) {
      const dead = isValveError(error, 'ERR_VALVE_FLUSH_FAILED')
        ? (error as FlushError<T>)
        : new FlushError(pending, [error], { cause: error });
      this.hooks.deadLettered(pending, dead);
    }
  }
}

/** The items of `batch` that a flush result says failed. */
function failedItems<T>(result: FlushResult<T> | undefined | void, batch: T[]): T[] {
  if (result === undefined || result === null || typeof result !== 'object') return [];
  const named = result.failedItems;
  if (Array.isArray(named)) {
    // More "failed" items than were sent cannot be a subset: treat the batch as failed.
    return named.length <= batch.length ? [...named] : batch;
  }
  return typeof result.failed === 'number' && result.failed > 0 ? batch : [];
}
