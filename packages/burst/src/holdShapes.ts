/** The part of a valve `holdShapes` uses (structural: this file must not import BurstValve). */
export interface ShapesValve {
  fetch(key?: number, options?: { signal?: AbortSignal }): Promise<unknown>;
}

/**
 * Keeps the hidden classes of the hot path alive for as long as this module is loaded.
 *
 * V8 holds an object's hidden class ("map") only while some object of that class is alive, and
 * throws away optimized code that checked a map once a major GC frees it (`--trace-deopt`:
 * "weak objects"). A valve's calls exist only while in flight, and a short-lived valve takes its
 * own classes (the valve, its counters, its waiters) with it, so every major GC at a moment when
 * nothing was in flight deoptimized `fetch`, `start`, `Call`, the settle path and the counters;
 * the next calls ran unoptimized until V8 recompiled them. `valve` is given a call that never
 * settles, a caller that joins it, and a caller that waits on it with a signal: it holds one of
 * each object the hot paths touch (the valve and its parts, a `Call`, a `Waiter`, core's
 * `SignalGroup`). It costs about 2 KB per loaded copy of the module. The same trick as the pool's
 * (`packages/pool/src/internal/holdShapes.ts`); the measurement that keeps it is in the README.
 */
export function holdShapes<V extends ShapesValve>(valve: V): V {
  void valve.fetch(1);
  void valve.fetch(1);
  void valve.fetch(1, { signal: new AbortController().signal });
  return valve;
}
