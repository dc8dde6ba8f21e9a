import { Admission, type CallerContext, ClosedError, type Permit } from '@valve/core';
import { QuietContext } from './JobScope.js';
import type { Meters } from './meters.js';
import type { Job, JobContext } from './options.js';

const COUNTED = Admission.COUNTED;

/** Ends a started job exactly once; `p` is what the job holds (its permit, its scope, its key). */
export interface Ender<P> {
  end(p: P, failed: boolean): void;
}

/** A context that runs the job as called (the job starts in its own caller's context already). */
export const CURRENT: CallerContext = Object.freeze({
  runInAsyncScope<This, Arg, Result>(fn: (this: This, arg: Arg) => Result, thisArg: This, arg: Arg): Result {
    return fn.call(thisArg, arg);
  },
});

/**
 * Calls `fn(arg)` and returns its outcome as a promise of the caller's own, after
 * `ender.end(p, failed)` has handed the job's hold back: the one copy of "run a started job and
 * end it once" for a job started at its caller's call (the fast path), whose caller nothing but
 * the job's end settles. Errors pass through unchanged, thrown or rejected.
 */
export function runAndReturn<T, P>(fn: Job<T>, arg: JobContext, ender: Ender<P>, p: P): Promise<Awaited<T>> {
  let result: T | PromiseLike<T>;
  try {
    result = fn(arg);
  } catch (error) {
    ender.end(p, true);
    return Promise.reject(error);
  }
  return Promise.resolve(result).then(
    (value) => {
      ender.end(p, false);
      return value;
    },
    (error: unknown) => {
      ender.end(p, true);
      throw error;
    },
  ) as Promise<Awaited<T>>;
}

/**
 * Calls `fn(arg)` in `context` and settles its caller (`resolve`/`reject`) with the outcome, after
 * `ender.end(p, failed)` has handed the job's hold back: the one copy of "run a started job, end it
 * once, then settle its caller" for every job whose caller's promise was made before it started (a
 * queued job, a job with its own scope). Errors pass through unchanged, thrown or rejected.
 */
export function runAndSettle<P>(
  context: CallerContext,
  fn: Job<unknown>,
  arg: JobContext,
  ender: Ender<P>,
  p: P,
  resolve: (value: unknown) => void,
  reject: (error: unknown) => void,
): void {
  let result: unknown;
  try {
    result = context.runInAsyncScope(fn, undefined, arg);
  } catch (error) {
    ender.end(p, true);
    reject(error);
    return;
  }
  Promise.resolve(result).then(
    (value) => {
      ender.end(p, false);
      resolve(value);
    },
    (error) => {
      ender.end(p, true);
      reject(error);
    },
  );
}

/**
 * The jobs a valve started and has not ended, shared by `SafetyValve` and `KeyedValve`: counting
 * them (`admitted`, `completed`, `failed`), ending each exactly once (its slot goes back to the
 * admission), running an admitted job, and `close()`, which resolves once the last one ended.
 *
 * `P` is what an ended job hands back: the admission's permit, unless the valve passes `release`
 * (a keyed valve with per-key shares hands back the key, whose share comes back before the slot).
 */
export class RunningJobs<P = Permit> implements Ender<P> {
  /**
   * Jobs started and not ended. Not the admission's `running`: that one also counts a slot its
   * async loop holds while it waits for the token, before any job started.
   */
  count = 0;
  closed = false;
  /** Aborted by `close()`: every started job's signal follows it. */
  private readonly closing = new AbortController();
  /** The context of jobs that only `close()` can abort (one per valve, see QuietContext). */
  readonly quiet: JobContext = new QuietContext(this.closing.signal);
  /** `close()`'s promise (the same for every call) and its resolver, until nothing runs. */
  private closePromise: Promise<void> | undefined = undefined;
  private closeResolve: (() => void) | undefined = undefined;

  constructor(
    private readonly name: string,
    private readonly admission: Pick<Admission<unknown>, 'leave' | 'close'>,
    private readonly meters: Meters,
    /** Hands `p` back instead of `admission.leave(p)`; it must call `leave` exactly once. */
    private readonly release?: ((p: P, failed: boolean) => void) | undefined,
  ) {}

  /** A job started (from the fast path or the line). */
  started(): void {
    this.meters.admitted.inc();
    this.count++;
  }

  /** Ends a started job and hands its slot back: exactly once per started job. */
  end(p: P, failed: boolean): void {
    this.count--;
    if (failed) this.meters.failed.inc();
    else this.meters.completed.inc();
    const release = this.release;
    if (release === undefined) this.admission.leave(p as Permit, failed);
    else release(p, failed);
    if (this.count === 0 && this.closed) this.resolveClose();
  }

  /** A lease ran out (a `Grant` reclaimed its slot). */
  reclaimed(): void {
    this.meters.reclaimed.inc();
  }

  /**
   * Starts a job admitted with a counted slot (`Admission.COUNTED`) and ends it exactly once, through
   * one `then` with handlers bound once per valve (the caller resumes with the slot already free):
   * the hot path. Written with `then` instead of an async function with `finally`: one promise
   * fewer per call.
   *
   * Why not return `fn`'s own promise with the release registered on it (a microtask less): the
   * release handler would mark that promise handled, so a rejected job whose caller never looks
   * at `run()`'s promise would fail silently instead of raising `unhandledRejection`. The promise
   * returned here is the caller's alone, and rejects unhandled like a direct call would.
   */
  startCounted<T>(fn: Job<T>): Promise<Awaited<T>> {
    this.meters.admitted.inc();
    this.count++;
    let result: T | PromiseLike<T>;
    try {
      result = fn(this.quiet);
    } catch (error) {
      this.end(COUNTED as P, true);
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(this.endPass, this.endRethrow) as Promise<Awaited<T>>;
  }

  private readonly endPass = (value: unknown): unknown => {
    this.end(COUNTED as P, false);
    return value;
  };

  private readonly endRethrow = (error: unknown): never => {
    this.end(COUNTED as P, true);
    throw error;
  };

  /** `startCounted` for a job that holds `p` (a source's permit, weighted slots, a key's share). */
  start<T>(fn: Job<T>, p: P): Promise<Awaited<T>> {
    this.started();
    return runAndReturn(fn, this.quiet, this, p);
  }

  /** Starts a job that waited (in its caller's `context`) and settles its caller. */
  settle(
    context: CallerContext,
    fn: Job<unknown>,
    p: P,
    resolve: (v: unknown) => void,
    reject: (e: unknown) => void,
  ): void {
    runAndSettle(context, fn, this.quiet, this, p, resolve, reject);
  }

  /**
   * The Valve contract's `close()`, idempotent (every call gets the same promise): marks the valve
   * closed, closes the admission, lets the valve `stop` (refuse its waiters, clear its timers, close
   * what it built) with the error running jobs are told, then aborts every started job's signal and
   * removes the valve's metric series. Resolves once no job runs; running jobs finish.
   */
  close(stop: (closedError: ClosedError) => void): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.closed = true;
    this.closePromise = new Promise<void>((resolve) => {
      this.closeResolve = resolve;
    });
    this.admission.close();
    const closedError = new ClosedError(`valve ${this.name} is closed`);
    stop(closedError);
    this.closing.abort(closedError);
    this.meters.series.close();
    if (this.count === 0) this.resolveClose();
    return this.closePromise;
  }

  private resolveClose(): void {
    const resolve = this.closeResolve;
    if (resolve === undefined) return;
    this.closeResolve = undefined;
    resolve();
  }
}
