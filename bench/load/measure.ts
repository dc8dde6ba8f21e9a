/**
 * One autocannon run (programmatic API) against one route, with our own per-response listener
 * so latencies can be split by status: p50/p99 are of successful (2xx) responses only, and
 * every non-2xx status and socket error is counted.
 */
import autocannon from 'autocannon';
import { percentile } from '@valve/demo/shared';

export interface Target {
  method?: 'GET' | 'POST';
  /** A fixed path, or one drawn per request. */
  path: string | (() => string);
  body?: string;
  /** Sees every response's status and body (autocannon's per-request `onResponse`). */
  onResponse?: (status: number, body: string) => void;
}

export interface RunOptions {
  url: string;
  target: Target;
  connections: number;
  durationS: number;
  /** Offered requests per second over all connections (open-ish loop); unlimited when undefined. */
  overallRate?: number;
  /**
   * With `overallRate`: split the connections and the rate over this many autocannon instances,
   * started `1000 / waves` ms apart, so the requests arrive spread over each second instead of in
   * one burst (see `spreadOffsets`). @default 1
   */
  waves?: number;
  /**
   * Measure the steady state only: counts and rates are of the responses received in the window
   * [rampUpS, durationS) after the start, when every wave is sending (the first starts at 0, the
   * last `1000 - 1000 / waves` ms later, and none stops before `durationS`), divided by that
   * window; p50/p99 are of the requests sent at or after `rampUpS` (connections opening and
   * waves starting are left out). `p99AllMs` keeps the p99 over the whole run. Socket errors and
   * timeouts are counted over the whole run. @default 0
   */
  rampUpS?: number;
  /** Called about once a second with the 2xx responses so far. */
  onTick?: (ok: number, elapsedS: number) => void;
}

export interface RunResult {
  /** Successful (2xx) responses per second. */
  okPerSec: number;
  /** Every response per second (2xx + 503 + …). */
  totalPerSec: number;
  ok: number;
  /** 503 responses (load shedding). */
  shed: number;
  /** Any other non-2xx status, plus socket errors and timeouts. */
  otherErrors: number;
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  /** p99 of every 2xx response of the run, the ramp-up included (equals p99Ms without one). */
  p99AllMs: number;
  durationS: number;
}

/**
 * Why waves: autocannon's `overallRate` gives each connection a budget of rate/connections
 * requests per second, refilled by a `setInterval` that each connection starts when it is
 * created, and all connections are created in the same tick. So the "rate" arrives as one
 * synchronized burst at the start of every second (the whole second's rate within a few
 * milliseconds), then silence: not an offered rate but a thundering herd, which a server sees as
 * all of it at once and then an idle second. Splitting the connections over `waves` instances
 * started `1000 / waves` ms apart spreads the same rate over the second: each instance's burst is
 * its connections' per-second budgets, about `overallRate / waves` requests. Returns each instance's start offset (ms) and its share of the
 * connections and the rate (shares differ by at most one).
 */
export function spreadOffsets(
  connections: number,
  overallRate: number,
  waves: number,
): { offsetMs: number; connections: number; overallRate: number }[] {
  const n = Math.max(1, Math.min(waves, connections, overallRate));
  const share = (total: number, i: number) => Math.floor(total / n) + (i < total % n ? 1 : 0);
  return Array.from({ length: n }, (_, i) => ({
    offsetMs: (i * 1000) / n,
    connections: share(connections, i),
    overallRate: share(overallRate, i),
  }));
}

export async function measure(options: RunOptions): Promise<RunResult> {
  const { target } = options;
  const headers = target.body === undefined ? undefined : { 'content-type': 'application/json' };
  const pathOf = target.path;
  const request =
    typeof pathOf === 'string'
      ? { method: target.method ?? 'GET', path: pathOf, body: target.body, headers, onResponse: target.onResponse }
      : {
          onResponse: target.onResponse,
          method: target.method ?? 'GET',
          path: pathOf(),
          body: target.body,
          headers,
          // autocannon rebuilds the request before every send when setupRequest is given.
          setupRequest: (req: { path?: string }) => {
            req.path = pathOf();
            return req;
          },
        };

  const okLatencies: number[] = [];
  /** Every 2xx latency, the ramp-up included (only kept with a ramp-up; else okLatencies). */
  const allOkLatencies: number[] = [];
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const rampUpMs = (options.rampUpS ?? 0) * 1000;
  const windowEndMs = options.durationS * 1000;
  const onResponse = (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    const ok = statusCode >= 200 && statusCode < 300;
    if (rampUpMs > 0) {
      const at = performance.now() - started;
      if (ok) {
        allOkLatencies.push(responseTimeMs);
        if (at - responseTimeMs >= rampUpMs) okLatencies.push(responseTimeMs);
      }
      if (at >= rampUpMs && at < windowEndMs) statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      return;
    }
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    if (ok) okLatencies.push(responseTimeMs);
  };
  const run = (connections: number, overallRate: number | undefined, first: boolean) =>
    new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: options.url,
          connections,
          duration: options.durationS,
          overallRate,
          requests: [request as autocannon.Request],
          timeout: 10,
        },
        (error, result) => (error ? reject(error) : resolve(result)),
      );
      instance.on('response', onResponse);
      if (first) {
        let ticks = 0;
        instance.on('tick', () => {
          ticks++;
          options.onTick?.(okLatencies.length, ticks);
        });
      }
    });
  const waves =
    options.overallRate === undefined
      ? [{ offsetMs: 0, connections: options.connections, overallRate: undefined }]
      : spreadOffsets(options.connections, options.overallRate, options.waves ?? 1);
  const results = await Promise.all(
    waves.map(async (w, i) => {
      if (w.offsetMs > 0) await new Promise((r) => setTimeout(r, w.offsetMs));
      return run(w.connections, w.overallRate, i === 0);
    }),
  );
  const durationS = (performance.now() - started) / 1000;
  const result = {
    errors: results.reduce((a, r) => a + r.errors, 0),
    timeouts: results.reduce((a, r) => a + r.timeouts, 0),
    // The waves end up to a second apart: the whole span is the run's duration.
    duration: waves.length > 1 ? durationS : results[0].duration,
  };
  const sorted = Float64Array.from(okLatencies).sort();
  let ok = 0;
  let shed = 0;
  let other = result.errors + result.timeouts;
  for (const [code, n] of Object.entries(statuses)) {
    const status = Number(code);
    if (status >= 200 && status < 300) ok += n;
    else if (status === 503) shed += n;
    else other += n;
  }
  const seconds = rampUpMs > 0 ? (windowEndMs - rampUpMs) / 1000 : result.duration > 0 ? result.duration : durationS;
  return {
    okPerSec: ok / seconds,
    totalPerSec: (ok + shed + (other - result.errors - result.timeouts)) / seconds,
    ok,
    shed,
    otherErrors: other,
    statuses,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    p99AllMs: rampUpMs > 0 ? percentile(Float64Array.from(allOkLatencies).sort(), 99) : percentile(sorted, 99),
    durationS: seconds,
  };
}
