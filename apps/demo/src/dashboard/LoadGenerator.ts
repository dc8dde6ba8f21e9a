/**
 * An in-process, open-loop load generator for the dashboard: it sends `rate` requests a second
 * on a fixed schedule whatever the answers take (so a slow server meets the same offered load
 * instead of a politely slowing client, as autocannon's `overallRate` does in bench/load), over
 * Node's fetch (undici), to the demo's own loopback address only.
 *
 * Bounded on every axis:
 * - `rate` and `durationS` are validated against `LOAD_LIMITS`; it stops by itself at the end;
 * - at most `maxInFlight` requests are outstanding: a send that would exceed it is counted as
 *   `skipped` (the generator, not the server, was the limit) instead of queueing in memory;
 * - every request has a timeout; `stop()` aborts what is in flight;
 * - its one timer is unref'd; the demo's close() stops it (`stop('server_closed')`) before the
 *   server closes.
 *
 * One run at a time: `start()` while running is refused (the caller answers 409).
 */
import { SCENARIOS, type ScenarioName } from '../shared/scenarios.js';
import { percentileOf } from '../shared/stats.js';

export const LOAD_LIMITS = Object.freeze({
  /** Requests per second. */
  minRate: 1,
  maxRate: 5000,
  /** Seconds. */
  minDurationS: 1,
  maxDurationS: 300,
  maxInFlight: 512,
  requestTimeoutMs: 10_000,
  /** Scheduler tick: sends what came due since the last one. */
  tickMs: 20,
});

export interface LoadPlan {
  scenario: ScenarioName;
  /** Offered requests per second. */
  rate: number;
  durationS: number;
  /** The database latency to set as the run starts (the dashboard applies it; the generator ignores it). */
  dbLatencyMs?: number;
}

export type LoadEnd = 'duration' | 'stopped' | 'server_closed';

export interface LoadStatus {
  running: boolean;
  plan: LoadPlan | null;
  /** Seconds since the start (frozen at the end). */
  elapsedS: number;
  sent: number;
  /** 2xx answers. */
  ok: number;
  /** 503 answers (shed by a valve). */
  shed: number;
  /** Other statuses, network errors and timeouts. */
  errors: number;
  /** Requests cut by `stop()` or a closing server (not errors of the server). */
  aborted: number;
  /** Sends not made because `maxInFlight` requests were outstanding. */
  skipped: number;
  inFlight: number;
  statuses: Record<string, number>;
  /**
   * Latency of the 2xx answers (send to last byte, as the client sees it) over the last whole
   * second of the run, ms: what an admitted request costs while the valve sheds the rest. Null
   * before the first second completes or when it had no 2xx.
   */
  okP50Ms: number | null;
  okP99Ms: number | null;
  /** Why the last run ended; null while running or before the first run. */
  ended: LoadEnd | null;
}

export class LoadGenerator {
  private plan: LoadPlan | null = null;
  private timer: NodeJS.Timeout | undefined;
  private abort: AbortController | undefined;
  private startedAt = 0;
  private endedAt = 0;
  /** Sends due so far (made or skipped); the schedule is `rate × elapsed`. */
  private scheduled = 0;
  private counts = { sent: 0, ok: 0, shed: 0, errors: 0, aborted: 0, skipped: 0, inFlight: 0 };
  private statuses: Record<string, number> = {};
  private ended: LoadEnd | null = null;
  /** 2xx latencies of the second in progress (ms), and when it began. */
  private okLatencies: number[] = [];
  private windowStart = 0;
  private okWindow: { p50: number; p99: number } | null = null;

