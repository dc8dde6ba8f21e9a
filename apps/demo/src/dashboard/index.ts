/**
 * `GET /dashboard`: a live page of every valve while load runs, and its control API.
 *
 *   GET    /dashboard              the page (static HTML/JS/CSS from apps/demo/public/dashboard)
 *   GET    /dashboard/assets/…     the page's script and style, and uPlot from node_modules
 *   GET    /dashboard/config       scenarios, limits and watermarks the page needs
 *   GET    /dashboard/stream       server-sent events: a `frame` every 250 ms (registry snapshot,
 *                                  windowed histogram quantiles, valve stats, load status)
 *   GET    /dashboard/load         the load generator's status
 *   POST   /dashboard/load         {scenario, rate, durationS}: starts a run (202), 400/409/415 JSON
 *   DELETE /dashboard/load         stops the run (200, idempotent)
 *
 * Everything is served by the demo itself (no CDN), so the page works offline.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricsRegistry } from '@valve/core';
import express, { type Express, type Request, type Response } from 'express';
import { sendError, sendOverloaded } from '../httpErrors.js';
import { isScenarioName, SCENARIO_NAMES, SCENARIOS } from '../shared/scenarios.js';
import { MAX_DB_LATENCY_MS } from '../db/LatencyDatabase.js';
import { FrameBuilder } from './frames.js';
import { LOAD_LIMITS, LoadGenerator, type LoadPlan } from './LoadGenerator.js';
import { SnapshotStream, serverOf } from './SnapshotStream.js';

export { LOAD_LIMITS, LoadGenerator, type LoadPlan, type LoadStatus } from './LoadGenerator.js';
export { SCENARIO_NAMES, SCENARIOS, type ScenarioName } from '../shared/scenarios.js';

export interface DashboardOptions {
  /** The demo's shared registry: every valve's series. */
  registry: MetricsRegistry;
  /** Customer ids 1..n the scenarios draw from (the demo's SEED_CUSTOMERS). @default 10000 */
  customers?: number;
  /**
   * Valves whose `stats()` add what the registry has no series for (a BackpressureController's
   * `state`, a SafetyValve's `configuration.targetMs`), keyed by the valve's `name` label.
   * @default none
   */
  valves?: Readonly<Record<string, { stats(): object } | undefined>>;
  /**
   * The BackpressureController watermarks drawn on the utilization chart (fractions 0-1).
   * @default { high: 0.8, low: 0.5 } (the controller's defaults, which the demo uses)
   */
  watermarks?: { high: number; low: number };
  /** Frames per second is 1000 / intervalMs. @default 250 */
  intervalMs?: number;
  /** `/dashboard/stream` clients at once; more get 503 (DASHBOARD_MAX_STREAMS). @default 100 */
  maxStreams?: number;
  /**
   * The database latency setting (LatencyDatabase): a plan's `dbLatencyMs` sets it when the run
   * starts, and every frame and status reports it, so the page always states what it is.
   * @default none (plans may not set it)
   */
  dbLatency?: { latencyMs: number };
}

export interface Dashboard {
  readonly generator: LoadGenerator;
  /** Stops the load run and ends every event stream (the demo does it on its own as it closes). */
  close(): void;
}

const here = dirname(fileURLToPath(import.meta.url));
/** src/dashboard and dist/dashboard are both two levels below the package root. */
const PUBLIC_DIR = join(here, '..', '..', 'public', 'dashboard');
const UPLOT_DIR = join(dirname(createRequire(import.meta.url).resolve('uplot')));

/** What the page may load, by name: nothing else is served from disk. */
const ASSETS: Readonly<Record<string, string>> = {
  'dashboard.js': join(PUBLIC_DIR, 'dashboard.js'),
  'dashboard.css': join(PUBLIC_DIR, 'dashboard.css'),
  'uPlot.iife.min.js': join(UPLOT_DIR, 'uPlot.iife.min.js'),
  'uPlot.min.css': join(UPLOT_DIR, 'uPlot.min.css'),
};

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** JSON with +Infinity as "inf" and NaN as null (JSON has neither). */
function plain(value: object): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? (v === Number.POSITIVE_INFINITY ? 'inf' : null) : v,
    ),
  );
}

/**
 * The loopback origin the generator may target: the server's own address when it is a loopback
 * one, 127.0.0.1 / [::1] when it listens on every interface, and nothing otherwise (the
 * generator never sends to another host).
 */
export function loopbackOrigin(address: AddressInfo | string | null): string | undefined {
  if (address === null || typeof address === 'string') return undefined;
  const { address: ip, port } = address;
  if (ip === '0.0.0.0' || /^127\./.test(ip)) return `http://${ip === '0.0.0.0' ? '127.0.0.1' : ip}:${port}`;
  if (ip === '::' || ip === '::1') return `http://[::1]:${port}`;
  if (/^::ffff:127\./.test(ip)) return `http://${ip.slice(7)}:${port}`;
  return undefined;
}

