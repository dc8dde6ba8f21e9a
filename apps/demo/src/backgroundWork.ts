/**
 * Request-scoped background work through the shared PromisePool, as the seed's Express pattern:
 * `setup` hands the pool to the request (`res.locals.taskPool`), and once the response has been
 * written the request's background tasks are added and the pool is drained (the smart drain:
 * only the latest caller waits, so a busy server does not pile up one waiter per request).
 *
 * Each request adds two tasks, after its response, never in front of it:
 *   - a metrics write: the request's sample into the HTTP counters and latency histogram;
 *   - an audit record, offered to the `audit` BackpressureController, which inserts records
 *     into `audit_log` in batches (500 per INSERT by default). Batching is what keeps the
 *     background writes from distorting the compared routes: one INSERT per request would double
 *     the database work of every route the load tests compare (issue 10's correction).
 *
 * Bounded on both sides, so background work cannot grow without bound when it falls behind:
 *   - the audit record is `offer()`ed (synchronous, never waits): a full audit buffer (the
 *     database is slow or stalled) drops the record, reported to the controller's `onDrop`
 *     (`valve_demo_audit_dropped_total`), and the pool task ends at once instead of holding a
 *     worker while more tasks queue behind it;
 *   - when the pool refuses the work (its `maxQueued` option, POOL_MAX_QUEUED: `add()` throws
 *     `QueueFullError`), the request's background work is skipped (`onRefused('queue_full')`,
 *     `valve_demo_background_refused_total{reason="queue_full"}`) and only its metrics sample is
 *     recorded inline (cheap, so /metrics stays complete), so shutdown's `pool.done()` stays short.
 *
 * At shutdown the pool's `done()` runs every task it took before the audit buffer is drained.
 */
import type { BackpressureController } from '@valve/backpressure';
import { isValveError } from '@valve/core';
import type { PromisePool } from '@valve/pool';
import type { RequestHandler } from 'express';
import type { AuditRecord } from './db/index.js';
import { HttpMetrics } from './httpMetrics.js';

/** Why a finished request's background work was not added to the pool. */
export type BackgroundRefusal = 'closed' | 'queue_full';

export interface BackgroundDeps {
  pool: PromisePool;
  audit: BackpressureController<AuditRecord>;
  httpMetrics: HttpMetrics;
  /** Called when a finished request's work was not added: the pool is closed, or its queue is full. */
  onRefused: (reason: BackgroundRefusal) => void;
}

const noop = () => {};

export function backgroundWork({ pool, audit, httpMetrics, onRefused }: BackgroundDeps): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.locals.taskPool = pool;
    res.once('finish', () => {
      // Taken now, while req.route and the status are this request's.
      const sample = HttpMetrics.sample(req, res, start);
      if (pool.isClosed) {
        onRefused('closed');
        return;
      }
      const record: AuditRecord = {
        method: sample.method,
        route: sample.route,
        status: sample.status,
        durationMs: sample.durationMs,
        at: Date.now(),
      };
      try {
        pool.add(
          // A refusal (full buffer) is reported to the audit controller's onDrop and counted there.
          () => {
            audit.offer(record);
          },
          () => httpMetrics.record(sample),
        );
      } catch (error) {
        if (!isValveError(error, 'ERR_VALVE_QUEUE_FULL')) throw error;
        // The pool's maxQueued: add() stops at the first task that does not fit, so the metrics
        // task (the second) never got in; its sample is recorded here.
        httpMetrics.record(sample);
        onRefused('queue_full');
        return;
      }
      // The seed's cleanup step; nothing to do with the summary (failures went to onError).
      pool.drain().then(noop, noop);
    });
    next();
  };
}
