import type { Clock } from '@valve/core';

/**
 * `promise`, or a rejection with `onTimeout()`'s error if it has not settled `ms` later on
 * `clock`. The timer is ref'd only when `ref` is set: when a caller waits on the outcome, the
 * process must not exit under it; a background check keeps nothing alive.
 */
export function withTimeout<T>(
  clock: Clock,
  ms: number,
  promise: Promise<T>,
  onTimeout: () => unknown,
  ref: boolean,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(onTimeout()), ms);
    if (ref) timer.ref();
    promise.then(
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
