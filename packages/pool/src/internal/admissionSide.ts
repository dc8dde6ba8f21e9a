import type { Permit } from '@valve/core';
import type { Job } from './Job.js';
import type { QueueItem } from './PoolLine.js';

/**
 * The pool's side of core's Admission, as functions shared by every pool (the Admission `host`
 * option makes `this` the pool): one call target across pools and garbage collections, where
 * per-pool closures made a fresh pool's queued path 2.4x slower after a gc (core's Admission).
 */
interface AdmissionSide {
  startItem(item: QueueItem, permit: Permit): void;
  jobs: { fail(job: Job, error: unknown): void };
  afterDequeue(): void;
}
export function startPoolItem(this: unknown, item: QueueItem, permit: Permit): void {
  (this as AdmissionSide).startItem(item, permit);
}
export function failPoolItem(this: unknown, item: QueueItem, error: unknown): void {
  (this as AdmissionSide).jobs.fail(item as Job, error);
}
export function poolPumped(this: unknown): void {
  (this as AdmissionSide).afterDequeue();
}
