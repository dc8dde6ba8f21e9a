/** Picks the Database implementation from `DATABASE_URL`'s scheme. */
import type { Database, DatabaseOptions } from './Database.js';
import { MysqlDatabase } from './mysql.js';
import { PgliteDatabase, type PgliteOptions } from './pglite.js';
import { PostgresDatabase } from './postgres.js';

export type {
  AuditRecord,
  Customer,
  CustomerReport,
  Database,
  DatabaseKind,
  DatabaseOptions,
  NewEvent,
} from './Database.js';
export { seededCustomer } from './Database.js';
export type { PgliteHealth, PgliteState } from './pglite.js';
export { PgliteDatabase } from './pglite.js';
export { isPgliteUnavailable } from './PgliteWorkerConnection.js';

export interface CreateDatabaseOptions extends DatabaseOptions {
  /** PGlite only: keep the data in this directory instead of in memory. */
  pgliteDataDir?: string;
  /** PGlite only: the worker script, clock, restart back-off and state listener (PgliteDatabase). */
  pglite?: Pick<PgliteOptions, 'workerUrl' | 'clock' | 'restart' | 'onStateChange' | 'checkpointIntervalMs'>;
}

/**
 * `undefined` or `''`: embedded PGlite. `mysql://` or `mariadb://`: mysql2. `postgres://` or
 * `postgresql://`: pg. Anything else throws an error naming DATABASE_URL.
 */
export function createDatabase(url: string | undefined, options: CreateDatabaseOptions = {}): Database {
  if (url === undefined || url === '') {
    return new PgliteDatabase({ ...options, ...options.pglite, dataDir: options.pgliteDataDir });
  }
  const scheme = /^([a-z0-9+.-]+):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'mysql':
    case 'mariadb':
      return new MysqlDatabase(url, options);
    case 'postgres':
    case 'postgresql':
      return new PostgresDatabase(url, options);
    default:
      throw new Error(
        `DATABASE_URL must start with mysql://, mariadb://, postgres:// or postgresql:// (or be unset for the embedded PGlite), got ${JSON.stringify(scheme === undefined ? url.slice(0, 20) : `${scheme}:`)}`,
      );
  }
}
