import { type Clock, describeValue, TimeoutError, ValveError } from '@valve/core';
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

/**
 * Batch mode: every call started in one tick (through any method) goes into one batch fetcher
 * call, scheduled like dataloader's (after the current promise jobs, on the next tick), split into
 * batches of at most `maxBatchSize` keys. Keys whose every caller gave up before dispatch are not
 * fetched. A batch's results (an array, a Map, `earlyWrite`s, or nothing) settle its keys; a key
 * left without a result rejects with `ERR_VALVE_BURST_NO_RESULT`.
 */
export class BatchScheduler<T, K> {
  /** Calls started this tick, not yet handed to the batch fetcher. */
  private pending: Call<T, K>[] | undefined = undefined;

  constructor(
    private readonly host: BatchHost<T, K>,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly maxBatchSize: number,
    private readonly keyOf: ((key: K) => unknown) | undefined,
    private readonly displayName: string,
  ) {}

  /** Batch keys waiting for this tick's dispatch (not given up). */
  get queued(): number {
    let n = 0;
    if (this.pending !== undefined) for (const c of this.pending) if (c.state === PENDING) n++;
    return n;
  }

  /** Queues a new call for this tick's batch; its promise is settled by the batch's result. */
  enqueue(call: Call<T, K>): void {
    call.promise = promiseInto<T>(call);
    if (this.pending === undefined) {
      this.pending = [call];
      resolved.then(() => process.nextTick(this.dispatch));
    } else {
      this.pending.push(call);
    }
  }

  private readonly dispatch = (): void => {
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) return;
    const calls = pending.filter((c) => c.state === PENDING);
    const max = this.maxBatchSize;
    if (calls.length <= max) {
      if (calls.length > 0) this.runBatch(calls);
      return;
    }
    for (let i = 0; i < calls.length; i += max) this.runBatch(calls.slice(i, i + max));
  };

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
      const c = run.lookup(key);
      if (c !== undefined) this.settleKey(c, result);
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
      for (const [key, value] of result) {
        const c = run.lookup(key);
        if (c !== undefined) this.settleKey(c, value);
      }
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
