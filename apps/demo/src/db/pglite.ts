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
 */
import { type Customer, type Database, type DatabaseOptions, toCustomer } from './Database.js';
import { PgliteWorkerConnection, PgliteWorkerError } from './PgliteWorkerConnection.js';
import { PgDatabaseBase, type PgQuery, pgInit } from './postgresSql.js';

export interface PgliteOptions extends DatabaseOptions {
  /** A directory to keep the data in; in memory when undefined. */
  dataDir?: string;
  /** The worker script (tests); @default PgliteWorkerConnection's `pgliteWorker.js`. */
  workerUrl?: URL;
}

export class PgliteDatabase extends PgDatabaseBase implements Database {
  readonly kind = 'pglite' as const;
  readonly description: string;
  private connection: PgliteWorkerConnection | undefined;
  private readonly dataDir: string | undefined;
  private readonly workerUrl: URL | undefined;

  constructor(options: PgliteOptions = {}) {
    super(options.tablePrefix);
    this.dataDir = options.dataDir;
    this.workerUrl = options.workerUrl;
    this.description = `embedded PGlite (${options.dataDir ?? 'in memory'}, in a worker thread)`;
  }

  protected readonly query: PgQuery = (sql, params) => {
    if (this.connection === undefined) {
      return Promise.reject(new PgliteWorkerError('PgliteDatabase: call init() first (or it was closed)'));
    }
    return this.connection.query(sql, params);
  };

  async init(customers: number): Promise<void> {
    if (this.connection === undefined) {
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
  }

  async getCustomer(id: number): Promise<Customer | undefined> {
    const rows = await this.query(this.selectCustomer, [id]);
    return toCustomer(rows[0]);
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }
}
