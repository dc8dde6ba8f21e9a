/**
 * Constructs the demo's valves, all registering their metrics in one shared MetricsRegistry
 * (so /metrics has one HELP/TYPE per family and a `valve="…"` label per valve).
 *
 * Order of the customer valves (the seed's point: coalesce first, then admit):
 *
 *   GET /customers/:id  ->  BurstValve "customers".fetch(id)  ->  fetcher  ->  SafetyValve "db".run(query)
 *
 * Concurrent requests for one id share one fetcher call, and only that call asks the SafetyValve
 * for a database slot, so a hot key costs one slot however many requests wait on it. A refusal
 * inside the shared fetch (queue full, deadline) rejects every coalesced caller with the same
 * ValveError, which the route answers with 503. The `/unprotected` routes use their own
 * BurstValves whose fetchers skip the SafetyValve, so the load tests compare like with like.
 */
import { BackpressureController, type FlushResult } from '@valve/backpressure';
import { BurstValve } from '@valve/burst';
import type { MetricsRegistry } from '@valve/core';
import { PromisePool } from '@valve/pool';
import { RedisSemaphore, RedisTokenBucket } from '@valve/redis';
import { SafetyValve, type SafetyValveOptions } from '@valve/safety';
import type { Redis } from 'ioredis';
import type { DemoConfig } from './config.js';
import type { AuditRecord, Database, NewEvent } from './db/index.js';
import type { CustomerLoader } from './routes/customers.js';
import { insertIsolatingFailures } from './isolateFailures.js';
import { previewJson } from './previewJson.js';

export interface Valves {
  /** Admission to the database: every query of a protected route runs inside it. */
  safety: SafetyValve;
  /** One database query per customer id in flight, admitted by `safety`. */
  customers: BurstValve<string | undefined, number>;
  /** The same around the cache read-through; only cache misses ask `safety`. */
  cachedCustomers: BurstValve<string | undefined, number>;
  /** `customers` for `/unprotected/customers/:id`: the fetcher goes straight to the database. */
  unprotectedCustomers: BurstValve<string | undefined, number>;
  /** `cachedCustomers` for `/unprotected/cached/customers/:id`. */
  unprotectedCachedCustomers: BurstValve<string | undefined, number>;
  /** `POST /events`: buffered, then batch-inserted. */
  events: BackpressureController<NewEvent>;
  /** Audit records from the background work: buffered, then batch-inserted into `audit_log`. */
  audit: BackpressureController<AuditRecord>;
  /** Request-scoped background work (a metrics write and an audit record per request). */
  pool: PromisePool;
  /**
   * Settles everything accepted: the pool runs every task it took (each audit record reaches
   * the audit buffer), then both controllers insert everything buffered; then the valves close.
   */
  close(): Promise<void>;
}

export interface ValveDeps {
  config: DemoConfig;
  metrics: MetricsRegistry;
  db: Database;
  /** Straight to the database. */
  direct: CustomerLoader;
  /** Cache first, then `direct` on a miss. */
  cached: CustomerLoader;
  /** Cache first, then `direct` inside the SafetyValve on a miss (built from the valve). */
  guardedCached: (safety: SafetyValve) => CustomerLoader;
  log: (line: string) => void;
  /** With DEMO_PROCESSES > 1 or SAFETY_LIMITS=redis: the Redis client the shared limits run on (see {@link safetyLimits}). */
  shared?: Redis;
}

