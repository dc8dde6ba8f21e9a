/**
 * Embedded PostgreSQL (PGlite, WASM): the default, so the demo runs with nothing installed.
 * One connection: PGlite serializes queries (about 230 µs per lookup on the project's
 * machines), which is exactly the scarce resource the valves are for.
 */
import { PGlite } from '@electric-sql/pglite';
import {
  type AuditRecord,
  type Customer,
  type CustomerReport,
  type Database,
  type DatabaseOptions,
  type NewEvent,
  type TableNames,
  reportSql,
  tableNames,
  toCustomer,
  toReport,
} from './Database.js';
import { type PgQuery, pgInit, pgInsertAudit, pgInsertEvents, pgSelectCustomer } from './postgresSql.js';

export interface PgliteOptions extends DatabaseOptions {
  /** A directory to keep the data in; in memory when undefined. */
  dataDir?: string;
}

export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly description: string;
  private readonly tables: TableNames;
  private readonly selectCustomer: string;
  private db: PGlite | undefined;
  private readonly dataDir: string | undefined;

  constructor(options: PgliteOptions = {}) {
    this.tables = tableNames(options.tablePrefix);
    this.selectCustomer = pgSelectCustomer(this.tables);
    this.dataDir = options.dataDir;
    this.description = `embedded PGlite (${options.dataDir ?? 'in memory'})`;
  }

  private readonly query: PgQuery = async (sql, params) => {
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

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    await db?.close();
  }
}