  constructor(
    /** Ids 1..n the customer scenarios draw from. */
    private readonly customers: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  /**
   * Starts a validated plan against `origin` (`http://127.0.0.1:port`). Throws if a run is going on.
   */
  start(plan: LoadPlan, origin: string): void {
    if (this.running) throw new Error('a load run is already going on');
    const scenario = SCENARIOS[plan.scenario];
    const nextPath = scenario.paths(this.customers);
    const abort = new AbortController();
    this.plan = { ...plan };
    this.abort = abort;
    this.startedAt = this.now();
    this.scheduled = 0;
    this.counts = { sent: 0, ok: 0, shed: 0, errors: 0, aborted: 0, skipped: 0, inFlight: 0 };
    this.statuses = {};
    this.ended = null;
    this.okLatencies = [];
    this.windowStart = this.startedAt;
    this.okWindow = null;
    const headers = scenario.body === undefined ? undefined : { 'content-type': 'application/json' };

    const send = (): void => {
      this.counts.sent++;
      this.counts.inFlight++;
      const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(LOAD_LIMITS.requestTimeoutMs)]);
      const sentAt = this.now();
      fetch(`${origin}${nextPath()}`, { method: scenario.method, body: scenario.body, headers, signal })
        .then(async (res) => {
          // Read the body so the connection goes back to the pool.
          await res.arrayBuffer();
          const key = String(res.status);
          this.statuses[key] = (this.statuses[key] ?? 0) + 1;
          if (res.status >= 200 && res.status < 300) {
            this.counts.ok++;
            // Only answers of the current run's window (a late answer of an earlier run is not).
            if (this.abort === abort) this.okLatencies.push(this.now() - sentAt);
          } else if (res.status === 503) this.counts.shed++;
          else this.counts.errors++;
        })
        .catch(() => {
          if (abort.signal.aborted) {
            this.counts.aborted++;
            return;
          }
          // Timed out, refused or reset: an error of this run.
          this.statuses.network = (this.statuses.network ?? 0) + 1;
          this.counts.errors++;
        })
        .finally(() => {
          this.counts.inFlight--;
        });
    };

    const tick = (): void => {
      const now = this.now();
      if (now - this.windowStart >= 1000) {
        const xs = this.okLatencies;
        this.okWindow = xs.length === 0 ? null : { p50: percentileOf(xs, 50), p99: percentileOf(xs, 99) };
        this.okLatencies = [];
        this.windowStart = now;
      }
      const elapsedS = (now - this.startedAt) / 1000;
      const until = Math.min(elapsedS, plan.durationS);
      const due = Math.floor(plan.rate * until) - this.scheduled;
      for (let i = 0; i < due; i++) {
        this.scheduled++;
        if (this.counts.inFlight >= LOAD_LIMITS.maxInFlight) this.counts.skipped++;
        else send();
      }
      if (elapsedS >= plan.durationS) this.finish('duration');
    };
    this.timer = setInterval(tick, LOAD_LIMITS.tickMs);
    // The generator never keeps the process alive by itself (a demo that is closing exits).
    this.timer.unref();
  }

  /**
   * Stops sending and aborts what is in flight. False when nothing was running. `why` is
   * `'server_closed'` when the demo is shutting down (the page says so).
   */
  stop(why: 'stopped' | 'server_closed' = 'stopped'): boolean {
    if (!this.running) return false;
    this.finish(why);
    return true;
  }

  status(): LoadStatus {
    const end = this.running ? this.now() : this.endedAt;
    return {
      running: this.running,
      plan: this.plan,
      elapsedS: this.plan === null ? 0 : Math.round((end - this.startedAt) / 100) / 10,
      ...this.counts,
      statuses: { ...this.statuses },
      okP50Ms: this.okWindow === null ? null : Math.round(this.okWindow.p50 * 10) / 10,
      okP99Ms: this.okWindow === null ? null : Math.round(this.okWindow.p99 * 10) / 10,
      ended: this.ended,
    };
  }

  private finish(why: LoadEnd): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.endedAt = this.now();
    this.ended = why;
    // A run that reached its duration lets its last requests finish (each has a timeout);
    // an explicit stop or a closing server cuts them now.
    if (why !== 'duration') this.abort?.abort(new Error(`load run ${why}`));
    this.abort = undefined;
  }
}
