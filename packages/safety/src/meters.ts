import {
  type Counter,
  emptyRejectedByReason,
  type Histogram,
  type MetricsRegistry,
  REASONS,
  type Reason,
  ValveMetrics,
  type ValveStats,
} from '@valve/core';
import type { SafetyValveStats } from './options.js';

/**
 * The counters a valve keeps, registered through core's `ValveMetrics` (in `metrics` when one is
 * given; `series.close()` removes exactly this valve's series). The valve writes them: `admitted`
 * when a job starts, `completed`/`failed` when it ends, the others when a job is refused,
 * aborted or reclaimed.
 */
export interface Meters {
  /** Registers the series below and removes them on close(). */
  series: ValveMetrics;
  admitted: Counter;
  completed: Counter;
  failed: Counter;
  aborted: Counter;
  reclaimed: Counter;
  rejected: Record<Reason, Counter>;
  /** Only with a registry (nothing reads it otherwise). */
  sojourn: Histogram | undefined;
}

/** Registers a valve's series; the gauges read `stats()` when the registry is scraped. */
export function createMeters(
  name: string,
  registry: MetricsRegistry | undefined,
  stats: () => Pick<SafetyValveStats, 'queued' | 'running' | 'tokens' | 'limit'>,
): Meters {
  const series = new ValveMetrics(registry, name);
  const rejected = {} as Record<Reason, Counter>;
  for (const r of REASONS) {
    rejected[r] = series.counter(
      'valve_safety_rejected_total',
      'Jobs refused or dropped by a safety valve, by reason.',
      { reason: r },
    );
  }
  series.gauge('valve_safety_queued_jobs', 'Jobs waiting in a safety valve.', () => stats().queued);
  series.gauge('valve_safety_running_jobs', 'Jobs of a safety valve in flight.', () => stats().running);
  series.gauge(
    'valve_safety_tokens',
    'Tokens in a safety valve bucket (+Inf without a rate limit).',
    () => stats().tokens,
  );
  series.gauge(
    'valve_safety_limit_jobs',
    'Concurrency a safety valve allows now (moves with an adaptive limit).',
    () => stats().limit,
  );
  return {
    series,
    admitted: series.counter('valve_safety_admitted_total', 'Jobs started by a safety valve.'),
    completed: series.counter(
      'valve_safety_completed_total',
      'Jobs of a safety valve that succeeded (or whose permit was released without dropped).',
    ),
    failed: series.counter(
      'valve_safety_failed_total',
      'Jobs of a safety valve that failed (threw, rejected, dropped permit or reclaimed lease).',
    ),
    aborted: series.counter('valve_safety_aborted_total', 'Queued jobs whose caller aborted.'),
    reclaimed: series.counter(
      'valve_safety_reclaimed_total',
      'Slots taken back from jobs or permits that outlived leaseMs.',
    ),
    rejected,
    sojourn: series.histogram('valve_safety_sojourn_seconds', 'Time queued jobs waited before they started.'),
  };
}

/**
 * The Valve contract's words (CONTRIBUTING.md, "The Valve contract") from a valve's meters: the
 * one place both safety valves derive `rejected`, `rejectedByReason`, `admitted`, `completed` and
 * `failed` from their counters.
 */
export function contractStats(
  name: string,
  meters: Meters,
  queued: number,
  running: number,
  closed: boolean,
): ValveStats {
  const byReason = emptyRejectedByReason();
  let rejected = 0;
  for (const r of REASONS) rejected += byReason[r] = meters.rejected[r].value;
  rejected += byReason.aborted = meters.aborted.value;
  return {
    name,
    rejected,
    rejectedByReason: byReason,
    queued,
    running,
    admitted: meters.admitted.value,
    completed: meters.completed.value,
    failed: meters.failed.value,
    closed,
  };
}
