/**
 * Builds and starts the demo from a config: database (seeded), cache, valves, Express app, HTTP
 * server. `startDemo` is what server.ts runs and what the tests run on port 0.
 *
 * Shutdown order (nothing accepted is lost): stop accepting connections and let in-flight
 * requests finish (bounded by `shutdownTimeoutMs`), then drain the valves (every background task
 * the pool took runs, every accepted event and audit record is inserted), then close the cache
 * and the database.
 */
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { isValveError, MetricsRegistry, systemClock } from '@valve/core';
import { respondOverloaded, safetyMiddleware } from '@valve/safety/http';
import express, { type Express, type RequestHandler } from 'express';
import { Redis } from 'ioredis';
import { backgroundWork } from './backgroundWork.js';
import { type Cache, createCache } from './cache/index.js';
import type { DemoConfig } from './config.js';
import { type Dashboard, mountDashboard } from './dashboard/index.js';
import { CountingDatabase } from './db/CountingDatabase.js';
import { LatencyDatabase } from './db/LatencyDatabase.js';
import { createDatabase, type Database, PgliteDatabase, type PgliteHealth } from './db/index.js';
import { Retention } from './db/Retention.js';
import { HttpMetrics } from './httpMetrics.js';
import { errorHandler, HttpError, notFound, sendOverloaded } from './httpErrors.js';
import { assertDepth } from './jsonDepth.js';
import { registerProcessMetrics } from './processMetrics.js';
import { shedRoute } from './routes/shed.js';
import {
  type CustomerLoader,
  cachedLoader,
  customerRoute,
  directLoader,
  type RefusalResponder,
  reportRoute,
} from './routes/customers.js';
import { parseEvents } from './routes/events.js';
import { createValves, type Valves } from './valves.js';

export interface DemoOptions {
  /** Where the demo's own lines go. @default console.log */
  log?: (line: string) => void;
  /**
   * Embedded PGlite only: the worker's restarts gave up (PGLITE_RESTART_MAX_ATTEMPTS). server.ts
   * shuts down and exits 1 so that a supervisor starts a fresh process. @default nothing (the
   * demo stays up and `/healthz` answers 503)
   */
  onDatabaseFailed?: (health: PgliteHealth) => void;
}

export interface RunningDemo {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  readonly config: DemoConfig;
  readonly db: Database;
  readonly cache: Cache;
  readonly registry: MetricsRegistry;
  readonly valves: Valves;
  /** Graceful, idempotent: every call returns the same promise. */
  close(): Promise<void>;
}

interface AppParts {
  config: DemoConfig;
  db: Database;
  cache: Cache;
  registry: MetricsRegistry;
  valves: Valves;
  loaders: { direct: CustomerLoader; cached: CustomerLoader; guardedCached: CustomerLoader };
  /** The database itself (not the counting/latency decorators): GET /db/stats. */
  rawDb: Database;
  /** The embedded PGlite's supervision state (undefined with a database server). */
  dbHealth: () => PgliteHealth | undefined;
  /** The database latency setting the dashboard reads and sets. */
  dbLatency: { latencyMs: number };
  log: (line: string) => void;
  /** True once shutdown began: /healthz answers 503 and responses ask clients to reconnect elsewhere. */
  isShuttingDown: () => boolean;
  /**
   * Called after a response finishes during shutdown (its connection may now be idle): the demo
   * closes idle connections then, instead of sweeping them on a timer.
   */
  onFinishWhileClosing: () => void;
}

export interface BuiltApp {
  app: Express;
  /** The dashboard's handle: close() ends its event streams and load run (first, at shutdown). */
  dashboard: Dashboard;
}

