/**
 * Embedded PostgreSQL (PGlite, WASM): the default, so the demo runs with nothing installed.
 * One connection: PGlite serializes queries (about 230 µs per lookup on the project's
 * machines), which is exactly the scarce resource the valves are for.
 */
import { PGlite } from '@electric-sql/pglite';
import { type Customer, type Database, type DatabaseOptions, toCustomer } from './Database.js';
import { PgDatabaseBase, type PgQuery, pgInit } from './postgresSql.js';

export interface PgliteOptions extends DatabaseOptions {
  /** A directory to keep the data in; in memory when undefined. */
  dataDir?: string;
}

export class PgliteDatabase extends PgDatabaseBase implements Database {
  readonly kind = 'pglite' as const;
  readonly description: string;
  private db: PGlite | undefined;
  private readonly dataDir: string | undefined;

  constructor(options: PgliteOptions = {}) {
    super(options.tablePrefix);
    this.dataDir = options.dataDir;
    this.description = `embedded PGlite (${options.dataDir ?? 'in memory'})`;
  }

  protected readonly query: PgQuery = async (sql, params) => {
    const result = await this.connection().query<Record<string, unknown>>(sql, params);
    return result.rows;
  };

  private connection(): PGlite {
    if (this.db === undefined) throw new Error('PgliteDatabase: call init() first');
    return this.db;
  }

  async init(customers: number): Promise<void> {
    this.db ??= await PGlite.create(this.dataDir);
    await pgInit(this.query, this.tables, customers);
  }

  async getCustomer(id: number): Promise<Customer | undefined> {
    const rows = await this.query(this.selectCustomer, [id]);
    return toCustomer(rows[0]);
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    await db?.close();
  }
}
