/**
 * Per-request metrics: a counter by method, route and status and a latency histogram by route,
 * in the shared registry. The route label is the matched pattern (`/customers/:id`), never the
 * raw path, so ids cannot blow up the number of series.
 */
import type { Counter, Histogram, MetricsRegistry } from '@valve/core';
import type { Request, Response } from 'express';

export interface RequestSample {
  method: string;
  route: string;
  status: number;
  durationMs: number;
}

export class HttpMetrics {
  private readonly counters = new Map<string, Counter>();
  private readonly histograms = new Map<string, Histogram>();

  constructor(private readonly registry: MetricsRegistry) {}

  /** What to record for a finished request (taken synchronously, while req/res are current). */
  static sample(req: Request, res: Response, startNs: bigint): RequestSample {
    const route = req.route?.path === undefined ? 'unmatched' : `${req.baseUrl}${String(req.route.path)}`;
    return {
      method: req.method,
      route,
      status: res.statusCode,
      durationMs: Number(process.hrtime.bigint() - startNs) / 1e6,
    };
  }

  record(s: RequestSample): void {
    const key = `${s.method} ${s.route} ${s.status}`;
    let counter = this.counters.get(key);
    if (counter === undefined) {
      counter = this.registry.counter({
        name: 'valve_demo_http_requests_total',
        help: 'HTTP requests answered, by method, matched route and status.',
        labels: { method: s.method, route: s.route, status: String(s.status) },
      });
      this.counters.set(key, counter);
    }
    counter.inc();
    let histogram = this.histograms.get(s.route);
    if (histogram === undefined) {
      histogram = this.registry.histogram({
        name: 'valve_demo_http_request_duration_seconds',
        help: 'Time from the request reaching Express to the response being written, by matched route.',
        labels: { route: s.route },
      });
      this.histograms.set(s.route, histogram);
    }
    histogram.record(s.durationMs);
  }
}
