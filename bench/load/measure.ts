/**
 * One autocannon run (programmatic API) against one route, with our own per-response listener
 * so latencies can be split by status: p50/p99 are of successful (2xx) responses only, and
 * every non-2xx status and socket error is counted.
 */
import autocannon from 'autocannon';

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
  durationS: number;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
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
  const statuses: Record<string, number> = {};
  const started = performance.now();
  let finish!: (r: autocannon.Result) => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections,
      duration: options.durationS,
      overallRate: options.overallRate,
      requests: [request as autocannon.Request],
      timeout: 10,
    },
    (error, result) => (error ? fail(error) : finish(result)),
  );
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) okLatencies.push(responseTimeMs);
  });
  let ticks = 0;
  instance.on('tick', () => {
    ticks++;
    options.onTick?.(okLatencies.length, ticks);
  });
  const result = await done;
  const durationS = (performance.now() - started) / 1000;
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
  const seconds = result.duration > 0 ? result.duration : durationS;
  return {
    okPerSec: ok / seconds,
    totalPerSec: (ok + shed + (other - result.errors - result.timeouts)) / seconds,
    ok,
    shed,
    otherErrors: other,
    statuses,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    durationS: seconds,
  };
}
