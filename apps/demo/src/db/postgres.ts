/** PostgreSQL through pg with a pool (10 connections by default), for `postgres://` URLs. */
import pg from 'pg';
import { type Customer, type Database, type DatabaseOptions, redactUrl, toCustomer } from './Database.js';
import { PgDatabaseBase, type PgQuery, pgInit } from './postgresSql.js';

export class PostgresDatabase extends PgDatabaseBase implements Database {
  readonly kind = 'postgres' as const;
  readonly description: string;
  private readonly pool: pg.Pool;

  constructor(url: string, options: DatabaseOptions = {}) {
    super(options.tablePrefix);
    const max = options.poolSize ?? 10;
    this.pool = new pg.Pool({ connectionString: url, max });
    // An idle client that loses its connection emits 'error' on the pool; without a listener
    // that would crash the process. The next query gets a fresh client.
    this.pool.on('error', () => {});
    this.description = `PostgreSQL ${redactUrl(url)} (pg pool of ${max})`;
  }

  protected readonly query: PgQuery = async (sql, params) => {
    const result = await this.pool.query(sql, params);
    return result.rows;
  };

  init(customers: number): Promise<void> {
    return pgInit(this.query, this.tables, customers);
  }

  async getCustomer(id: number): Promise<Customer | undefined> {
    // A named statement is prepared once per connection and reused.
    const result = await this.pool.query({
      name: `get_${this.tables.customers}`,
      text: this.selectCustomer,
      values: [id],
    });
    return toCustomer(result.rows[0]);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