export function createValves({ config, metrics, db, direct, cached, guardedCached, log, shared }: ValveDeps): Valves {
  const limits = safetyLimits(config, shared);
  const safety = new SafetyValve({
    name: 'db',
    ...limits.options,
    size: config.safetyQueueSize,
    // A waiter that cannot start within the deadline gets a 503 instead of a slow answer.
    queue: config.safetyQueue,
    deadlineMs: config.safetyDeadlineMs,
    metrics,
  });

  const customer = (name: string, fetch: CustomerLoader) =>
    new BurstValve<string | undefined, number>({ name, fetch: (id) => fetch(id!), metrics });
  const customers = customer('customers', (id) => safety.run(() => direct(id)));
  const cachedCustomers = customer('cached_customers', guardedCached(safety));
  const unprotectedCustomers = customer('customers_unprotected', direct);
  const unprotectedCachedCustomers = customer('cached_customers_unprotected', cached);

  interface Sizes {
    bufferSize: number;
    batchSize: number;
    maxBlockMs: number;
  }
  const controller = <T>(
    name: string,
    what: string,
    sizes: Sizes,
    flush: (batch: T[]) => Promise<FlushResult<T> | undefined | void>,
    onDrop?: (items: readonly T[]) => void,
  ) => {
    const deadLettered = metrics.counter({
      name: `valve_demo_${name}_dead_lettered_total`,
      help: `Accepted ${what} that could not be inserted after every retry (reported in the log).`,
    });
    const bp = new BackpressureController<T>(flush, {
      name,
      maxBufferSize: sizes.bufferSize,
      batchSize: sizes.batchSize,
      // 'block' with a short wait: a full buffer refuses (503 for POST /events) after the wait,
      // instead of evicting items that were already accepted. The audit records are offer()ed,
      // where 'block' acts as 'drop_newest': a full buffer refuses at once (onDrop).
      strategy: 'block',
      maxBlockTimeMs: sizes.maxBlockMs,
      // A partial batch waits at most 50 ms; a backlog flushes back to back regardless.
      minFlushIntervalMs: 50,
      maxFlushIntervalMs: 1000,
      flushConcurrency: config.flushConcurrency,
      retry: { retries: 5, minTimeout: 100, maxTimeout: 2000 },
      metrics,
      onDrop,
      onDeadLetter: (items, error) => {
        deadLettered.inc(items.length);
        log(
          `${name}: ${items.length} accepted ${what} could not be inserted after retries: ${error.message}; ` +
            `first: ${previewJson(items[0])}`,
        );
      },
    });
    bp.start();
    return bp;
  };
  const events = controller<NewEvent>(
    'events',
    'events',
    { bufferSize: config.eventsBufferSize, batchSize: config.eventsBatchSize, maxBlockMs: config.eventsMaxBlockMs },
    // Only a bad event is dead-lettered, not the acknowledged events batched with it.
    (batch) => insertIsolatingFailures(batch, (rows) => db.insertEvents(rows)),
  );
  const auditDropped = metrics.counter({
    name: 'valve_demo_audit_dropped_total',
    help: 'Audit records not buffered because the audit buffer was full (the database fell behind) or closed.',
  });
  let auditDropsLogged = 0;
  const audit = controller<AuditRecord>(
    'audit',
    'audit records',
    // offer() never waits, so the block time does not apply.
    { bufferSize: config.auditBufferSize, batchSize: config.auditBatchSize, maxBlockMs: 0 },
    (batch) => db.insertAudit(batch),
    (items) => {
      auditDropped.inc(items.length);
      if (auditDropsLogged++ < 5) log(`audit: the buffer is full; ${items.length} audit record(s) dropped`);
    },
  );

  let poolErrorsLogged = 0;
  const pool = new PromisePool({
    name: 'background',
    maxWorkers: config.poolMaxWorkers,
    // The pool's own queue bound (POOL_MAX_QUEUED): add() throws QueueFullError beyond it, and the
    // request's background work is skipped and counted (backgroundWork.ts).
    maxQueued: config.poolMaxQueued,
    metrics,
    // Failures are counted (valve_pool_failed_total{valve="background"}); the first few are
    // logged so a broken background path is visible without flooding the log under load.
    onError: (error) => {
      if (poolErrorsLogged++ < 5) log(`background task failed: ${(error as Error)?.message ?? String(error)}`);
    },
  });

  return {
    safety,
    customers,
    cachedCustomers,
    unprotectedCustomers,
    unprotectedCachedCustomers,
    events,
    audit,
    pool,
    async close() {
      // done(): every task the pool took runs (so every audit record is pushed), then no more.
      await pool.done();
      // drain: true flushes every accepted item before stopping; nothing is dropped.
      await Promise.all([events.stop({ drain: true }), audit.stop({ drain: true })]);
      await safety.close();
      await limits.close();
    },
  };
}

/**
 * The SafetyValve's concurrency cap (SAFETY_CONCURRENCY) and rate (SAFETY_RATE per second): in
 * this process, or, with a Redis client (DEMO_PROCESSES > 1 or SAFETY_LIMITS=redis), one RedisSemaphore and one
 * RedisTokenBucket named `demo-db` that every process shares, so N processes together start at
 * most SAFETY_CONCURRENCY queries at once and SAFETY_RATE per second. Fail-closed: if Redis
 * cannot answer, the valve refuses (503) rather than let N processes each admit the full limit.
 */
function safetyLimits(
  config: DemoConfig,
  shared: Redis | undefined,
): {
  options: Pick<SafetyValveOptions, 'concurrency' | 'rate' | 'hz' | 'tokenLimit' | 'rateSource' | 'concurrencySource'>;
  close(): Promise<void>;
} {
  const rate = config.safetyRate;
  if (shared === undefined) {
    const local = rate === undefined ? {} : { rate, hz: 1000, tokenLimit: rate };
    return { options: { concurrency: config.safetyConcurrency, ...local }, close: async () => {} };
  }
  const common = {
    redis: shared,
    prefix: `valve:${config.tablePrefix}`,
    name: 'demo-db',
    redisErrorPolicy: 'fail-closed',
  } as const;
  const concurrencySource = new RedisSemaphore({ ...common, limit: config.safetyConcurrency, leaseMs: 10_000 });
  const rateSource =
    rate === undefined ? undefined : new RedisTokenBucket({ ...common, rate, hz: 1000, tokenLimit: rate });
  return {
    options: { concurrencySource, ...(rateSource && { rateSource }) },
    close: async () => {
      await Promise.all([concurrencySource.close(), rateSource?.close()]);
    },
  };
}
