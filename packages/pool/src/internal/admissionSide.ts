import type { Permit } from '@valve/core';
import { type Job, QueuedRun } from './Job.js';
import { type PlainHost, startPlain, startQueuedRun } from './PlainPath.js';
import type { PoolLine, QueueItem } from './PoolLine.js';

/**
 * The pool's side of core's Admission, as functions shared by every pool (the Admission `host`
 * option makes `this` the pool): one call target across pools and garbage collections, where
 * per-pool closures made a fresh pool's queued path 2.4x slower after a gc (core's Admission).
 * `startPoolItem` dispatches itself instead of calling a pool method: one call level less per
 * queued task, which a fresh process pays until V8 optimizes the path (issue 14's cold burst).
 */
interface AdmissionSide extends PlainHost {
  readonly line: PoolLine;
  readonly jobs: { start(job: Job, permit: Permit): void; fail(job: Job, error: unknown): void };
  afterDequeue(): void;
}
export function startPoolItem(this: unknown, item: QueueItem, permit: Permit): void {
  const pool = this as AdmissionSide;
  if (typeof item === 'function') startPlain(pool, item, pool.line.lastTag!, true);
  else if (item instanceof QueuedRun) startQueuedRun(pool, item, pool.line.lastTag!);
  else pool.jobs.start(item, permit);
}
export function failPoolItem(this: unknown, item: QueueItem, error: unknown): void {
  (this as AdmissionSide).jobs.fail(item as Job, error);
}
export function poolPumped(this: unknown): void {
  (this as AdmissionSide).afterDequeue();
}