export function buildApp(parts: AppParts): BuiltApp {
  const { config, db, cache, registry, valves, log } = parts;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((_req, res, next) => {
    if (parts.isShuttingDown()) res.setHeader('Connection', 'close');
    // A request that began before shutdown answers keep-alive; once it finishes during shutdown
    // its connection turns idle, and the demo closes it then (event-driven, no sweep timer).
    res.once('finish', () => {
      if (parts.isShuttingDown()) parts.onFinishWhileClosing();
    });
    next();
  });
  const refusedHelp =
    'Answered requests whose background work was skipped: the pool had closed, or its queue held POOL_MAX_QUEUED tasks (the pool option maxQueued).';
  const refusedBackground = {
    closed: registry.counter({
      name: 'valve_demo_background_refused_total',
      help: refusedHelp,
      labels: { reason: 'closed' },
    }),
    queue_full: registry.counter({
      name: 'valve_demo_background_refused_total',
      help: refusedHelp,
      labels: { reason: 'queue_full' },
    }),
  };
  app.use(
    backgroundWork({
      pool: valves.pool,
      audit: valves.audit,
      httpMetrics: new HttpMetrics(registry),
      onRefused: (reason) => refusedBackground[reason].inc(),
    }),
  );

  const { direct, cached, guardedCached } = parts.loaders;

  app.get('/healthz', (_req, res) => {
    if (parts.isShuttingDown()) {
      sendOverloaded(res, 'shutdown', 1);
      return;
    }
    const worker = parts.dbHealth();
    if (worker !== undefined && worker.state !== 'up') {
      // The PGlite worker died: out of rotation until it is restarted (or for good once the
      // restarts gave up, when the process exits 1 for its supervisor).
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil((worker.nextAttemptInMs ?? 1000) / 1000))));
      res.setHeader('Cache-Control', 'no-store');
      res.status(503).json({ status: 'unavailable', database: db.kind, cache: cache.kind, worker });
      return;
    }
    res.json({
      status: 'ok',
      database: db.kind,
      cache: cache.kind,
      uptimeSeconds: Math.round(process.uptime()),
      pid: process.pid, // which of the DEMO_PROCESSES answered
      ...(worker === undefined ? {} : { worker }),
    });
  });

  app.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4; charset=utf-8').send(registry.toPrometheus());
  });

  // The database routes, each twice: with the SafetyValve guarding their database work, and
  // under /unprotected without it, so the load tests can compare the two at the same offered load.
  // Admission guards only work that reaches the database: a whole request when every request
  // queries (@valve/safety/http's middleware), else the query inside the loader (BurstValve
  // fetchers, cache misses), whose refusal @valve/safety/http's respondOverloaded answers.
  const admit = safetyMiddleware(valves.safety);
  const refused: RefusalResponder = (error, res) => respondOverloaded(valves.safety, error, res);
  app.get('/direct/customers/:id', admit, customerRoute(direct));
  app.get('/shed/spin', shedRoute(registry));
  app.get('/unprotected/direct/customers/:id', customerRoute(direct));
  app.get('/cached/direct/customers/:id', customerRoute(guardedCached, refused));
  app.get('/unprotected/cached/direct/customers/:id', customerRoute(cached));
  app.get(
    '/customers/:id',
    customerRoute((id) => valves.customers.fetch(id), refused),
  );
  app.get(
    '/unprotected/customers/:id',
    customerRoute((id) => valves.unprotectedCustomers.fetch(id)),
  );
  app.get(
    '/cached/customers/:id',
    customerRoute((id) => valves.cachedCustomers.fetch(id), refused),
  );
  app.get(
    '/unprotected/cached/customers/:id',
    customerRoute((id) => valves.unprotectedCachedCustomers.fetch(id)),
  );
  // The overload scenario's route: a costly query (a scan), so the database, not Express or the
  // load generator, is the bottleneck at the load tests' offered rate.
  app.get('/reports/customers/:id', admit, reportRoute(db));
  app.get('/unprotected/reports/customers/:id', reportRoute(db));

  // Parsed (JSON.parse is iterative, any depth is safe), then refused when deeper than
  // BODY_MAX_DEPTH before a route sees it: what is accepted can be serialized again.
  const parseJson = express.json({ limit: config.bodyLimitBytes, strict: true });
  const json: RequestHandler = (req, res, next) =>
    parseJson(req, res, (error?: unknown) => {
      if (error !== undefined) return next(error);
      try {
        assertDepth(req.body, config.bodyMaxDepth);
      } catch (tooDeep) {
        return next(tooDeep);
      }
      next();
    });

  // The baselines of the ingestion comparison, acknowledged when stored (201):
  //   default          one INSERT per event, in order (the per-event write that batching replaces);
  //   ?insert=multi    one multi-row INSERT per request (the client's own batch, one round trip).
  app.post('/direct/events', json, async (req, res) => {
    const mode = req.query.insert ?? 'row';
    if (mode !== 'row' && mode !== 'multi') {
      throw new HttpError(400, 'invalid_query', `insert must be "row" or "multi", got ${JSON.stringify(mode)}`);
    }
    const events = parseEvents(req, config.eventsMaxPerRequest);
    if (mode === 'multi') await db.insertEvents(events);
    else for (const event of events) await db.insertEvents([event]);
    res.status(201).json({ stored: events.length });
  });

  // Accepted into the BackpressureController (202), inserted in batches. A full buffer makes a
  // push wait up to EVENTS_MAX_BLOCK_MS, then the answer is 503: an acknowledged event is never
  // evicted. An array is pushed in order and stops at the first refusal, so what was accepted is
  // a prefix, reported as `accepted` in the 503 (those will be inserted; retry the rest).
  app.post('/events', json, async (req, res) => {
    const events = parseEvents(req, config.eventsMaxPerRequest);
    let accepted = 0;
    for (const event of events) {
      if (!(await valves.events.push(event))) break;
      accepted++;
    }
    if (accepted === events.length) {
      res.status(202).json({ accepted });
      return;
    }
    // The buffer stayed full for EVENTS_MAX_BLOCK_MS: the first `accepted` events will be
    // inserted, the client retries the rest.
    sendOverloaded(res, 'queue_full', 1, { accepted });
  });

  // The durable acknowledgement mode (issue 16): the same buffer and batch INSERTs, but the
  // answer waits until every event of the request is committed (pushDurable), so a 201 is never
  // lost to a crash. A refusal (buffer full past EVENTS_MAX_BLOCK_MS, shutdown) is the usual
  // 503; an event the database refused after every retry is a 500 `not_stored`. `stored` counts
  // the events of the request that were committed either way.
  app.post('/events/durable', json, async (req, res) => {
    const events = parseEvents(req, config.eventsMaxPerRequest);
    const outcomes = await Promise.allSettled(events.map((event) => valves.events.pushDurable(event)));
    let stored = 0;
    let failure: unknown;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') stored++;
      else failure ??= outcome.reason;
    }
    if (failure === undefined) {
      res.status(201).json({ stored });
      return;
    }
    if (isValveError(failure) && failure.reason !== undefined) {
      sendOverloaded(res, failure.reason, 1, { stored });
      return;
    }
    res.status(500).json({
      error: { code: 'not_stored', message: `${events.length - stored} event(s) could not be inserted after retries` },
      stored,
    });
  });

  // What the database stores, rows and bytes per table (issue 18 item 8: how much of the
  // memory of an in-memory PGlite is data).
  app.get('/db/stats', async (_req, res) => {
    if (parts.rawDb.stats === undefined) {
      throw new HttpError(404, 'not_supported', `GET /db/stats is not available with ${db.kind}`);
    }
    res.json({ database: db.kind, retainRows: config.retainRows ?? null, ...(await parts.rawDb.stats()) });
  });

  app.get('/events/stats', async (_req, res) => {
    const stats = valves.events.stats();
    res.json({
      stored: await db.countEvents(),
      accepted: stats.accepted,
      flushed: stats.flushed,
      buffered: stats.bufferSize,
      inFlight: stats.inFlight,
      deadLettered: stats.deadLettered,
      state: stats.state,
    });
  });

  const dashboard = mountDashboard(app, {
    registry,
    customers: config.seedCustomers,
    valves: { db: valves.safety, events: valves.events },
    maxStreams: config.dashboardMaxStreams,
    dbLatency: parts.dbLatency,
  });
  app.use(notFound);
  app.use(errorHandler(log));
  return { app, dashboard };
}

