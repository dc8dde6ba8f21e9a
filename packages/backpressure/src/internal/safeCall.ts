/**
 * Calls a user callback so that its throw cannot corrupt the controller mid-update: the error is
 * re-thrown on a microtask, where it surfaces as an uncaught exception (as core's Emitter does).
 * Two fixed parameters rather than a rest parameter, which would allocate an array per call.
 */
export function safeCall<A, B>(fn: (a: A, b: B) => void, a: A, b: B): void {
  try {
    fn(a, b);
  } catch (error) {
    rethrowLater(error);
  }
}

/** Re-throws `error` on a microtask (an uncaught exception there), never in the caller. */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
