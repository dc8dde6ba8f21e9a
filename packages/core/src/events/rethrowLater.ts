/**
 * Re-throws a user callback's error on a microtask, never in the caller.
 *
 * A valve calls user code (listeners, `onError`, `onDrop`, ...) in the middle of its own state
 * changes; a throw there must neither corrupt that state nor be swallowed. Thrown on a microtask
 * it surfaces as an uncaught exception (`process.on('uncaughtException')`), where the user sees it.
 */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