export async function startDemo(config: DemoConfig, options: DemoOptions = {}): Promise<RunningDemo> {
  const log = options.log ?? ((line: string) => console.log(line));
  const registry = new MetricsRegistry();
  const processMetrics = registerProcessMetrics(registry);
  const pglite = config.databaseUrl === undefined ? pgliteSupervision(registry, log, options) : undefined;
  // The latency setting holds one of the database's connections (PGlite has one), and the
  // counting decorator sits outside it, so the query durations include it.
  const raw = createDatabase(config.databaseUrl, {
    tablePrefix: config.tablePrefix,
    poolSize: config.dbPoolSize,
    pgliteDataDir: config.pgliteDataDir,
    pglite: pglite && {
      workerUrl: config.pgliteWorkerScript === undefined ? undefined : pathToFileURL(config.pgliteWorkerScript),
      restart: config.pgliteRestart,
      checkpointIntervalMs: config.pgliteCheckpointIntervalMs,
      onStateChange: pglite.onStateChange,
    },
  });
  if (raw instanceof PgliteDatabase) pglite?.attach(raw);
  const slow = new LatencyDatabase(raw, config.databaseUrl === undefined ? 1 : config.dbPoolSize, config.dbLatencyMs);
  const db = new CountingDatabase(slow, registry);
  let cache: Cache;
  // DEMO_PROCESSES > 1 or SAFETY_LIMITS=redis: the SafetyValve's limits live in Redis (one client per process).
  let shared: Redis | undefined;
  try {
    await db.init(config.seedCustomers);
    cache = await createCache(config.redisUrl, `valve:${config.tablePrefix}`);
    if (config.sharedLimits) {
      shared = new Redis(config.redisUrl!, { maxRetriesPerRequest: 1 });
      shared.on('error', () => {}); // the sources' policy (fail-closed) answers for Redis errors
      await shared.ping();
    }
  } catch (error) {
    processMetrics.stop();
    shared?.disconnect();
    await db.close().catch(() => {});
    throw error;
  }

  const cacheLabel = { cache: cache.kind };
  const hits = registry.counter({ name: 'valve_demo_cache_hits_total', help: 'Cache hits.', labels: cacheLabel });
  const misses = registry.counter({ name: 'valve_demo_cache_misses_total', help: 'Cache misses.', labels: cacheLabel });
  const cacheErrors = registry.counter({
    name: 'valve_demo_cache_errors_total',
    help: 'Cache reads or writes that failed (the route fell back to the database).',
    labels: cacheLabel,
  });
  const counters = { hit: () => hits.inc(), miss: () => misses.inc(), error: () => cacheErrors.inc() };
  const direct = directLoader(db);
  const withCache = (load: CustomerLoader) => cachedLoader(load, cache, config.cacheTtlMs, counters);
  const guardedCachedOf = (safety: Valves['safety']) => withCache((id) => safety.run(() => direct(id)));
  const valves = createValves({
    config,
    metrics: registry,
    db,
    direct,
    cached: withCache(direct),
    guardedCached: guardedCachedOf,
    log,
    shared,
  });
  const loaders = { direct, cached: withCache(direct), guardedCached: guardedCachedOf(valves.safety) };
  let shuttingDown = false;
  let server: Server | undefined;
  const { app, dashboard } = buildApp({
    config,
    db,
    cache,
    registry,
    valves,
    loaders,
    dbLatency: slow,
    dbHealth: () => pglite?.health(),
    rawDb: raw,
    log,
    isShuttingDown: () => shuttingDown,
    // After the response is written the socket becomes idle on a later tick.
    onFinishWhileClosing: () => setImmediate(() => server?.closeIdleConnections()),
  });
  server = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      // Node checks both timeouts on this interval (30 s by default), so a stalled request
      // would otherwise be cut only up to 30 s after its timeout.
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(config.headersTimeoutMs / 4))),
    },
    app,
  );
  // What Node answers by itself before Express sees a request (oversize headers, a stalled
  // request) is JSON like every other error of the demo.
  server.on('clientError', answerClientError);
  const listening = server;
  try {
    server.listen({ port: config.port, host: config.host, backlog: config.listenBacklog });
    await once(server, 'listening');
  } catch (error) {
    processMetrics.stop();
    await Promise.allSettled([valves.close(), db.close(), cache.close(), shared?.quit()]);
    throw new Error(`cannot listen on ${config.host}:${config.port} (HOST/PORT): ${(error as Error).message}`, {
      cause: error,
    });
  }
  const retention = startRetention(config, raw, registry, log);
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      // First the dashboard: its event streams never end by themselves and its load generator
      // would keep sending; both stop now, so the server's close waits only for real requests.
      dashboard.close();
      await closeServer(listening, config.shutdownTimeoutMs);
      // A PGlite worker waiting out its restart back-off restarts now, so the drain below has a
      // database (and a failed restart gives up instead of holding the shutdown).
      if (raw instanceof PgliteDatabase) raw.prepareShutdown();
      // Every request has been answered; now settle what the valves accepted, then close the
      // database they write to.
      await valves.close();
      await retention?.stop();
      processMetrics.stop();
      const results = await Promise.allSettled([cache.close(), db.close(), shared?.quit()]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    })();
    return closing;
  };

  return { url: `http://${host}:${port}`, port, config, db, cache, registry, valves, close };
}

