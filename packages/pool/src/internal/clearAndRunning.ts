import { type SignalGroups, ValveError } from '@valve/core';
import type { RunningTask } from '../options.js';
import { DONE, Job } from './Job.js';
import type { PoolLedger } from './PoolLedger.js';
import type { PoolLine } from './PoolLine.js';

/**
 * What a `run()` whose task was removed by `pool.clear()` rejects with: code
 * `ERR_VALVE_CLEARED`, reason `shutdown` (the pool refused to run it; it is counted in
 * `stats().rejectedByReason.shutdown`). The pool itself stays open.
 */
export class PoolClearedError extends ValveError {
  constructor(message = 'the pool was cleared') {
    super('ERR_VALVE_CLEARED', message, { reason: 'shutdown' });
  }
}

/** `runningTasks`: a fresh snapshot of the running jobs, oldest first. */
export function runningSnapshot(running: Set<Job>, now: number): RunningTask[] {
  const out: RunningTask[] = [];
  for (const job of running) {
    out.push({
      startedAt: job.startedAt,
      runningMs: now - job.startedAt,
      priority: job.priority,
      meta: job.meta,
      attempt: job.attempt,
    });
  }
  return out;
}

/**
 * `clear()`: every waiting task leaves the line, counted as refused (`shutdown`) and settled for
 * its drain; a `run()` caller's promise rejects with a {@link PoolClearedError}. The pool then
 * tells its admission and waits (the caller's part).
 */
export function clearLine(line: PoolLine, ledger: PoolLedger, signals: SignalGroups<Job>, name: string): void {
  const error = new PoolClearedError(`the pool "${name}" was cleared: ${line.size} waiting task(s) removed`);
  line.drain((item, cohort) => {
    if (item instanceof Job) {
      item.state = DONE;
      if (item.signalGroup !== undefined) signals.remove(item);
      item.context = undefined;
    }
    ledger.refusedQueued(cohort, error, 'cleared');
    if (typeof item !== 'function') item.reject?.(error);
  });
}
