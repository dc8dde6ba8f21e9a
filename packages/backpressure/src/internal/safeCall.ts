/**
 * Calls a user callback so that its throw cannot corrupt the controller mid-update: the error is
 * re-thrown on a microtask, where it surfaces as an uncaught exception (as core's Emitter does).
 */
export function safeCall<A extends unknown[]>(fn: (...args: A) => void, ...args: A): void {
  try {
    fn(...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
