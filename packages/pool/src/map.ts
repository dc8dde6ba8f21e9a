import { abortReason, rejectUnknownOptions, validateInteger, validateObject, validateSignal } from '@valve/core';

export interface MapOptions {
  /** Items processed at once: an integer >= 1 or Infinity. @default 4 */
  maxWorkers?: number;
  /** The same limit under p-map's name (give one of the two). */
  concurrency?: number;
  /** Aborting stops starting items and rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Called once per item; `signal` aborts when the map is aborted or (for `map`) an item failed. */
export type MapTask<T, R> = (item: T, index: number, context: { signal: AbortSignal }) => R | PromiseLike<R>;

interface Options {
  maxWorkers: number;
  signal: AbortSignal | undefined;
}

const MAP_OPTIONS = ['maxWorkers', 'concurrency', 'signal'] as const;

function parse(options: MapOptions | undefined): Options {
  if (options === undefined) return { maxWorkers: 4, signal: undefined };
  validateObject(options, 'options');
  rejectUnknownOptions(options, 'options', MAP_OPTIONS);
  return {
    maxWorkers: workersOption(options),
    signal: validateSignal(options.signal, 'signal'),
  };
}

/**
 * The item limit of `map`, `mapSettled` and `mapIterable`, under either name: the pool's
 * `maxWorkers` or p-map's `concurrency` (users come from both). Both given is a `TypeError`, even
 * when equal, so a typo'd merge of two option objects is not silently resolved. Default 4.
 */
export function workersOption(options: { maxWorkers?: number; concurrency?: number }): number {
  const { maxWorkers, concurrency } = options;
  if (maxWorkers !== undefined && concurrency !== undefined) {
    throw new TypeError(
      `options.maxWorkers (${String(maxWorkers)}) and options.concurrency (${String(concurrency)}) name the same limit: give one`,
    );
  }
  if (concurrency !== undefined) return validateInteger(concurrency, 'concurrency', { min: 1, allowInfinity: true });
  return validateInteger(maxWorkers ?? 4, 'maxWorkers', { min: 1, allowInfinity: true });
}

/**
 * `maxWorkers` loops, each taking the next index until none is left: no queue, no record per
 * item, results written into a preallocated array. Each loop awaits, so synchronous `fn`s
 * cannot grow the stack. `settled` decides what a failure does: reject everything (`map`, after
 * aborting the shared signal so running items can stop) or be recorded (`mapSettled`).
 */
function runMap<T, R, Out>(
  itemsIn: Iterable<T>,
  fn: MapTask<T, R>,
  options: MapOptions | undefined,
  settled: boolean,
): Promise<Out[]> {
  if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${typeof fn}`);
  const { maxWorkers, signal } = parse(options);
  const items = Array.isArray(itemsIn) ? (itemsIn as T[]) : Array.from(itemsIn);
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const n = items.length;
  const results = new Array<Out>(n);
  if (n === 0) return Promise.resolve(results);
  const controller = new AbortController();
  const context = { signal: controller.signal };
  let next = 0;
  let stopped = false;

  return new Promise<Out[]>((resolve, reject) => {
    const onAbort = () => stop(abortReason(signal!));
    const stop = (error: unknown) => {
      if (stopped) return;
      stopped = true;
      signal?.removeEventListener('abort', onAbort);
      controller.abort(error);
      reject(error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let running = 0;
    const worker = async () => {
      running++;
      while (!stopped && next < n) {
        const i = next++;
        try {
          const value = await fn(items[i]!, i, context);
          results[i] = (settled ? { status: 'fulfilled', value } : value) as Out;
        } catch (reason) {
          if (!settled) stop(reason);
          else results[i] = { status: 'rejected', reason } as Out;
        }
      }
      if (--running === 0 && !stopped) {
        stopped = true;
        signal?.removeEventListener('abort', onAbort);
        resolve(results);
      }
    };
    const workers = Math.min(maxWorkers, n);
    for (let w = 0; w < workers; w++) void worker();
  });
}

export function mapItems<T, R>(items: Iterable<T>, fn: MapTask<T, R>, options?: MapOptions): Promise<R[]> {
  return runMap<T, R, R>(items, fn, options, false);
}

export function mapItemsSettled<T, R>(
  items: Iterable<T>,
  fn: MapTask<T, R>,
  options?: MapOptions,
): Promise<PromiseSettledResult<R>[]> {
  return runMap<T, R, PromiseSettledResult<R>>(items, fn, options, true);
}
