/**
 * Embedded PostgreSQL (PGlite, WASM): the default, so the demo runs with nothing installed.
 * One connection: PGlite serializes queries (about 230 µs per lookup on the project's
 * machines), which is exactly the scarce resource the valves are for.
 *
 * PGlite runs in a `worker_threads` Worker (PgliteWorkerConnection, pgliteWorker.js), not on the
 * server's event loop: WASM work is synchronous, so on the server's own thread a query was never
 * in flight while other requests arrived, and neither a BurstValve (nothing to coalesce) nor a
 * SafetyValve (no queue it could see) had anything to act on. In the worker a query takes real
 * time off the main thread, as it does on a database server.
 *
 * Supervision (issue 18 item 4: a dead worker left a zombie that failed every request and still
 * looked healthy). When the worker ends unexpectedly, its unanswered queries reject with
 * `ERR_PGLITE_WORKER_EXITED` (PgliteWorkerConnection) and this class restarts it after a back-off
 * on the injected clock: `initialDelayMs`, doubling per consecutive crash, capped at
 * `maxDelayMs`. A crash of a worker that had been up for `stableAfterMs` starts the count again;
 * after `maxAttempts` consecutive failed restarts it gives up (state `failed`, the server exits
 * non-zero so its supervisor restarts the process). State machine:
 *
 *   starting --init ok--> up --worker exit--> restarting --timer, start + schema ok--> up
 *                                                 |  ^--start or schema failed (attempts left)--'
 *                                                 '--attempts exhausted--> failed
 *   any --close()--> closed
 *
 * While not `up`: reads reject at once with `ERR_PGLITE_UNAVAILABLE` (the routes answer 503), and
 * writes (the batched event and audit INSERTs, whose rows were already acknowledged) wait for the
 * restart, at most `writeWaitMs`, so a restart does not dead-letter them. In memory, a restarted
 * worker is a new, empty database: the schema and the customers are created again, and the events
 * and audit rows stored before the crash are gone (with PGLITE_DATA_DIR they stay on disk).
 */
import { type Clock, systemClock, type Timer } from '@valve/core';
import { type Customer, type Database, type DatabaseOptions, toCustomer } from './Database.js';
import { PgliteWorkerConnection, PgliteWorkerError } from './PgliteWorkerConnection.js';
import { PgDatabaseBase, type PgQuery, pgInit, pgInsertAudit, pgInsertEvents } from './postgresSql.js';

export type PgliteState = 'starting' | 'up' | 'restarting' | 'failed' | 'closed';

export interface PgliteHealth {
  state: PgliteState;
  /** Workers that ended unexpectedly since start. */
  exits: number;
  /** Restarts that completed (a new worker answered, schema ready). */
  restarts: number;
  /** The restart attempt under way or scheduled since the last stable worker (0 while up). */
  attempt: number;
  /** While `restarting` with a timer pending: ms until the next attempt on the clock. */
  nextAttemptInMs?: number;
  /** The last unexpected exit or failed restart. */
  lastError?: string;
}

export interface PgliteRestartOptions {
  /** Delay before the first restart after a crash, in ms, >= 0. @default 250 */
  initialDelayMs?: number;
  /** Cap of the doubling delay, in ms, >= initialDelayMs. @default 10_000 */
  maxDelayMs?: number;
  /** Consecutive restarts tried before giving up (state `failed`), >= 0. @default 5 */
  maxAttempts?: number;
  /** A worker up this long (ms) before it crashes resets the back-off. @default 60_000 */
  stableAfterMs?: number;
  /** Longest time a write waits for a restart before rejecting, in ms. @default 30_000 */
  writeWaitMs?: number;
}

export interface PgliteOptions extends DatabaseOptions {
  /** A directory to keep the data in; in memory when undefined. */
  dataDir?: string;
  /** The worker script (tests, fault probes); @default PgliteWorkerConnection's `pgliteWorker.js`. */
  workerUrl?: URL;
  /** Times the restart back-off and the write wait. @default systemClock */
  clock?: Clock;
  restart?: PgliteRestartOptions;
  /**
   * Time between two `CHECKPOINT`s, in ms; 0: never. PGlite runs PostgreSQL in single-user mode,
   * with no checkpointer: without them the write-ahead log is never recycled and grew by 168 MB
   * in a 5-minute soak (issue 18 item 8), in memory for an in-memory database. A checkpoint lets
   * PostgreSQL recycle the segments (5 of 16 MB stay, `min_wal_size`). @default 30_000
   */
  checkpointIntervalMs?: number;
  /** Called after every state change (metrics, logs, the server's exit on `failed`). */
  onStateChange?: (health: PgliteHealth) => void;
}

const DEFAULTS: Required<PgliteRestartOptions> = {
  initialDelayMs: 250,
  maxDelayMs: 10_000,
  maxAttempts: 5,
  stableAfterMs: 60_000,
  writeWaitMs: 30_000,
};

