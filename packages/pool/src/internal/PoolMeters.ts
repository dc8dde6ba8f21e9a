import { type Counter, type Histogram, type MetricsRegistry, ValveMetrics } from '@valve/core';

/** What a pool's gauges read. */
export interface MeteredPool {
  readonly size: number;
  readonly active: number;
  readonly limit: number;
  readonly abandoned: number;
}

/**
 * A pool's series in a registry, registered through core's `ValveMetrics` (labelled
 * `valve=<name>`, removed from the registry by `close()`). Made only when the pool has a registry:
 * without one the hot path touches no counter at all.
 */
export class PoolMeters {
  readonly completed: Counter;
  readonly failed: Counter;
  readonly retried: Counter;
  readonly timedOut: Counter;
  readonly wait: Histogram;
  readonly run: Histogram;
  private readonly series: ValveMetrics;

  constructor(registry: MetricsRegistry, name: string, pool: MeteredPool) {
    const s = new ValveMetrics(registry, name);
    this.series = s;
    s.gauge('valve_pool_queued_tasks', 'Tasks waiting to start.', () => pool.size);
    s.gauge('valve_pool_active_tasks', 'Tasks running.', () => pool.active);
    s.gauge('valve_pool_limit_tasks', 'Concurrency allowed now.', () => pool.limit);
    s.gauge(
      'valve_pool_abandoned_tasks',
      'Tasks settled by their timeout or abort whose code still runs.',
      () => pool.abandoned,
    );
    this.completed = s.counter('valve_pool_completed_total', 'Tasks that succeeded.');
    this.failed = s.counter('valve_pool_failed_total', 'Tasks that failed.');
    this.retried = s.counter('valve_pool_retried_total', 'Retry attempts.');
    this.timedOut = s.counter('valve_pool_timed_out_total', 'Tasks that timed out.');
    this.wait = s.histogram('valve_pool_wait_seconds', 'Time waiting in the queue.')!;
    this.run = s.histogram('valve_pool_run_seconds', 'Task run time.')!;
  }

  /** Removes this pool's series (and gauge collectors) from the registry. */
  close(): void {
    this.series.close();
  }
}