/** DEMO_RETAIN_ROWS: prunes the events and audit tables on a timer (src/db/Retention.ts). */
function startRetention(
  config: DemoConfig,
  db: Database,
  registry: MetricsRegistry,
  log: (line: string) => void,
): Retention | undefined {
  const prune = db.prune?.bind(db);
  if (config.retainRows === undefined || prune === undefined) return undefined;
  const help = 'Rows deleted by the DEMO_RETAIN_ROWS retention, by table.';
  const events = registry.counter({
    name: 'valve_demo_retention_deleted_rows_total',
    help,
    labels: { table: 'events' },
  });
  const audit = registry.counter({ name: 'valve_demo_retention_deleted_rows_total', help, labels: { table: 'audit' } });
  let errorsLogged = 0;
  const retention = new Retention({
    db: { prune },
    keepRows: config.retainRows,
    intervalMs: config.retainIntervalMs,
    clock: systemClock,
    onPruned: (deleted) => {
      events.inc(deleted.events);
      audit.inc(deleted.audit);
    },
    onError: (error) => {
      if (errorsLogged++ < 5) log(`retention: prune failed: ${(error as Error)?.message ?? String(error)}`);
    },
  });
  retention.start();
  return retention;
}

/**
 * The embedded PGlite's worker supervision in /metrics and the log: `valve_demo_pglite_up_workers`
 * (1 while a worker answers), `valve_demo_pglite_worker_exits_total` (unexpected exits),
 * `valve_demo_pglite_worker_restarts_total` (completed restarts) and
 * `valve_demo_pglite_worker_restart_delay_seconds` (time to the next attempt, 0 when none).
 */