function validateRestart(o: PgliteRestartOptions | undefined): Required<PgliteRestartOptions> {
  const r = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof PgliteRestartOptions)[]) {
    const value = o?.[key] ?? DEFAULTS[key];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`restart.${key} must be an integer >= 0, got ${String(value)}`);
    }
    r[key] = value;
  }
  if (r.maxDelayMs < r.initialDelayMs) {
    throw new RangeError(`restart.maxDelayMs must be >= initialDelayMs (${r.initialDelayMs}), got ${r.maxDelayMs}`);
  }
  return r;
}

/** The delay before restart attempt `attempt` (1-based): doubling from `initialDelayMs`, capped. */
export function restartDelayMs(restart: Required<PgliteRestartOptions>, attempt: number): number {
  return Math.min(restart.maxDelayMs, restart.initialDelayMs * 2 ** (attempt - 1));
}

interface UpWaiter {
  resolve: (connection: PgliteWorkerConnection) => void;
  reject: (error: Error) => void;
  timer: Timer;
}

export class PgliteDatabase extends PgDatabaseBase implements Database {
  readonly kind = 'pglite' as const;
  readonly description: string;
  /** The worker answering queries; set only while `state` is `up`. */
  private connection: PgliteWorkerConnection | undefined;
  /** A worker being started by a restart (closed by `close()` if it comes first). */
  private starting: PgliteWorkerConnection | undefined;
  private readonly dataDir: string | undefined;
  private readonly workerUrl: URL | undefined;
  private readonly clock: Clock;
  private readonly restart: Required<PgliteRestartOptions>;
  private readonly onStateChange: ((health: PgliteHealth) => void) | undefined;
  private state: PgliteState = 'starting';
  private customers = 0;
  private exits = 0;
  private restarts = 0;
  /** Restarts tried since the last stable worker; the back-off exponent. */
  private attempts = 0;
  /** Clock time the current worker came up. */
  private upSince = 0;
  private restartTimer: Timer | undefined;
  private restartAt = 0;
  private lastError: string | undefined;
  private readonly checkpointIntervalMs: number;
  private checkpointTimer: Timer | undefined;
  /** Set by `prepareShutdown()`: no more back-off, and a failed restart gives up. */
  private shuttingDown = false;
  /** Writes waiting for the restart (resolved with the new connection, rejected on failed/closed/timeout). */
  private readonly upWaiters = new Set<UpWaiter>();

  constructor(options: PgliteOptions = {}) {
    super(options.tablePrefix);
    this.dataDir = options.dataDir;
    this.workerUrl = options.workerUrl;
    this.clock = options.clock ?? systemClock;
    this.restart = validateRestart(options.restart);
    this.onStateChange = options.onStateChange;
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 30_000;
    if (!Number.isSafeInteger(this.checkpointIntervalMs) || this.checkpointIntervalMs < 0) {
      throw new RangeError(`checkpointIntervalMs must be an integer >= 0, got ${String(options.checkpointIntervalMs)}`);
    }
    this.description = `embedded PGlite (${options.dataDir ?? 'in memory'}, in a worker thread)`;
  }

  health(): PgliteHealth {
    const h: PgliteHealth = {
      state: this.state,
      exits: this.exits,
      restarts: this.restarts,
      attempt: this.state === 'up' ? 0 : this.attempts,
    };
    if (this.restartTimer !== undefined) h.nextAttemptInMs = Math.max(0, this.restartAt - this.clock.now());
    if (this.lastError !== undefined) h.lastError = this.lastError;
    return h;
  }

  private unavailable(): PgliteWorkerError {
    if (this.state === 'closed' || (this.state === 'starting' && this.connection === undefined)) {
      return new PgliteWorkerError('ERR_PGLITE_WORKER_CLOSED', 'PgliteDatabase: call init() first (or it was closed)');
    }
    const why =
      this.state === 'failed'
        ? `gave up after ${this.restart.maxAttempts} failed restart(s)`
        : `is restarting (exit ${this.exits}, attempt ${this.attempts} of ${this.restart.maxAttempts})`;
    return new PgliteWorkerError('ERR_PGLITE_UNAVAILABLE', `PgliteDatabase: the PGlite worker ${why}`, {
      cause: this.lastError,
    });
  }

  /** Reads: the current worker, or a rejection at once. */
  protected readonly query: PgQuery = (sql, params) => {
    if (this.connection === undefined) return Promise.reject(this.unavailable());
    return this.connection.query(sql, params);
  };

  /** Writes: like `query`, but while restarting they wait for the new worker (bounded). */
  private readonly write: PgQuery = async (sql, params) => {
    const connection = this.connection ?? (this.state === 'restarting' ? await this.whenUp() : undefined);
    if (connection === undefined) throw this.unavailable();
    return connection.query(sql, params);
  };

