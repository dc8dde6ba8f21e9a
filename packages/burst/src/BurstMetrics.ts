import {
  type Counter,
  Histogram,
  type HistogramSnapshot,
  type MetricsRegistry,
  ValveMetrics,
  type ValveStats,
} from '@valve/core';

/**
 * `stats()`: plain JSON, cheap to call. The shared words count fetcher runs (the unit of work):
 * `admitted` runs started, `running` in flight, `completed`/`failed` settled, `queued` batch keys
 * waiting for their tick's batch, `rejected` callers refused before joining (closed valve:
 * `shutdown`; signal already aborted, or a batch key given up before dispatch: `aborted`). A call
 * whose every caller gave up after it started counts as `failed`. The fields below are burst's own.
 */
export interface BurstStats extends ValveStats {
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
 * The valve's counters, registered through core's `ValveMetrics` when a registry is given (under
 * the `valve` label, removed again by `close()`), or private otherwise, so the hot path is the
 * same either way.
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

  private readonly series: ValveMetrics;

  constructor(name: string, registry: MetricsRegistry | undefined, inFlight: () => number, lingering: () => number) {
    const m = new ValveMetrics(registry, name);
    this.series = m;
    this.runs = m.counter('valve_burst_fetches_total', 'Fetcher runs (per key).');
    this.coalesced = m.counter('valve_burst_coalesced_total', 'Calls that joined a call already in flight.');
    this.lingerHits = m.counter('valve_burst_linger_hits_total', 'Calls served a lingering or stale value.');
    this.errors = m.counter('valve_burst_errors_total', 'Fetcher runs that failed.');
    this.timeouts = m.counter('valve_burst_timeouts_total', 'Calls and callers that timed out.');
    this.aborts = m.counter('valve_burst_aborts_total', 'Callers that stopped waiting because their signal aborted.');
    this.durationHistogram = m.histogram('valve_burst_fetch_duration_seconds', 'Fetcher run time.');
    // Without a registry no gauges are needed: stats() reads the valve's own fields.
    m.gauge('valve_burst_in_flight_keys', 'Keys with a call in flight.', inFlight);
    m.gauge('valve_burst_lingering_keys', 'Keys holding a lingering or stale value.', lingering);
  }

  /** Removes the valve's series from the registry (close()). */
  close(): void {
    this.series.close();
  }

  /** Fetcher run time in ms. */
  get duration(): Histogram {
    if (this.durationHistogram === undefined) this.durationHistogram = new Histogram({ exportScale: 0.001 });
    return this.durationHistogram;
  }
}