function pgliteSupervision(registry: MetricsRegistry, log: (line: string) => void, options: DemoOptions) {
  let last: PgliteHealth = { state: 'starting', exits: 0, restarts: 0, attempt: 0 };
  const exits = registry.counter({
    name: 'valve_demo_pglite_worker_exits_total',
    help: 'Times the embedded PGlite worker thread ended unexpectedly (crash, uncaught throw).',
  });
  const restarts = registry.counter({
    name: 'valve_demo_pglite_worker_restarts_total',
    help: 'Restarts of the embedded PGlite worker that completed (a new worker answered, schema ready).',
  });
  registry.gauge({
    name: 'valve_demo_pglite_up_workers',
    help: 'Embedded PGlite workers answering queries: 1 while the worker answers, else 0 (restarting, failed, closed).',
    collect: () => (last.state === 'up' ? 1 : 0),
  });
  registry.gauge({
    name: 'valve_demo_pglite_worker_restart_delay_seconds',
    help: 'Time until the next restart attempt of the embedded PGlite worker, in seconds (0 when none is pending).',
    collect: () => (current?.().nextAttemptInMs ?? 0) / 1000,
  });
  let current: (() => PgliteHealth) | undefined;
  return {
    /** The live state (with the time to the next attempt) once the database exists. */
    attach(db: { health(): PgliteHealth }) {
      current = () => db.health();
    },
    health: () => (current ? current() : last),
    onStateChange(health: PgliteHealth) {
      exits.inc(health.exits - last.exits);
      restarts.inc(health.restarts - last.restarts);
      const previous = last;
      last = health;
      if (health.state === 'restarting') {
        log(
          `pglite: the worker is down (${health.lastError ?? 'exited'}); restart attempt ${health.attempt} in ${Math.round(health.nextAttemptInMs ?? 0)} ms`,
        );
      } else if (health.state === 'up' && previous.state === 'restarting') {
        log(`pglite: the worker is up again (restart ${health.restarts}; in memory, the tables start empty)`);
      } else if (health.state === 'failed') {
        log(`pglite: the worker's restarts gave up after ${health.attempt} attempt(s): ${health.lastError ?? ''}`);
        options.onDatabaseFailed?.(health);
      }
    },
  };
}

/** Node's HTTP parser errors and timeouts, with the demo's JSON error body. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const known: Record<string, [number, string, string, string]> = {
    HPE_HEADER_OVERFLOW: [
      431,
      'Request Header Fields Too Large',
      'headers_too_large',
      'request headers are larger than the server accepts (16 KB)',
    ],
    ERR_HTTP_REQUEST_TIMEOUT: [
      408,
      'Request Timeout',
      'request_timeout',
      'the request was not received in time (REQUEST_TIMEOUT_MS / HEADERS_TIMEOUT_MS)',
    ],
  };
  const [status, text, code, message] = known[error.code ?? ''] ?? [
    400,
    'Bad Request',
    'bad_request',
    'malformed HTTP request',
  ];
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Stops accepting, lets in-flight requests finish, and cuts what is left after `timeoutMs`.
 * Idle keep-alive connections close once, now; a connection busy now closes when its response
 * ends (responses during shutdown carry `Connection: close`, and one that began before gets
 * `closeIdleConnections()` from its finish event); at the deadline every connection is cut.
 */
async function closeServer(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, timeoutMs);
  });
  try {
    await Promise.race([closed, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
