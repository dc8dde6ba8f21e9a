/**
 * Request-scoped background work through the shared PromisePool, as the seed's Express pattern:
 * `setup` hands the pool to the request (`res.locals.taskPool`), and once the response has been
 * written the request's background tasks are added and the pool is drained (the smart drain:
 * only the latest caller waits, so a busy server does not pile up one waiter per request).
 *
 * Each request adds two tasks, after its response, never in front of it:
 *   - a metrics write: the request's sample into the HTTP counters and latency histogram;
 *   - an audit record, pushed into the `audit` BackpressureController, which inserts records
 *     into `audit_log` in batches (500 per INSERT by default). Batching is what keeps the
 *     background writes from distorting the compared routes: one INSERT per request would double
 *     the database work of every route the load tests compare (issue 10's correction).
 *
 * A full audit buffer makes the push wait (`AUDIT_MAX_BLOCK_MS`), then the task fails: counted in
 * `valve_pool_failed_total{valve="background"}`, never an unhandled rejection. At shutdown the
 * pool's `done()` runs every task it took before the audit buffer is drained.
 */
import type { BackpressureController } from '@valve/backpressure';
import type { PromisePool } from '@valve/pool';
import type { RequestHandler } from 'express';
import type { AuditRecord } from './db/index.js';
import { HttpMetrics } from './httpMetrics.js';

export interface BackgroundDeps {
  pool: PromisePool;
  audit: BackpressureController<AuditRecord>;
  httpMetrics: HttpMetrics;
  /** Called when a finished request's work could not be added (the pool is closed). */
  onRefused: () => void;
}

const noop = () => {};

export class AuditBufferFullError extends Error {
  override readonly name = 'AuditBufferFullError';
}

export function backgroundWork({ pool, audit, httpMetrics, onRefused }: BackgroundDeps): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.locals.taskPool = pool;
    res.once('finish', () => {
      // Taken now, while req.route and the status are this request's.
      const sample = HttpMetrics.sample(req, res, start);
      if (pool.isClosed) {
        onRefused();
        return;
      }
      const record: AuditRecord = {
        method: sample.method,
        route: sample.route,
        status: sample.status,
        durationMs: sample.durationMs,
        at: Date.now(),
      };
      pool.add(
        () => httpMetrics.record(sample),
        async () => {
          if (!(await audit.push(record))) {
            throw new AuditBufferFullError('the audit buffer stayed full; one audit record was not written');
          }
        },
      );
      // The seed's cleanup step; nothing to do with the summary (failures went to onError).
      pool.drain().then(noop, noop);
    });
    next();
  };
}
