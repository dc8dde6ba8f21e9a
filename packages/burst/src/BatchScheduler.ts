import { type Clock, describeValue, rethrowLater, type Timer, TimeoutError, ValveError } from '@valve/core';
import { BatchRun } from './BatchRun.js';
import { type Call, PENDING } from './Call.js';
import type { BatchResult } from './options.js';
import { promiseInto } from './promiseInto.js';

/** Error code of a batch key left without a result (or a result array of the wrong length). */
export const ERR_BURST_NO_RESULT = 'ERR_VALVE_BURST_NO_RESULT';

const resolved = Promise.resolve();

/** What the scheduler needs of its valve. */
export interface BatchHost<T, K> {
  /** Calls the batch fetcher (the valve's `executeBatch`). */
  execute(
    keys: K[],
    earlyWrite: (key: K, result: T | Error) => void,
    run: BatchRun<T, K>,
  ): PromiseLike<BatchResult<T, K>> | BatchResult<T, K>;
  /** The calls of a batch handed to the fetcher now start running. */
  started(calls: Call<T, K>[]): void;
  /** One key settled: fulfilled with `value`, or failed with exactly `value`. */
  settle(call: Call<T, K>, ok: boolean, value: unknown): void;
  /** One key still pending when its batch's deadline ran out. */
  timedOut(call: Call<T, K>, error: TimeoutError): void;
}

/** The keys collected for one dispatch (one tick, one `batchWindowMs` window, one `batchScheduleFn` call). */
class PendingBatch<T, K> {
  dispatched = false;
  timer: Timer | undefined = undefined;
  constructor(readonly calls: Call<T, K>[]) {}
}

/**
 * Batch mode: every call started in one tick (through any method) goes into one batch fetcher
 * call, scheduled like dataloader's (after the current promise jobs, on the next tick), split into
 * batches of at most `maxBatchSize` keys. Keys whose every caller gave up before dispatch are not
 * fetched. A batch's results (an array, a Map, `earlyWrite`s, or nothing) settle its keys; a key
 * left without a result rejects with `ERR_VALVE_BURST_NO_RESULT`.
 *
 * `batchWindowMs` holds a batch open that long on the valve's clock (a ref'd timer: callers wait
 * on it), dispatching it early once it holds `maxBatchSize` keys; `batchScheduleFn` hands the
 * dispatch to the user (a full batch is closed, so later keys start the next one).
 */
export class BatchScheduler<T, K> {
  /** Calls collected for the next dispatch, not yet handed to the batch fetcher. */
  private pending: PendingBatch<T, K> | undefined = undefined;

  constructor(
    private readonly host: BatchHost<T, K>,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly maxBatchSize: number,
    private readonly windowMs: number,
    private readonly scheduleFn: ((dispatch: () => void) => void) | undefined,
    private readonly keyOf: ((key: K) => unknown) | undefined,
    private readonly displayName: string,
  ) {}

  /** Queues a new call for the next batch; its promise is settled by the batch's result. */
  enqueue(call: Call<T, K>): void {
    call.promise = promiseInto<T>(call);
    const pending = this.pending;
    if (pending === undefined) {
      const batch = new PendingBatch<T, K>([call]);
      this.pending = batch;
      this.schedule(batch);
    } else {
      pending.calls.push(call);
      if (pending.calls.length >= this.maxBatchSize && (this.windowMs > 0 || this.scheduleFn !== undefined)) {
        // Full: later keys start the next batch. A window has nothing left to wait for, so the
        // batch goes after the current promise jobs; a user's scheduler still decides when.
        this.pending = undefined;
        if (this.windowMs > 0) {
          pending.timer?.clear();
          resolved.then(() => this.dispatch(pending));
        }
      }
    }
  }

  private schedule(batch: PendingBatch<T, K>): void {
    if (this.windowMs > 0) {
      batch.timer = this.clock.setTimeout(() => this.dispatch(batch), this.windowMs).ref();
      return;
    }
    if (this.scheduleFn !== undefined) {
      try {
        (0, this.scheduleFn)(() => this.dispatch(batch)); // no receiver, as for every user callback
        return;
      } catch (error) {
        // The user's scheduler threw: its batch still goes out, on the default tick.
        rethrowLater(error);
      }
    }
    // As dataloader: after the current promise jobs, on the next tick.
    resolved.then(() => process.nextTick(() => this.dispatch(batch)));
  }

