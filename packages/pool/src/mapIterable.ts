import {
  abortReason,
  RingBuffer,
  rejectUnknownOptions,
  validateBoolean,
  validateInteger,
  validateObject,
  validateSignal,
} from '@valve/core';
import { type MapTask, workersOption } from './map.js';

export interface MapIterableOptions {
  /** Items processed at once: an integer >= 1 or Infinity. @default 4 */
  concurrency?: number;
  /** The same limit under the pool's name (give one of the two). */
  maxWorkers?: number;
  /**
   * Finished results held for a slow consumer beyond `concurrency` (an integer >= 0): the source
   * is never pulled more than `concurrency + buffer` items ahead of what was yielded.
   * @default concurrency (0 when concurrency is Infinity)
   */
  buffer?: number;
  /** `true`: results in input order; `false`: as they complete. @default true */
  ordered?: boolean;
  /** Aborting stops the map: the source is closed and the iterator throws `signal.reason`. */
  signal?: AbortSignal;
}

const MAP_ITERABLE_OPTIONS = ['concurrency', 'maxWorkers', 'buffer', 'ordered', 'signal'] as const;

type Slot<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * `PromisePool.mapIterable`: an async iterator over `fn`'s results for a sync or async iterable.
 *
 * Back pressure: the source is pulled one item at a time, only while fewer than `concurrency`
 * items run and fewer than `concurrency + buffer` were pulled and not yet yielded. The first
 * failure (of `fn`, or of the source) is thrown by `next()` once the results before it (in
 * order) were yielded; the source is then closed (`return()`), running items see their signal
 * abort, and nothing more is pulled. A consumer's `break` does the same.
 */
export function mapIterable<T, R>(
  source: AsyncIterable<T> | Iterable<T>,
  fn: MapTask<T, R>,
  options?: MapIterableOptions,
): AsyncIterableIterator<R> {
  if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${typeof fn}`);
  let concurrency = 4;
  let ordered = true;
  let signal: AbortSignal | undefined;
  let buffer: number | undefined;
  if (options !== undefined) {
    validateObject(options, 'options');
    rejectUnknownOptions(options, 'options', MAP_ITERABLE_OPTIONS);
    concurrency = workersOption(options);
    ordered = options.ordered === undefined ? true : validateBoolean(options.ordered, 'ordered');
    signal = validateSignal(options.signal, 'signal');
    if (options.buffer !== undefined) buffer = validateInteger(options.buffer, 'buffer', { min: 0 });
  }
  const ahead = concurrency + (buffer ?? (Number.isFinite(concurrency) ? concurrency : 0));
  let it: AsyncIterator<T> | Iterator<T>;
  if (source != null && typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] === 'function') {
    it = (source as AsyncIterable<T>)[Symbol.asyncIterator]();
  } else if (source != null && typeof (source as Iterable<T>)[Symbol.iterator] === 'function') {
    it = (source as Iterable<T>)[Symbol.iterator]();
  } else {
    throw new TypeError('mapIterable(): items must be an iterable or an async iterable');
  }
  return run(it, fn, concurrency, ahead, ordered, signal);
}

async function* run<T, R>(
  it: AsyncIterator<T> | Iterator<T>,
  fn: MapTask<T, R>,
  concurrency: number,
  ahead: number,
  ordered: boolean,
  signal: AbortSignal | undefined,
): AsyncGenerator<R> {
  const controller = new AbortController();
  const context = { signal: controller.signal };
  /** Finished results: by index when ordered, in completion order otherwise. */
  const done = new Map<number, Slot<R>>();
  const completion = new RingBuffer<Slot<R>>(); // a FIFO: O(1) shift, never Array#shift
  let nextIndex = 0; // the next index to pull
  let yieldIndex = 0; // ordered: the next index to yield
  let running = 0;
  let outstanding = 0; // pulled, not yet yielded
  let pulling = false;
  let exhausted = false;
  let sourceError: Slot<R> | undefined;
  /** An item failed: nothing more is pulled. */
  let failed = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onAbort = () => {
    sourceError ??= { ok: false, error: abortReason(signal!) };
    notify();
  };
  if (signal?.aborted) throw abortReason(signal);
  signal?.addEventListener('abort', onAbort, { once: true });

  const settle = (index: number, slot: Slot<R>) => {
    running--;
    if (!slot.ok) failed = true;
    if (ordered) done.set(index, slot);
    else completion.push(slot);
    pull();
    notify();
  };
  const start = (item: T, index: number) => {
    running++;
    let result: R | PromiseLike<R>;
    try {
      result = fn(item, index, context);
    } catch (error) {
      // Settled on a microtask, as a rejection would be.
      queueMicrotask(() => settle(index, { ok: false, error }));
      return;
    }
    Promise.resolve(result).then(
      (value) => settle(index, { ok: true, value }),
      (error) => settle(index, { ok: false, error }),
    );
  };
  const pull = () => {
    if (pulling || exhausted || failed || sourceError !== undefined || controller.signal.aborted) return;
    if (running >= concurrency || outstanding >= ahead) return;
    pulling = true;
    let step: IteratorResult<T> | Promise<IteratorResult<T>>;
    try {
      step = it.next();
    } catch (error) {
      pulling = false;
      exhausted = true;
      sourceError = { ok: false, error };
      notify();
      return;
    }
    Promise.resolve(step).then(
      (r) => {
        pulling = false;
        if (r.done) exhausted = true;
        else if (!controller.signal.aborted) {
          outstanding++;
          start(r.value, nextIndex++);
        }
        pull();
        notify();
      },
      (error) => {
        pulling = false;
        exhausted = true; // a source that threw is not closed again
        sourceError ??= { ok: false, error };
        notify();
      },
    );
  };

  try {
    pull();
    for (;;) {
      let slot: Slot<R> | undefined;
      if (ordered) {
        slot = done.get(yieldIndex);
        if (slot !== undefined) {
          done.delete(yieldIndex);
          yieldIndex++;
        }
      } else {
        slot = completion.shift();
      }
      if (slot !== undefined) {
        if (!slot.ok) throw slot.error;
        outstanding--;
        pull();
        yield slot.value;
        continue;
      }
      if (sourceError !== undefined) throw (sourceError as { error: unknown }).error;
      if (exhausted && running === 0 && !pulling) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    controller.abort(new Error('mapIterable stopped'));
    if (!exhausted) {
      exhausted = true;
      await it.return?.();
    }
  }
}
