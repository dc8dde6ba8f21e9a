/**
 * Constructs the demo's valves, all registering their metrics in one shared MetricsRegistry
 * (so /metrics has one HELP/TYPE per family and a `valve="…"` label per valve).
 */
import { BackpressureController } from '@valve/backpressure';
import { BurstValve } from '@valve/burst';
import type { MetricsRegistry } from '@valve/core';
import { SafetyValve } from '@valve/safety';
import type { DemoConfig } from './config.js';
import type { Database, NewEvent } from './db/index.js';
import type { CustomerLoader } from './routes/customers.js';

export interface Valves {
  /** Admission in front of the database routes (not the /unprotected ones). */
  safety: SafetyValve;
  /** One database query per customer id in flight; concurrent requests for it share the answer. */
  customers: BurstValve<string | undefined, number>;
  /** The same around the cache read-through (the seed's cached variant). */
  cachedCustomers: BurstValve<string | undefined, number>;
  /** `POST /events`: buffered, then batch-inserted. */
  events: BackpressureController<NewEvent>;
  /** Settles everything accepted (every buffered event is inserted), then releases the valves. */
  close(): Promise<void>;
}

export interface ValveDeps {
  config: DemoConfig;
  metrics: MetricsRegistry;
  db: Database;
  direct: CustomerLoader;
  cached: CustomerLoader;
  log: (line: string) => void;
}

export function createValves({ config, metrics, db, direct, cached, log }: ValveDeps): Valves {
  const safety = new SafetyValve({
    name: 'db',
    concurrency: config.safetyConcurrency,
    size: config.safetyQueueSize,
    // A waiter that cannot start within the deadline gets a 503 instead of a slow answer.
    queue: 'deadline',
    deadlineMs: config.safetyDeadlineMs,
    metrics,
  });

  const customers = new BurstValve<string | undefined, number>({
    name: 'customers',
    fetch: (id) => direct(id!),
    metrics,
  });
  const cachedCustomers = new BurstValve<string | undefined, number>({
    name: 'cached_customers',
    fetch: (id) => cached(id!),
    metrics,
  });

  const deadLettered = metrics.counter({
    name: 'valve_demo_events_dead_lettered_total',
    help: 'Accepted events that could not be inserted after every retry (reported in the log).',
  });
  const events = new BackpressureController<NewEvent>(
    async (batch) => {
      await db.insertEvents(batch);
    },
    {
      name: 'events',
      maxBufferSize: config.eventsBufferSize,
      batchSize: config.eventsBatchSize,
      // 'block' with a short wait: a full buffer answers 503 after `eventsMaxBlockMs` instead of
      // evicting events that were already acknowledged with 202.
      strategy: 'block',
      maxBlockTimeMs: config.eventsMaxBlockMs,
      // A partial batch waits at most 50 ms; a backlog flushes back to back regardless.
      minFlushIntervalMs: 50,
      maxFlushIntervalMs: 1000,
      retry: { retries: 5, minTimeout: 100, maxTimeout: 2000 },
      metrics,
      onDeadLetter: (items, error) => {
        deadLettered.inc(items.length);
        log(
          `events: ${items.length} accepted events could not be inserted after retries: ${String((error.cause as Error)?.message ?? error.message)}; ` +
            `first: ${JSON.stringify(items[0])}`,
        );
      },
    },
  );
  events.start();

  return {
    safety,
    customers,
    cachedCustomers,
    events,
    async close() {
      // drain: true flushes every accepted event before stopping; no item is dropped.
      await events.stop({ drain: true });
      safety.close();
    },
  };
}