  private dispatch(batch: PendingBatch<T, K>): void {
    if (batch.dispatched) return;
    batch.dispatched = true;
    batch.timer?.clear();
    batch.timer = undefined;
    if (this.pending === batch) this.pending = undefined;
    const calls = batch.calls.filter((c) => c.state === PENDING);
    const max = this.maxBatchSize;
    if (calls.length <= max) {
      if (calls.length > 0) this.runBatch(calls);
      return;
    }
    for (let i = 0; i < calls.length; i += max) this.runBatch(calls.slice(i, i + max));
  }

  private runBatch(calls: Call<T, K>[]): void {
    const keys = calls.map((c) => c.key as K);
    const run = new BatchRun<T, K>(keys, calls, this.keyOf);
    for (const c of calls) c.batch = run;
    this.host.started(calls);
    if (this.timeoutMs !== Number.POSITIVE_INFINITY) {
      run.timer = this.clock.setTimeout(() => this.timeOut(run), this.timeoutMs).ref();
    }
    const earlyWrite = (key: K, result: T | Error): void => {
      if (run.finished) {
        throw new Error(`${this.displayName}: earlyWrite(${describeValue(key)}) after the batch fetcher finished`);
      }
      this.settleByKey(run, key, result);
    };
    let result: PromiseLike<BatchResult<T, K>> | BatchResult<T, K>;
    try {
      result = this.host.execute(keys, earlyWrite, run);
    } catch (error) {
      result = Promise.reject(error);
    }
    (result instanceof Promise ? result : Promise.resolve(result)).then(
      (r: BatchResult<T, K>) => this.done(run, r),
      (error: unknown) => this.failed(run, error),
    );
  }

  /** One key's result from a batch: a value, or an `Error` meaning that key failed. */
  private settleKey(call: Call<T, K>, result: unknown): void {
    if (call.state === PENDING) this.host.settle(call, !(result instanceof Error), result);
  }

  /** A result given by key (a Map entry or an `earlyWrite`): every call of that key in the batch. */
  private settleByKey(run: BatchRun<T, K>, key: K, result: unknown): void {
    const found = run.lookup(key);
    if (found === undefined) return;
    if (Array.isArray(found)) for (const c of found) this.settleKey(c, result);
    else this.settleKey(found, result);
  }

  private noResult(message: string): ValveError {
    return new ValveError(ERR_BURST_NO_RESULT, `${this.displayName}: ${message}`);
  }

  private done(run: BatchRun<T, K>, result: BatchResult<T, K>): void {
    run.finished = true;
    run.timer?.clear();
    const calls = run.calls;
    if (Array.isArray(result)) {
      if (result.length !== calls.length) {
        const error = this.noResult(`the batch fetcher returned ${result.length} results for ${calls.length} keys`);
        for (const c of calls) this.settleKey(c, error);
        return;
      }
      for (let i = 0; i < calls.length; i++) this.settleKey(calls[i]!, result[i]);
    } else if (result instanceof Map) {
      for (const [key, value] of result) this.settleByKey(run, key, value);
    } else if (result !== undefined) {
      const error = this.noResult(
        `the batch fetcher must return an array, a Map or nothing, got ${describeValue(result)}`,
      );
      for (const c of calls) this.settleKey(c, error);
      return;
    }
    for (const c of calls) {
      if (c.state === PENDING) {
        this.settleKey(c, this.noResult(`the batch fetcher returned no result for key ${describeValue(c.key)}`));
      }
    }
  }

  private failed(run: BatchRun<T, K>, error: unknown): void {
    run.finished = true;
    run.timer?.clear();
    // Exactly the thrown value, even a non-Error (settleKey would treat a non-Error as a value).
    for (const c of run.calls) if (c.state === PENDING) this.host.settle(c, false, error);
  }

  private timeOut(run: BatchRun<T, K>): void {
    run.timer = undefined;
    const error = new TimeoutError(
      `${this.displayName}: the batch of ${run.keys.length} keys timed out after ${this.timeoutMs} ms`,
    );
    for (const c of run.calls) if (c.state === PENDING) this.host.timedOut(c, error);
    run.abort(error);
  }
}