/** Validates a POST body into a plan, or returns the message of a 400. */
export function parsePlan(body: unknown): LoadPlan | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return 'the body must be a JSON object {scenario, rate, durationS, dbLatencyMs?}';
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (key !== 'scenario' && key !== 'rate' && key !== 'durationS' && key !== 'dbLatencyMs') {
      return `unknown field ${JSON.stringify(key)}; allowed: scenario, rate, durationS, dbLatencyMs`;
    }
  }
  if (!isScenarioName(b.scenario)) {
    return `scenario must be one of ${SCENARIO_NAMES.join(', ')}, got ${JSON.stringify(b.scenario) ?? 'nothing'}`;
  }
  const { minRate, maxRate, minDurationS, maxDurationS } = LOAD_LIMITS;
  if (typeof b.rate !== 'number' || !Number.isInteger(b.rate) || b.rate < minRate || b.rate > maxRate) {
    return `rate must be an integer from ${minRate} to ${maxRate} (requests/s), got ${JSON.stringify(b.rate) ?? 'nothing'}`;
  }
  if (
    typeof b.durationS !== 'number' ||
    !Number.isInteger(b.durationS) ||
    b.durationS < minDurationS ||
    b.durationS > maxDurationS
  ) {
    return `durationS must be an integer from ${minDurationS} to ${maxDurationS} (seconds), got ${JSON.stringify(b.durationS) ?? 'nothing'}`;
  }
  if (b.dbLatencyMs === undefined) return { scenario: b.scenario, rate: b.rate, durationS: b.durationS };
  if (
    typeof b.dbLatencyMs !== 'number' ||
    !Number.isInteger(b.dbLatencyMs) ||
    b.dbLatencyMs < 0 ||
    b.dbLatencyMs > MAX_DB_LATENCY_MS
  ) {
    return `dbLatencyMs must be an integer from 0 to ${MAX_DB_LATENCY_MS} (ms per statement), got ${JSON.stringify(b.dbLatencyMs)}`;
  }
  return { scenario: b.scenario, rate: b.rate, durationS: b.durationS, dbLatencyMs: b.dbLatencyMs };
}

export function mountDashboard(app: Express, options: DashboardOptions): Dashboard {
  const { registry } = options;
  const intervalMs = options.intervalMs ?? 250;
  const watermarks = options.watermarks ?? { high: 0.8, low: 0.5 };
  const generator = new LoadGenerator(options.customers ?? 10_000);
  // About one second of frames for the windowed quantiles.
  const frames = new FrameBuilder(registry, Math.max(1, Math.round(1000 / intervalMs)), intervalMs);
  const stream = new SnapshotStream(
    () => {
      const stats: Record<string, unknown> = {};
      for (const [name, valve] of Object.entries(options.valves ?? {})) {
        if (valve !== undefined) stats[name] = plain(valve.stats());
      }
      return { ...frames.build(), stats, load: generator.status(), dbLatencyMs: options.dbLatency?.latencyMs ?? null };
    },
    intervalMs,
    options.maxStreams,
  );

  /** Set by close(): no new load run starts (the demo is shutting down). */
  let closed = false;
  const router = express.Router();
  const page = (res: Response, file: string) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // Only listed files are served; pnpm keeps uPlot under node_modules/.pnpm, a dot directory
    // that send() would otherwise refuse.
    res.sendFile(file, { dotfiles: 'allow' });
  };

  router.get('/', (_req, res) => {
    res.setHeader('Content-Security-Policy', CSP);
    page(res, join(PUBLIC_DIR, 'index.html'));
  });

  router.get('/assets/:file', (req, res) => {
    const file = ASSETS[String(req.params.file)];
    if (file === undefined || !Object.hasOwn(ASSETS, String(req.params.file))) {
      sendError(res, 404, 'not_found', `no dashboard asset ${JSON.stringify(req.params.file)}`);
      return;
    }
    page(res, file);
  });

  router.get('/config', (_req, res) => {
    res.json({
      intervalMs,
      watermarks,
      limits: LOAD_LIMITS,
      maxDbLatencyMs: options.dbLatency === undefined ? 0 : MAX_DB_LATENCY_MS,
      dbLatencyMs: options.dbLatency?.latencyMs ?? null,
      scenarios: SCENARIO_NAMES.map((name) => {
        const s = SCENARIOS[name];
        return {
          name,
          label: s.label,
          description: s.description,
          defaultRate: s.defaultRate,
          defaultDbLatencyMs: s.defaultDbLatencyMs,
        };
      }),
    });
  });

  router.get('/stream', (req, res) => stream.add(req, res));

  router.get('/load', (_req, res) => {
    res.json({ ...generator.status(), dbLatencyMs: options.dbLatency?.latencyMs ?? null });
  });

  router.post('/load', express.json({ limit: 1024, strict: true }), (req: Request, res: Response) => {
    if (!req.is('application/json')) {
      sendError(res, 415, 'unsupported_media_type', 'send the plan as application/json');
      return;
    }
    const plan = parsePlan(req.body);
    if (typeof plan === 'string') {
      sendError(res, 400, 'invalid_load', plan);
      return;
    }
    if (generator.running) {
      const current = generator.status().plan;
      sendError(
        res,
        409,
        'load_running',
        `a load run is going on (${current?.scenario}); DELETE /dashboard/load first`,
      );
      return;
    }
    const server = serverOf(req);
    const origin = loopbackOrigin(server?.address() ?? null);
    if (server === undefined || origin === undefined) {
      sendError(res, 409, 'not_loopback', 'the load generator only targets a demo that listens on a loopback address');
      return;
    }
    if (closed) {
      sendOverloaded(res, 'shutdown', 1);
      return;
    }
    if (plan.dbLatencyMs !== undefined) {
      if (options.dbLatency === undefined) {
        sendError(res, 400, 'invalid_load', 'this demo has no database latency setting: leave dbLatencyMs out');
        return;
      }
      // Kept after the run (the page states the current value), so a baseline run that follows
      // meets the same database.
      options.dbLatency.latencyMs = plan.dbLatencyMs;
    }
    generator.start(plan, origin);
    res.status(202).json({ ...generator.status(), dbLatencyMs: options.dbLatency?.latencyMs ?? null });
  });

  router.delete('/load', (_req, res) => {
    const stopped = generator.stop();
    res.json({ stopped, status: generator.status() });
  });

  app.use('/dashboard', router);

  return {
    generator,
    close() {
      closed = true;
      generator.stop('server_closed');
      stream.closeAll();
    },
  };
}
