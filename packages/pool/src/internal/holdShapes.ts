import type { Task } from '../options.js';

/** The part of a pool `holdShapes` uses (structural: this file must not import PromisePool). */
export interface ShapesPool {
  pause(): void;
  drain(): Promise<unknown>;
  add(...tasks: Task[]): number;
  run(task: Task, options?: { timeoutMs?: number }): Promise<unknown>;
}

/**
 * Keeps the hidden classes of the hot path alive for as long as this module is loaded.
 *
 * V8 holds an object's hidden class ("map") only while some object of that class is alive, and
 * throws away optimized code that checked a map once a major GC frees it (`--trace-deopt`: "weak
 * objects"). The queue's run records exist only while tasks wait, so every major GC at a moment
 * when no pool had a queued task (pools idle, or short-lived pools all gone) freed their class and
 * deoptimized `add`, the pump and the queue; the next tasks then ran unoptimized until V8
 * recompiled them: `add()` of 10^5 queued tasks took 2-3x as long after such a GC. `pool`, paused
 * and never started, is given one queued task of each kind, so it holds one of each object the hot
 * paths touch: the pool, its cohort, a queue level with its rings, a run record tagged with a
 * cohort, a plain `run()`'s record and a `Job`. It costs about 3 KB per loaded copy of the module.
 * Held tasks never start, so the running-task context of `taskTimeoutMs` pools is not covered.
 *
 * Still needed after the rebuild on core's Admission (issue 14 asked for it to go or to prove its
 * worth). Measured 2026-12-04, both builds in one process, interleaved, `gc()` before each cold
 * burst of 10^5 queued `add()`s at maxWorkers 1 (median of 12, two runs, load average 15): 3.2 µs
 * per task with the held pool, 4.6 µs without. It stays in the pool, not in core's Admission: the
 * shapes it holds (QueuedRun, Job, Cohort, PoolLine's levels) are the pool's own.
 */
export function holdShapes<P extends ShapesPool>(pool: P, ran: P): P[] {
  const noop: Task = () => undefined;
  pool.pause();
  pool.add(noop);
  void pool.run(noop);
  void pool.run(noop, { timeoutMs: 1 });
  // A second pool that queued and ran plain tasks to the end (on microtasks after the module
  // loads): it holds what only a pool that has worked holds (its admission's subscriptions, grown
  // rings, spent cohorts). Measured 2026-12-04 after the Admission rebuild: with only the paused
  // pool held, a fresh pool's queued add() after a gc() cost 2.4x (696 vs 289 ns per task at
  // maxWorkers 1, 30 rounds of 2*10^4); holding a pool that has run brought it back (339 ns).
  const resolved: Task = () => Promise.resolve();
  ran.add(resolved, resolved, resolved);
  void ran.run(resolved);
  return [pool, ran];
}
