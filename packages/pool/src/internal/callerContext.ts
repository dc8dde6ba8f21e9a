import { AsyncResource } from 'node:async_hooks';

/**
 * The caller's async context (AsyncLocalStorage stores, async_hooks), captured when a task has to
 * wait: a queued task is started later by whichever task freed its slot, and would otherwise run
 * in that task's context (issue 14 defect 1: request-scoped logs and tenant data of another
 * request). Only the queued path pays for it; a task started at once runs in its caller's context
 * anyway. `new AsyncResource` + `runInAsyncScope` measured ~0.24 µs per task on Node 20;
 * `AsyncResource.bind` and `AsyncLocalStorage.snapshot` were orders of magnitude slower there.
 */
export function captureContext(): AsyncResource {
  return new AsyncResource('ValveQueued');
}
