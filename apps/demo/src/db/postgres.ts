/** PostgreSQL through pg with a pool (10 connections by default), for `postgres://` URLs. */
import pg from 'pg';
import {
  type AuditRecord,
  type Customer,
  type CustomerReport,
  type Database,
  type DatabaseOptions,
  type NewEvent,
  redactUrl,
  type TableNames,
  reportSql,
  tableNames,
  toCustomer,
  toReport,
} from './Database.js';
import { type PgQuery, pgInit, pgInsertAudit, pgInsertEvents, pgSelectCustomer } from './postgresSql.js';

export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  readonly description: string;
  private readonly tables: TableNames;
  private readonly selectCustomer: string;
  private readonly pool: pg.Pool;

  constructor(url: string, options: DatabaseOptions = {}) {
    this.tables = tableNames(options.tablePrefix);
    this.selectCustomer = pgSelectCustomer(this.tables);
    const max = options.poolSize ?? 10;
    this.pool = new pg.Pool({ connectionString: url, max });
    // An idle client that loses its connection emits 'error' on the pool; without a listener
    // that would crash the process. The next query gets a fresh client.
    this.pool.on('error', () => {});
    this.description = `PostgreSQL ${redactUrl(url)} (pg pool of ${max})`;
  }

  private readonly query: PgQuery = async (sql, params) => {
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

  async customerReport(id: number): Promise<CustomerReport | undefined> {
    const rows = await this.query(reportSql(this.tables, '$1'), [id]);
    return toReport(rows[0]);
  }

  async insertAudit(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const { sql, params } = pgInsertAudit(this.tables, records);
    await this.query(sql, params);
  }

  async countAudit(): Promise<number> {
    const rows = await this.query(`SELECT count(*)::int AS n FROM ${this.tables.audit}`);
    return Number(rows[0].n);
  }

  async insertEvents(events: readonly NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    const { sql, params } = pgInsertEvents(this.tables, events);
    await this.query(sql, params);
  }

  async countEvents(): Promise<number> {
    const rows = await this.query(`SELECT count(*)::int AS n FROM ${this.tables.events}`);
    return Number(rows[0].n);
  }

  async dropTables(): Promise<void> {
    await this.query(`DROP TABLE IF EXISTS ${this.tables.customers}, ${this.tables.events}, ${this.tables.audit}`);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
