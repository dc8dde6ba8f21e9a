import { rethrowLater } from '@valve/core';

/**
 * Calls a user callback so that its throw cannot corrupt the controller mid-update: the error is
 * re-thrown on a microtask (core's `rethrowLater`), where it surfaces as an uncaught exception.
 * Two fixed parameters rather than a rest parameter, which would allocate an array per call.
 */
export function safeCall<A, B>(fn: (a: A, b: B) => void, a: A, b: B): void {
  try {
    fn(a, b);
  } catch (error) {
    rethrowLater(error);
  }
}
