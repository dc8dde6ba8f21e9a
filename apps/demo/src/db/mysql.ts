/** MySQL or MariaDB through mysql2 with a pool of 10 connections (the seed's set-up), for `mysql://` URLs. */
import mysql from 'mysql2/promise';
import {
  type AuditRecord,
  type Customer,
  type CustomerReport,
  type Database,
  type DatabaseOptions,
  type NewEvent,
  redactUrl,
  reportSql,
  SEED_BATCH,
  seededCustomer,
  type TableNames,
  tableNames,
  toCustomer,
  toReport,
} from './Database.js';

/**
 * Every table is created in utf8mb4 whatever the server's or database's default (issue 18: on a
 * MariaDB whose default was latin1, events with emoji were acknowledged and then dead-lettered,
 * `Incorrect string value`). utf8mb4 stores every string JSON can carry, so nothing accepted
 * at the door is unstorable.
 */
const UTF8MB4 = 'DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci';

type Row = Record<string, unknown>;

export class MysqlDatabase implements Database {
  readonly kind = 'mysql' as const;
  readonly description: string;
  private readonly tables: TableNames;
  private readonly pool: mysql.Pool;

  constructor(url: string, options: DatabaseOptions = {}) {
    this.tables = tableNames(options.tablePrefix);
    const connectionLimit = options.poolSize ?? 10;
    this.pool = mysql.createPool({ uri: url.replace(/^mariadb:/, 'mysql:'), connectionLimit });
    this.description = `MySQL/MariaDB ${redactUrl(url)} (mysql2 pool of ${connectionLimit})`;
  }

  private async rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    const [rows] = await this.pool.query(sql, params);
    return rows as Row[];
  }

  async init(customers: number): Promise<void> {
    const t = this.tables;
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${t.customers} (
        id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NOT NULL,
        city VARCHAR(50) NOT NULL, tier VARCHAR(20) NOT NULL) ${UTF8MB4}`,
    );
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${t.events} (
        id BIGINT AUTO_INCREMENT PRIMARY KEY, type VARCHAR(64) NOT NULL, payload MEDIUMTEXT NOT NULL,
        received_at DATETIME(3) NOT NULL) ${UTF8MB4}`,
    );
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${t.audit} (
        id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(3) NOT NULL, method VARCHAR(16) NOT NULL,
        route VARCHAR(200) NOT NULL, status SMALLINT NOT NULL, duration_ms DOUBLE NOT NULL) ${UTF8MB4}`,
    );
    const [{ n, max }] = await this.rows(`SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS max FROM ${t.customers}`);
    if (Number(n) === customers && Number(max) === customers) return;
    await this.pool.query(`TRUNCATE TABLE ${t.customers}`);
    for (let from = 1; from <= customers; from += SEED_BATCH) {
      const rows: unknown[][] = [];
      for (let id = from; id <= Math.min(customers, from + SEED_BATCH - 1); id++) {
        const c = seededCustomer(id);
        rows.push([c.id, c.name, c.email, c.city, c.tier]);
      }
      // mysql2 expands a nested array bound to `?` into `(…), (…)`, each value escaped.
      await this.pool.query(`INSERT INTO ${t.customers} (id, name, email, city, tier) VALUES ?`, [rows]);
    }
  }

  async getCustomer(id: number): Promise<Customer | undefined> {
    // `execute` uses a server-side prepared statement, cached per connection.
    const [rows] = await this.pool.execute(
      `SELECT id, name, email, city, tier FROM ${this.tables.customers} WHERE id = ?`,
      [id],
    );
    return toCustomer((rows as Row[])[0]);
  }

  async customerReport(id: number): Promise<CustomerReport | undefined> {
    const [rows] = await this.pool.execute(reportSql(this.tables, '?'), [id]);
    return toReport((rows as Row[])[0]);
  }

  async insertAudit(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const rows = records.map((r) => [new Date(r.at), r.method, r.route.slice(0, 200), r.status, r.durationMs]);
    await this.pool.query(`INSERT INTO ${this.tables.audit} (at, method, route, status, duration_ms) VALUES ?`, [rows]);
  }

  async countAudit(): Promise<number> {
    const [{ n }] = await this.rows(`SELECT COUNT(*) AS n FROM ${this.tables.audit}`);
    return Number(n);
  }

  async insertEvents(events: readonly NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((e) => [e.type, JSON.stringify(e.payload ?? null), new Date(e.receivedAt)]);
    await this.pool.query(`INSERT INTO ${this.tables.events} (type, payload, received_at) VALUES ?`, [rows]);
  }

  async countEvents(): Promise<number> {
    const [{ n }] = await this.rows(`SELECT COUNT(*) AS n FROM ${this.tables.events}`);
    return Number(n);
  }

  async dropTables(): Promise<void> {
    await this.pool.query(`DROP TABLE IF EXISTS ${this.tables.customers}, ${this.tables.events}, ${this.tables.audit}`);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
