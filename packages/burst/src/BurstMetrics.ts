import { Counter, Histogram, type HistogramSnapshot, type MetricsRegistry } from '@valve/core';

/** `stats()`: plain JSON, cheap to call. */
export interface BurstStats {
  name: string;
  /**
   * `fetch`/`fetchShared` calls and keys asked through `batch`/`unsafeBatch`/`stream` (derived:
   * runs started by callers + coalesced + linger hits + calls rejected up front).
   */
  calls: number;
  /** Fetcher runs (a batch fetcher run counts once per key it was given). */
  runs: number;
  /** Calls that joined a call already in flight. */
  coalesced: number;
  /** Calls served a lingering (or stale) value without any fetcher run. */
  lingerHits: number;
  /** Fetcher runs that failed (threw, rejected, or a batch key without a result). */
  errors: number;
  /** Shared calls that hit the valve's `timeoutMs`, plus callers whose own `timeoutMs` ran out. */
  timeouts: number;
  /** Callers that stopped waiting because their signal aborted. */
  aborts: number;
  /** Keys with a call in flight. */
  inFlight: number;
  /** Keys holding a lingering or stale value. */
  lingering: number;
  /** Fetcher run time in ms. */
  duration: HistogramSnapshot;
}

/**
 * The valve's counters, registered in a `MetricsRegistry` when one is given (get-or-create, so
 * several valves share one registry under their `valve` label), or private otherwise, so the hot
 * path is the same either way.
 */
export class BurstMetrics {
  readonly runs: Counter;
  readonly coalesced: Counter;
  readonly lingerHits: Counter;
  readonly errors: Counter;
  readonly timeouts: Counter;
  readonly aborts: Counter;
  /** Made on first use without a registry: its bucket arrays cost more than the rest of a valve. */
  private durationHistogram: Histogram | undefined;

  constructor(name: string, registry: MetricsRegistry | undefined, inFlight: () => number, lingering: () => number) {
    const labels = { valve: name };
    const counter = (metric: string, help: string) =>
      registry ? registry.counter({ name: metric, help, labels }) : new Counter();
    this.runs = counter('valve_burst_fetches_total', 'Fetcher runs (per key).');
    this.coalesced = counter('valve_burst_coalesced_total', 'Calls that joined a call already in flight.');
    this.lingerHits = counter('valve_burst_linger_hits_total', 'Calls served a lingering or stale value.');
    this.errors = counter('valve_burst_errors_total', 'Fetcher runs that failed.');
    this.timeouts = counter('valve_burst_timeouts_total', 'Calls and callers that timed out.');
    this.aborts = counter('valve_burst_aborts_total', 'Callers that stopped waiting because their signal aborted.');
    this.durationHistogram = registry?.histogram({
      name: 'valve_burst_fetch_duration_seconds',
      help: 'Fetcher run time.',
      labels,
    });
    // Without a registry no gauges are needed: stats() reads the valve's own fields.
    if (registry) {
      registry.gauge({ name: 'valve_burst_in_flight', help: 'Keys with a call in flight.', labels, collect: inFlight });
      registry.gauge({
        name: 'valve_burst_lingering',
        help: 'Keys holding a lingering or stale value.',
        labels,
        collect: lingering,
      });
    }
  }

  /** Fetcher run time in ms. */
  get duration(): Histogram {
    if (this.durationHistogram === undefined) this.durationHistogram = new Histogram({ exportScale: 0.001 });
    return this.durationHistogram;
  }
}