  private whenUp(): Promise<PgliteWorkerConnection> {
    return new Promise((resolve, reject) => {
      const waiter: UpWaiter = {
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          this.upWaiters.delete(waiter);
          reject(this.unavailable());
        }, this.restart.writeWaitMs),
      };
      this.upWaiters.add(waiter);
    });
  }

  private settleWaiters(connection: PgliteWorkerConnection | undefined): void {
    const waiters = [...this.upWaiters];
    this.upWaiters.clear();
    for (const w of waiters) {
      w.timer.clear();
      if (connection) w.resolve(connection);
      else w.reject(this.unavailable());
    }
  }

  private setState(state: PgliteState): void {
    this.state = state;
    this.onStateChange?.(this.health());
  }

  async init(customers: number): Promise<void> {
    this.customers = customers;
    if (this.connection === undefined) {
      if (this.state === 'closed') throw this.unavailable();
      const connection = new PgliteWorkerConnection({ dataDir: this.dataDir, workerUrl: this.workerUrl });
      try {
        await connection.start();
      } catch (error) {
        await connection.close().catch(() => {});
        throw error;
      }
      this.connection = connection;
    }
    await pgInit(this.query, this.tables, customers);
    if (this.state === 'starting') {
      this.becameUp(this.connection);
      this.scheduleCheckpoint();
    }
  }

  /**
   * The next CHECKPOINT, `checkpointIntervalMs` after the previous one settled (never two at
   * once); skipped while the worker is down. Unref'd: it never keeps the process alive.
   */
  private scheduleCheckpoint(): void {
    if (this.checkpointIntervalMs === 0 || this.state === 'closed') return;
    this.checkpointTimer = this.clock.setTimeout(() => {
      this.checkpointTimer = undefined;
      const connection = this.connection;
      const done = connection === undefined ? Promise.resolve() : connection.query('CHECKPOINT').then(() => {});
      // A failed checkpoint (the worker died meanwhile) is retried at the next interval.
      void done.catch(() => {}).then(() => this.scheduleCheckpoint());
    }, this.checkpointIntervalMs);
  }

  private becameUp(connection: PgliteWorkerConnection): void {
    this.connection = connection;
    this.upSince = this.clock.now();
    this.setState('up');
    this.settleWaiters(connection);
    void connection.exit.then((error) => {
      // Ownership: only the worker that is current now may trigger a restart.
      if (error !== undefined && this.connection === connection) this.workerExited(error);
    });
  }

  private workerExited(error: PgliteWorkerError): void {
    this.connection = undefined;
    this.exits++;
    this.lastError = error.message;
    if (this.clock.now() - this.upSince >= this.restart.stableAfterMs) this.attempts = 0;
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.attempts >= this.restart.maxAttempts || this.shuttingDown) {
      this.setState('failed');
      this.settleWaiters(undefined);
      return;
    }
    this.attempts++;
    const delay = restartDelayMs(this.restart, this.attempts);
    this.restartAt = this.clock.now() + delay;
    // Unref'd (the clock's default): a pending restart never holds the process open by itself.
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      void this.restartNow();
    }, delay);
    this.setState('restarting');
  }

  private async restartNow(): Promise<void> {
    const connection = new PgliteWorkerConnection({ dataDir: this.dataDir, workerUrl: this.workerUrl });
    this.starting = connection;
    try {
      await connection.start();
      await pgInit((sql, params) => connection.query(sql, params), this.tables, this.customers);
    } catch (error) {
      this.starting = undefined;
      await connection.close().catch(() => {});
      if (this.state !== 'restarting') return; // closed meanwhile
      this.lastError = `restart ${this.attempts} failed: ${(error as Error).message}`;
      this.scheduleRestart();
      return;
    }
    this.starting = undefined;
    if (this.state !== 'restarting') {
      await connection.close().catch(() => {});
      return;
    }
    this.restarts++;
    this.becameUp(connection);
  }

  override async insertEvents(events: Parameters<Database['insertEvents']>[0]): Promise<void> {
    if (events.length === 0) return;
    const { sql, params } = pgInsertEvents(this.tables, events);
    await this.write(sql, params);
  }

  override async insertAudit(records: Parameters<Database['insertAudit']>[0]): Promise<void> {
    if (records.length === 0) return;
    const { sql, params } = pgInsertAudit(this.tables, records);
    await this.write(sql, params);
  }

  async getCustomer(id: number): Promise<Customer | undefined> {
    const rows = await this.query(this.selectCustomer, [id]);
    return toCustomer(rows[0]);
  }

  /**
   * The server is shutting down and drains what it accepted into this database: a restart
   * waiting out its back-off starts now (the drain's writes wait for it, bounded by
   * `writeWaitMs`), and if it fails there is no further attempt (state `failed`, the writes
   * reject and are dead-lettered), so shutdown is never held by the back-off.
   */
  prepareShutdown(): void {
    this.shuttingDown = true;
    if (this.restartTimer === undefined) return;
    this.restartTimer.clear();
    this.restartTimer = undefined;
    void this.restartNow();
  }

  /**
   * Closes the worker (letting its sent queries finish), cancels a pending restart, closes a
   * worker being started, and rejects writes waiting for a restart. Leaves no timer or handle.
   */
  async close(): Promise<void> {
    const connection = this.connection;
    const starting = this.starting;
    this.connection = undefined;
    this.starting = undefined;
    this.restartTimer?.clear();
    this.restartTimer = undefined;
    this.checkpointTimer?.clear();
    this.checkpointTimer = undefined;
    if (this.state !== 'closed') this.setState('closed');
    this.settleWaiters(undefined);
    await Promise.all([connection?.close(), starting?.close().catch(() => {})]);
  }
}
