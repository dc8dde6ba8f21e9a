import type { Counter, Histogram, MetricsRegistry } from '@valve/core';
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

export function createMetrics(registry: MetricsRegistry, name: string, gauges: GaugeSources): ControllerMetrics {
  const labels = { valve: name };
  const dropped = {} as Record<DropReason, Counter>;
  for (const reason of DROP_REASONS) {
    dropped[reason] = registry.counter({
      name: 'valve_backpressure_dropped_total',
      help: 'Items dropped or refused, by reason.',
      labels: { valve: name, reason },
    });
  }
  registry.gauge({
    name: 'valve_backpressure_buffer_items',
    help: 'Items buffered.',
    labels,
    collect: gauges.bufferItems,
  });
  registry.gauge({
    name: 'valve_backpressure_buffer_utilization_ratio',
    help: 'Fill of the active budget, 0-1.',
    labels,
    collect: gauges.utilization,
  });
  registry.gauge({
    name: 'valve_backpressure_in_flight_items',
    help: 'Items handed to flush and not yet settled.',
    labels,
    collect: gauges.inFlight,
  });
  registry.gauge({
    name: 'valve_backpressure_flush_interval_seconds',
    help: 'Current adaptive idle flush interval.',
    labels,
    collect: gauges.intervalSeconds,
  });
  return {
    accepted: registry.counter({ name: 'valve_backpressure_accepted_total', help: 'Items accepted.', labels }),
    rejected: registry.counter({
      name: 'valve_backpressure_rejected_total',
      help: 'Pushes refused (never accepted).',
      labels,
    }),
    dropped,
    flushed: registry.counter({ name: 'valve_backpressure_flushed_total', help: 'Items written.', labels }),
    deadLettered: registry.counter({
      name: 'valve_backpressure_dead_lettered_total',
      help: 'Items handed to onDeadLetter after every retry failed.',
      labels,
    }),
    flushFailures: registry.counter({
      name: 'valve_backpressure_flush_failures_total',
      help: 'Flush attempts that threw or reported failures.',
      labels,
    }),
    flushDuration: registry.histogram({
      name: 'valve_backpressure_flush_duration_seconds',
      help: 'Duration of each flush attempt.',
      labels,
    }),
  };
}
