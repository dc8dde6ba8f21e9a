import {
  type Clock,
  isValveError,
  type NormalizedRetry,
  normalizeRetry,
  type RetryOptions,
  rejectExtraArguments,
  rejectUnknownOptions,
  retry,
  TimeoutError,
  validateClock,
  validateFunction,
  validateNumber,
  validateObject,
} from '@valve/core';
import { FlushError } from './FlushError.js';
import { type Ack, rejectAcks } from './internal/Ack.js';
import type { FlushContext, FlushFunction, FlushResult } from './types.js';

/** Handed to every flush when `flushTimeoutMs` is `Infinity`: it never aborts. */
const NEVER_ABORTED: FlushContext = { signal: new AbortController().signal };

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
  /**
   * Longest one flush attempt may take, ms (> 0, or `Infinity` for no limit). On timeout the
   * attempt's `signal` aborts with a `TimeoutError` and the attempt counts as failed (retried,
   * then dead-lettered); whatever the timed-out flush resolves to later is ignored. @default 30000
   */
  flushTimeoutMs?: number;
}

/**
 * Writes one batch with retries and settles every item of it exactly once: written, or
 * dead-lettered with a {@link FlushError} that carries it. `run()` never rejects, so no caller
 * can leave a rejection unhandled, and nothing is swallowed: the seed took the batch out of the
 * buffer, logged a thrown flush with `console.error` and lost the items.
 *
 * A retry sends only what is still unwritten: the whole batch after a throw or a timeout,
 * `failedItems` after a partial failure. Backoffs wait on the injected clock (core's `retry`).
 *
 * A flush that never settles must not hold its items, `drain()` and `stop()` hostage (nor keep
 * the process alive for good through the controller's ref'd keep-alive), so each attempt races
 * a ref'd `flushTimeoutMs` timer: a hang costs at most that long per attempt.
 */
export class BatchFlusher<T> {
  private readonly flush: FlushFunction<T>;
  private readonly hooks: BatchFlusherHooks<T>;
  private readonly retry: NormalizedRetry;
  private readonly clock: Clock;
  private readonly timeoutMs: number;

  constructor(options: BatchFlusherOptions<T>) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 1, 'new BatchFlusher()');
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', ['flush', 'hooks', 'retry', 'clock', 'flushTimeoutMs']);
    this.flush = validateFunction(options.flush, 'flush');
    this.hooks = checkHooks(options.hooks);
    this.retry = normalizeRetry(options.retry as RetryOptions | undefined);
    this.clock = validateClock(options.clock);
    this.timeoutMs = validateNumber(options.flushTimeoutMs ?? 30_000, 'flushTimeoutMs', {
      above: 0,
      allowInfinity: true,
    });
  }

  /**
   * Writes `batch`. `acks`, when given, is parallel to it (a hole for an item pushed without
   * one): each acknowledgement resolves once its item is written and rejects with the
   * `FlushError` once it is dead-lettered. Never rejects.
   */
  async run(batch: T[], acks?: (Ack | undefined)[]): Promise<void> {
    // The items not yet written; narrowed after each partial failure.
    let pending = batch;
    // Parallel to `pending` (acknowledgements travel with their items, never matched by value).
    let pendingAcks = acks;
    try {
      await retry(
        async () => {
          const start = this.clock.now();
          let result: FlushResult<T> | undefined | void;
          try {
            result = await this.attempt(pending);
          } catch (error) {
            this.hooks.attempted(this.clock.now() - start, false);
            throw error;
          }
          const outcome = failedItems(result, pending);
          const failed = outcome.items;
          const written = pending.length - failed.length;
          if (written > 0) this.hooks.flushed(written);
          this.hooks.attempted(this.clock.now() - start, failed.length === 0);
          if (pendingAcks !== undefined) pendingAcks = settleWritten(pending, pendingAcks, failed);
          if (failed.length > 0) {
            pending = failed;
            const reported = (result as FlushResult<T>).errors;
            const errors = Array.isArray(reported) ? [...reported] : [];
            if (outcome.inconsistent !== undefined) errors.push(outcome.inconsistent);
            throw new FlushError(failed, errors);
          }
        },
        this.retry,
        { clock: this.clock },
      );
    } catch (error) {
      const dead = toFlushError(pending, error);
      this.hooks.deadLettered(pending, dead);
      rejectAcks(pendingAcks, dead);
    }
  }

  /**
   * One call of `flush`, bounded by `flushTimeoutMs`. A sync throw rejects; after a timeout
   * the attempt has already rejected, so a late resolution or rejection settles nothing.
   */
  private attempt(items: T[]): Promise<FlushResult<T> | undefined | void> {
    const ms = this.timeoutMs;
    if (ms === Number.POSITIVE_INFINITY) {
      try {
        return Promise.resolve(this.flush(items, NEVER_ABORTED));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => {
      const controller = new AbortController();
      // Ref'd: a flush in flight is accepted work, and this bounds how long it can hold the process.
      const timer = this.clock
        .setTimeout(() => {
          const error = new TimeoutError(
            `flush of ${items.length} item(s) did not settle within ${ms} ms (flushTimeoutMs)`,
          );
          reject(error);
          controller.abort(error);
        }, ms)
        .ref();
      let pending: ReturnType<FlushFunction<T>>;
      try {
        pending = this.flush(items, { signal: controller.signal });
      } catch (error) {
        timer.clear();
        reject(error);
        return;
      }
      Promise.resolve(pending).then(
        (value) => {
          timer.clear();
          resolve(value);
        },
        (error: unknown) => {
          timer.clear();
          reject(error);
        },
      );
    });
  }
}

