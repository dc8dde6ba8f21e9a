import type { Counter, Histogram, ValveMetrics } from '@valve/core';
import { DROP_REASONS, type DropReason } from '../types.js';

/** The controller's series in a registry (see the README's metrics list). */
export interface ControllerMetrics {
  accepted: Counter;
  rejected: Counter;
  dropped: Record<DropReason, Counter>;
  flushed: Counter;
  deadLettered: Counter;
  flushFailures: Counter;
  flushDuration: Histogram;
}

export interface GaugeSources {
  bufferItems: () => number;
  utilization: () => number;
  inFlight: () => number;
  intervalSeconds: () => number;
}

/** Registers the controller's series through core's ValveMetrics (label `valve`, removed on close). */
export function createMetrics(m: ValveMetrics, gauges: GaugeSources): ControllerMetrics {
  const dropped = {} as Record<DropReason, Counter>;
  for (const reason of DROP_REASONS) {
    dropped[reason] = m.counter('valve_backpressure_dropped_total', 'Items dropped or refused, by reason.', { reason });
  }
  m.gauge('valve_backpressure_buffer_items', 'Items buffered.', gauges.bufferItems);
  m.gauge('valve_backpressure_buffer_utilization_ratio', 'Fill of the active budget, 0-1.', gauges.utilization);
  m.gauge('valve_backpressure_in_flight_items', 'Items handed to flush and not yet settled.', gauges.inFlight);
  m.gauge('valve_backpressure_flush_interval_seconds', 'Current adaptive idle flush interval.', gauges.intervalSeconds);
  return {
    accepted: m.counter('valve_backpressure_accepted_total', 'Items accepted.'),
    rejected: m.counter('valve_backpressure_rejected_total', 'Pushes refused (never accepted).'),
    dropped,
    flushed: m.counter('valve_backpressure_flushed_total', 'Items written.'),
    deadLettered: m.counter(
      'valve_backpressure_dead_lettered_total',
      'Items handed to onDeadLetter after every retry failed.',
    ),
    flushFailures: m.counter(
      'valve_backpressure_flush_failures_total',
      'Flush attempts that threw or reported failures.',
    ),
    flushDuration: m.histogram(
      'valve_backpressure_flush_duration_seconds',
      'Duration of each flush attempt.',
    ) as Histogram,
  };
}
