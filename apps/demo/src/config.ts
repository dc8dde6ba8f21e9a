/**
 * The demo's configuration, read from the environment once at start-up. Every variable is
 * checked here, and a bad value stops the start with an error that names the variable, the
 * value and what is allowed (documented in README.md, "Configuration").
 */
import { MAX_DB_LATENCY_MS } from './db/LatencyDatabase.js';
import { CUSTOMERS } from './shared/scenarios.js';

export interface DemoConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /**
   * Connections the kernel may hold completed but not yet accepted (`listen()`'s backlog; the
   * kernel caps it at net.core.somaxconn). Node's default of 511 overflowed when the load tests
   * opened 600 connections while the event loop was busy: each dropped handshake cost its first
   * request a SYN retransmission (1 s, then 2 s more).
   */
  listenBacklog: number;
  /** Undefined: the embedded PGlite. */
  databaseUrl: string | undefined;
  /** Embedded PGlite only: keep the data in this directory (undefined: in memory). */
  pgliteDataDir: string | undefined;
  /** Embedded PGlite only: restart back-off of a worker that ended unexpectedly (PgliteDatabase). */
  pgliteRestart: { initialDelayMs: number; maxDelayMs: number; maxAttempts: number };
  /**
   * Embedded PGlite only: the worker script, a file path (the fault tests run a wrapper that can
   * crash on demand). Undefined: the demo's own `pgliteWorker.js`.
   */
  pgliteWorkerScript: string | undefined;
  /**
   * Rows kept in each of the events and audit tables (the newest); undefined keeps all
   * (DEMO_RETAIN_ROWS, issue 18 item 8). PostgreSQL and PGlite only.
   */
  retainRows: number | undefined;
  /** Time between two prunes when `retainRows` is set. */
  retainIntervalMs: number;
  /** Embedded PGlite only: time between two CHECKPOINTs (0: never), which recycle the WAL. */
  pgliteCheckpointIntervalMs: number;
  /** Undefined: the in-process TTL cache. */
  redisUrl: string | undefined;
  /** Rows in the customers table (ids 1..n). */
  seedCustomers: number;
  /** Table name prefix (tests use their own). */
  tablePrefix: string;
  /** Connections in the mysql2/pg pool. */
  dbPoolSize: number;
  cacheTtlMs: number;
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: number;
  /** Deepest nesting of arrays/objects accepted in a JSON body (deeper: 400 `body_too_deep`). */
  bodyMaxDepth: number;
  /** Background tasks (per-request metrics write and audit record) running at once in the shared PromisePool. */
  poolMaxWorkers: number;
  /** Background tasks that may wait in the PromisePool; above it a request's background work is skipped (counted). */
  poolMaxQueued: number;
  /** SafetyValve in front of the database routes: queries in flight. */
  safetyConcurrency: number;
  /** SafetyValve: requests waiting for a slot before new ones get 503 at once. */
  safetyQueueSize: number;
  /** SafetyValve: its queue discipline (@valve/safety's `queue` option). */
  safetyQueue: 'fifo' | 'codel' | 'codel-timer' | 'deadline';
  /** SafetyValve: longest wait for a slot before a 503 (a hard bound with every discipline). */
  safetyDeadlineMs: number;
  /**
   * SafetyValve: queries started per second (undefined: no rate limit). With DEMO_PROCESSES > 1
   * it is global (a RedisTokenBucket), like `safetyConcurrency` (a RedisSemaphore).
   */
  safetyRate: number | undefined;
  /**
   * DEMO_PROCESSES: server processes sharing the port (node:cluster). Above 1, the SafetyValve's
   * concurrency cap and rate live in Redis (REDIS_URL required), so they hold across processes.
   */
  processes: number;
  /**
   * SAFETY_LIMITS: where the SafetyValve's cap and rate live. `redis` (required, and the default,
   * with DEMO_PROCESSES > 1): a RedisSemaphore and RedisTokenBucket; one process may use them too,
   * so a 1-process baseline runs on the same Redis-backed limits as N processes (the load tool's
   * scale-out scenario). `local` (the default for one process): in-process.
   */
  sharedLimits: boolean;
  /** BackpressureController of POST /events: buffered events. */
  eventsBufferSize: number;
  /** Events per INSERT. */
  eventsBatchSize: number;
  /** How long POST /events waits for buffer space (`'block'` strategy) before answering 503. */
  eventsMaxBlockMs: number;
  /** BackpressureController of the audit records: buffered records. */
  auditBufferSize: number;
  /** Audit records per INSERT. */
  auditBatchSize: number;
  /** BackpressureController of POST /events and of the audit log: batch INSERTs in flight at once. */
  flushConcurrency: number;
  /** Events accepted in one `POST /events` JSON array. */
  eventsMaxPerRequest: number;
  /** Open `/dashboard/stream` clients at once; more get 503. */
  dashboardMaxStreams: number;
  /** Longest time to receive a whole request (headers and body) before a 408 (Node's `requestTimeout`). */
  requestTimeoutMs: number;
  /** Longest time to receive the request headers (Node's `headersTimeout`; at most `requestTimeoutMs`). */
  headersTimeoutMs: number;
  /** Grace period for in-flight requests at shutdown before connections are cut. */
  shutdownTimeoutMs: number;
  /**
   * Extra time every statement holds a database connection (LatencyDatabase): 0 is the real
   * database; the dashboard's scenarios set more so the valves have work at the generator's rates.
   */
  dbLatencyMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!/^\s*-?\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

