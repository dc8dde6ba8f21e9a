import type { MetricsRegistry } from '@valve/core';
import { SafetyValve } from '@valve/safety';
import { safetyMiddleware } from '@valve/safety/http';
import type { RequestHandler } from 'express';

/**
 * GET /shed/spin?ms=N: burns N ms (at most 200) of CPU behind a SafetyValve that sheds on this
 * process's own load (issue 17 item 1): while the mean event-loop delay is above 100 ms or the
 * event loop is busy over 95% of a 500 ms sample, requests get 503 + Retry-After (reason
 * `overload`) at once instead of piling up behind the blocked loop. No cap, no queue: load alone.
 * The valve is built on the first request (an app that never serves the route samples nothing)
 * and lives as long as the process; its sampling timer is unref'd.
 */
export function shedRoute(registry: MetricsRegistry): RequestHandler {
  let guard: ReturnType<typeof safetyMiddleware> | undefined;
  const spin: RequestHandler = (req, res) => {
    const ms = Math.min(200, Math.max(0, Number(req.query.ms) || 0));
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // busy: the load being shed
    }
    res.json({ spunMs: ms });
  };
  return (req, res, next) => {
    guard ??= safetyMiddleware(
      new SafetyValve({
        name: 'shed',
        size: 0,
        concurrency: Number.POSITIVE_INFINITY,
        metrics: registry,
        loadShedding: { maxEventLoopDelayMs: 100, maxEventLoopUtilization: 0.95, sampleIntervalMs: 500 },
      }),
    );
    guard(req, res, (error?: unknown) => (error === undefined ? spin(req, res, next) : next(error)));
  };
}