const HOOKS = ['flushed', 'attempted', 'deadLettered'] as const;

/** `options.hooks`: an object with exactly the three reporting functions. */
function checkHooks<T>(hooks: unknown): BatchFlusherHooks<T> {
  const h = validateObject(hooks, 'hooks');
  rejectUnknownOptions(h, 'hooks', HOOKS);
  for (const name of HOOKS) validateFunction(h[name], `hooks.${name}`);
  return h as unknown as BatchFlusherHooks<T>;
}

/**
 * The dead letter for `items` after `error`, built without letting anything escape: `run()` must
 * not reject whatever the flush threw (issue 18: a value that throws when inspected would have
 * left the batch in flight and crashed the process with an unhandled rejection).
 */
function toFlushError<T>(items: T[], error: unknown): FlushError<T> {
  let own = false;
  try {
    own = isValveError(error, 'ERR_VALVE_FLUSH_FAILED');
  } catch {}
  return own ? (error as FlushError<T>) : new FlushError(items, [error], { cause: error });
}

/**
 * Resolves the acknowledgements of the items of `pending` that are not in `failed` and returns
 * those of the failed ones, parallel to `failed`. `failed` is `pending` itself (the whole batch
 * failed), empty, or a sub-multiset of it in any order (checked by `failedItems`): an item named
 * n times takes the first n unclaimed positions holding it.
 */
function settleWritten<T>(pending: T[], acks: (Ack | undefined)[], failed: T[]): (Ack | undefined)[] {
  if (failed === pending) return acks;
  if (failed.length === 0) {
    for (const ack of acks) ack?.resolve();
    return [];
  }
  const positions = new Map<T, number[]>();
  for (let i = pending.length - 1; i >= 0; i--) {
    const list = positions.get(pending[i]!);
    if (list === undefined) positions.set(pending[i]!, [i]);
    else list.push(i);
  }
  const failedAt = new Set<number>();
  const left: (Ack | undefined)[] = [];
  for (const item of failed) {
    const i = positions.get(item)!.pop()!;
    failedAt.add(i);
    left.push(acks[i]);
  }
  for (let i = 0; i < pending.length; i++) if (!failedAt.has(i)) acks[i]?.resolve();
  return left;
}

interface FailedOutcome<T> {
  /** The items to retry, then dead-letter: a subset of the batch, or all of it. */
  items: T[];
  /** Set when the result contradicts itself or the batch, so the whole batch failed. */
  inconsistent?: TypeError;
}

/**
 * The items of `batch` that a flush result says failed. Whatever cannot be matched to the batch
 * fails the whole batch, so no item is counted as written on a result that does not say so:
 * - `failed` above the number of `failedItems` (or `failed > 0` with none named): the result
 *   does not say which items failed;
 * - a `failedItems` entry that is not one of the batch's items (compared by identity, so a copy
 *   is foreign), or named more often than the batch holds it: retrying or dead-lettering it
 *   would hand out an object the controller never accepted and leave the real item unsettled.
 */
function failedItems<T>(result: FlushResult<T> | undefined | void, batch: T[]): FailedOutcome<T> {
  if (result === undefined || result === null || typeof result !== 'object') return { items: [] };
  const named = result.failedItems;
  const count = typeof result.failed === 'number' && result.failed > 0 ? result.failed : 0;
  if (named === undefined || named === null) return { items: count > 0 ? batch : [] };
  if (!Array.isArray(named)) {
    return { items: batch, inconsistent: new TypeError('flush result: failedItems must be an array') };
  }
  if (count > named.length) {
    return {
      items: batch,
      inconsistent: new TypeError(
        `flush result: failed is ${count} but failedItems names ${named.length}; the whole batch failed`,
      ),
    };
  }
  if (named.length === 0) return { items: [] };
  // How often each item of the batch may still be named (items may repeat, e.g. numbers).
  const left = new Map<T, number>();
  for (const item of batch) left.set(item, (left.get(item) ?? 0) + 1);
  const failed: T[] = [];
  for (const item of named as readonly T[]) {
    const n = left.get(item);
    if (n === undefined || n === 0) {
      return {
        items: batch,
        inconsistent: new TypeError(
          'flush result: failedItems holds an entry that is not an item of the batch (items are compared by identity); the whole batch failed',
        ),
      };
    }
    left.set(item, n - 1);
    failed.push(item);
  }
  return { items: failed };
}