function url(env: Env, name: string, schemes: readonly string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(
      `${name} must be a URL (${schemes.map((s) => `${s}//…`).join(', ')}), got an unparseable value`,
    );
  }
  if (!schemes.includes(parsed.protocol)) {
    throw new ConfigError(
      `${name} must use one of ${schemes.map((s) => `${s}//`).join(', ')}, got ${JSON.stringify(parsed.protocol)}`,
    );
  }
  return raw;
}

export function loadConfig(env: Env = process.env): DemoConfig {
  const host = env.HOST?.trim() || '127.0.0.1';
  const databaseUrl = url(env, 'DATABASE_URL', ['mysql:', 'mariadb:', 'postgres:', 'postgresql:']);
  const prefix = env.DEMO_TABLE_PREFIX?.trim() || 'demo_';
  if (!/^[a-z_][a-z0-9_]{0,39}$/.test(prefix)) {
    throw new ConfigError(`DEMO_TABLE_PREFIX must match /^[a-z_][a-z0-9_]{0,39}$/, got ${JSON.stringify(prefix)}`);
  }
  const dbPoolSize = int(env, 'DB_POOL_SIZE', 10, 1, 1000);
  const eventsBufferSize = int(env, 'EVENTS_BUFFER_SIZE', 10_000, 1, 10_000_000);
  const eventsBatchSize = int(env, 'EVENTS_BATCH_SIZE', 500, 1, 10_000);
  if (eventsBatchSize > eventsBufferSize) {
    throw new ConfigError(
      `EVENTS_BATCH_SIZE (${eventsBatchSize}) must not exceed EVENTS_BUFFER_SIZE (${eventsBufferSize})`,
    );
  }
  const auditBufferSize = int(env, 'AUDIT_BUFFER_SIZE', 10_000, 1, 10_000_000);
  const auditBatchSize = int(env, 'AUDIT_BATCH_SIZE', 500, 1, 10_000);
  if (auditBatchSize > auditBufferSize) {
    throw new ConfigError(
      `AUDIT_BATCH_SIZE (${auditBatchSize}) must not exceed AUDIT_BUFFER_SIZE (${auditBufferSize})`,
    );
  }
  // The demo's bodies are at most BODY_LIMIT_BYTES (16 KB by default): a client that needs more
  // than a few seconds to send one is stalled or hostile (issue 18: a body shorter than its
  // Content-Length held a connection for 10 s and more).
  const requestTimeoutMs = int(env, 'REQUEST_TIMEOUT_MS', 5000, 100, 600_000);
  const headersTimeoutMs = int(env, 'HEADERS_TIMEOUT_MS', Math.min(5000, requestTimeoutMs), 100, 600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      `HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  }
  const pgliteInitial = int(env, 'PGLITE_RESTART_DELAY_MS', 250, 0, 600_000);
  const pgliteMax = int(env, 'PGLITE_RESTART_MAX_DELAY_MS', Math.max(10_000, pgliteInitial), 0, 3_600_000);
  if (pgliteMax < pgliteInitial) {
    throw new ConfigError(
      `PGLITE_RESTART_MAX_DELAY_MS (${pgliteMax}) must not be below PGLITE_RESTART_DELAY_MS (${pgliteInitial})`,
    );
  }
  const retainRows = env.DEMO_RETAIN_ROWS?.trim() ? int(env, 'DEMO_RETAIN_ROWS', 0, 1, 1_000_000_000) : undefined;
  if (retainRows !== undefined && databaseUrl !== undefined && /^(mysql|mariadb):/i.test(databaseUrl)) {
    throw new ConfigError('DEMO_RETAIN_ROWS works with PGlite and PostgreSQL only, not with a mysql:// DATABASE_URL');
  }
  const processes = int(env, 'DEMO_PROCESSES', 1, 1, 64);
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  if (processes > 1 && redisUrl === undefined) {
    throw new ConfigError(
      `DEMO_PROCESSES=${processes} needs REDIS_URL: the processes share the SafetyValve's limits through Redis`,
    );
  }
  const limits = oneOf(env, 'SAFETY_LIMITS', processes > 1 ? 'redis' : 'local', ['local', 'redis']);
  if (limits === 'local' && processes > 1) {
    throw new ConfigError(
      `SAFETY_LIMITS=local cannot be used with DEMO_PROCESSES=${processes}: each process would admit the full limit`,
    );
  }
  if (limits === 'redis' && redisUrl === undefined) {
    throw new ConfigError('SAFETY_LIMITS=redis needs REDIS_URL');
  }
  return {
    host,
    processes,
    sharedLimits: limits === 'redis',
    safetyRate: env.SAFETY_RATE?.trim() ? int(env, 'SAFETY_RATE', 0, 1, 10_000_000) : undefined,
    retainRows,
    retainIntervalMs: int(env, 'DEMO_RETAIN_INTERVAL_MS', 10_000, 100, 86_400_000),
    pgliteCheckpointIntervalMs: int(env, 'PGLITE_CHECKPOINT_INTERVAL_MS', 30_000, 0, 86_400_000),
    port: int(env, 'PORT', 3000, 0, 65_535),
    listenBacklog: int(env, 'LISTEN_BACKLOG', 4096, 1, 65_535),
    databaseUrl,
    pgliteDataDir: env.PGLITE_DATA_DIR?.trim() || undefined,
    pgliteRestart: {
      initialDelayMs: pgliteInitial,
      maxDelayMs: pgliteMax,
      maxAttempts: int(env, 'PGLITE_RESTART_MAX_ATTEMPTS', 5, 0, 1000),
    },
    pgliteWorkerScript: env.PGLITE_WORKER_SCRIPT?.trim() || undefined,
    redisUrl,
    seedCustomers: int(env, 'SEED_CUSTOMERS', CUSTOMERS, 1, 10_000_000),
    tablePrefix: prefix,
    dbPoolSize,
    cacheTtlMs: int(env, 'CACHE_TTL_MS', 60_000, 1, 86_400_000),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 16_384, 64, 10_485_760),
    // Far below the ~5,000 levels where JSON.stringify overflows the stack (issue 18).
    bodyMaxDepth: int(env, 'BODY_MAX_DEPTH', 32, 1, 1000),
    poolMaxWorkers: int(env, 'POOL_MAX_WORKERS', 4, 1, 1024),
    poolMaxQueued: int(env, 'POOL_MAX_QUEUED', 1000, 1, 1_000_000),
    // PGlite runs one query at a time, so more than a few in flight only queue inside it.
    safetyConcurrency: int(env, 'SAFETY_CONCURRENCY', databaseUrl === undefined ? 4 : dbPoolSize, 1, 10_000),
    safetyQueueSize: int(env, 'SAFETY_QUEUE_SIZE', 64, 0, 1_000_000),
    safetyQueue: oneOf(env, 'SAFETY_QUEUE', 'deadline', ['fifo', 'codel', 'codel-timer', 'deadline'] as const),
    safetyDeadlineMs: int(env, 'SAFETY_DEADLINE_MS', 20, 1, 60_000),
    eventsBufferSize,
    eventsBatchSize,
    eventsMaxBlockMs: int(env, 'EVENTS_MAX_BLOCK_MS', 50, 0, 60_000),
    auditBufferSize,
    auditBatchSize,
    // PGlite has one connection: concurrent flushes would only queue inside it.
    flushConcurrency: int(env, 'FLUSH_CONCURRENCY', databaseUrl === undefined ? 1 : Math.min(4, dbPoolSize), 1, 64),
    eventsMaxPerRequest: int(env, 'EVENTS_MAX_PER_REQUEST', 100, 1, 10_000),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    dashboardMaxStreams: int(env, 'DASHBOARD_MAX_STREAMS', 100, 1, 100_000),
    requestTimeoutMs,
    headersTimeoutMs,
    dbLatencyMs: int(env, 'DB_LATENCY_MS', 0, 0, MAX_DB_LATENCY_MS),
  };
}
