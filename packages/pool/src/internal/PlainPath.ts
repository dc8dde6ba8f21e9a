import { NO_HOOKS_PROBE, NO_STORE, storeVisible } from '@valve/core';
import type { Task } from '../options.js';
import type { Cohort, CohortOwner } from './Cohort.js';
import { PLAIN_CONTEXT, type QueuedRun } from './Job.js';

/**
 * The plain fast path's start: a task with no record of its own (see PromisePool's "Two paths").
 * It is called with the one shared context and settles through its drain cohort's shared handlers;
 * the pool's `settleOk`/`settlePlain` do the rest. Module functions taking the pool (not pool
 * methods) only to keep PromisePool.ts one concept long; V8 sees one pool class here either way.
 */
export interface PlainHost extends CohortOwner {
  activeCount: number;
  readonly cycle: { readonly trackProgress: boolean; busy(): void };
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** A plain `add()`ed task: started at once, or `queued` by a caller without a store (`NO_STORE`). */
export function startPlain(pool: PlainHost, task: Task, cohort: Cohort, queued: boolean): void {
  if (pool.activeCount++ === 0 && pool.cycle.trackProgress) pool.cycle.busy();
  let result: unknown;
  try {
    // A queued task of a caller without a store runs as called unless the context it is started
    // from shows a store (NO_STORE's rule, written out: a direct call V8 can inline). With no
    // storage enabled in the process none can show (core's NO_HOOKS_PROBE, read here: a call
    // less per queued task).
    result =
      !queued ||
      (NO_HOOKS_PROBE !== undefined &&
        (Promise.resolve() as unknown as Record<symbol, unknown>)[NO_HOOKS_PROBE] === undefined) ||
      !storeVisible()
        ? task(PLAIN_CONTEXT)
        : NO_STORE.runInAsyncScope(task, undefined, PLAIN_CONTEXT);
  } catch (error) {
    pool.settlePlain(cohort, false, error, false);
    return;
  }
  if (result instanceof Promise) result.then(cohort.onOk, cohort.onErr);
  else if (isThenable(result)) Promise.resolve(result).then(cohort.onOk, cohort.onErr);
  else pool.settlePlain(cohort, true, undefined, false);
}

/**
 * A plain `run()` started at once (its slot taken), with nothing per task to clean up: the
 * caller's promise is chained straight onto the task's, through the cohort's shared handlers (no
 * closure, no record).
 */
export function runPlain<T>(pool: PlainHost, task: Task<T>, cohort: Cohort): Promise<T> {
  if (pool.activeCount++ === 0 && pool.cycle.trackProgress) pool.cycle.busy();
  let result: T | PromiseLike<T>;
  try {
    result = task(PLAIN_CONTEXT);
  } catch (error) {
    pool.settlePlain(cohort, false, error, true);
    return Promise.reject(error);
  }
  if (result instanceof Promise) return result.then(cohort.okPass, cohort.errPass);
  if (isThenable(result)) return Promise.resolve(result).then(cohort.okPass, cohort.errPass);
  pool.settlePlain(cohort, true, undefined, true);
  return Promise.resolve(result);
}

/**
 * A queued plain task, in its caller's async context: an `add()`ed one settles through the
 * cohort's shared handlers; for a `run()` the caller's promise follows the task's.
 */
export function startQueuedRun(pool: PlainHost, run: QueuedRun, cohort: Cohort): void {
  if (pool.activeCount++ === 0 && pool.cycle.trackProgress) pool.cycle.busy();
  let result: unknown;
  const resolve = run.resolve;
  try {
    result = run.context.runInAsyncScope(run.fn, undefined, PLAIN_CONTEXT);
  } catch (error) {
    pool.settlePlain(cohort, false, error, resolve !== undefined);
    run.reject?.(error);
    return;
  }
  if (resolve === undefined) {
    if (result instanceof Promise) result.then(cohort.onOk, cohort.onErr);
    else if (isThenable(result)) Promise.resolve(result).then(cohort.onOk, cohort.onErr);
    else pool.settlePlain(cohort, true, undefined, false);
    return;
  }
  if (isThenable(result)) {
    const p = result instanceof Promise ? result : Promise.resolve(result);
    // Two closures and one derived promise: measured faster than chaining the cohort's
    // shared handlers (two derived promises) once many tasks are in flight.
    p.then(
      (value) => {
        resolve(value);
        pool.settlePlain(cohort, true, undefined, true);
      },
      (error) => {
        run.reject!(error);
        pool.settlePlain(cohort, false, error, true);
      },
    );
  } else {
    pool.settlePlain(cohort, true, undefined, true);
    resolve(result);
  }
}
