/**
 * The SQL that PGlite and pg share (both speak PostgreSQL, with `$n` parameters).
 */
import {
  type AuditRecord,
  type CustomerReport,
  type DatabaseStats,
  type PrunedRows,
  type NewEvent,
  reportSql,
  SEED_BATCH,
  seededCustomer,
  type TableNames,
  tableNames,
  toReport,
} from './Database.js';

/** What both PostgreSQL drivers can do: run one parameterized statement, get rows back. */
export type PgQuery = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

export async function pgInit(query: PgQuery, t: TableNames, customers: number): Promise<void> {
  await query(
    `CREATE TABLE IF NOT EXISTS ${t.customers} (
      id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL, city text NOT NULL, tier text NOT NULL)`,
  );
  await query(
    `CREATE TABLE IF NOT EXISTS ${t.events} (
      id bigserial PRIMARY KEY, type text NOT NULL, payload text NOT NULL, received_at timestamptz NOT NULL)`,
  );
  await query(
    `CREATE TABLE IF NOT EXISTS ${t.audit} (
      id bigserial PRIMARY KEY, at timestamptz NOT NULL, method text NOT NULL, route text NOT NULL,
      status integer NOT NULL, duration_ms double precision NOT NULL)`,
  );
  const [{ n, max }] = await query(`SELECT count(*)::int AS n, coalesce(max(id), 0)::int AS max FROM ${t.customers}`);
  if (Number(n) === customers && Number(max) === customers) return;
  await query(`TRUNCATE ${t.customers}`);
  for (let from = 1; from <= customers; from += SEED_BATCH) {
    const to = Math.min(customers, from + SEED_BATCH - 1);
    const values: string[] = [];
    const params: unknown[] = [];
    for (let id = from; id <= to; id++) {
      const c = seededCustomer(id);
      const p = params.length;
      values.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5})`);
      params.push(c.id, c.name, c.email, c.city, c.tier);
    }
    await query(`INSERT INTO ${t.customers} (id, name, email, city, tier) VALUES ${values.join(', ')}`, params);
  }
}

export function pgInsertEvents(t: TableNames, events: readonly NewEvent[]): { sql: string; params: unknown[] } {
  const values: string[] = [];
  const params: unknown[] = [];
  for (const e of events) {
    const p = params.length;
    values.push(`($${p + 1}, $${p + 2}, to_timestamp($${p + 3}::double precision / 1000))`);
    params.push(e.type, JSON.stringify(e.payload ?? null), e.receivedAt);
  }
  return { sql: `INSERT INTO ${t.events} (type, payload, received_at) VALUES ${values.join(', ')}`, params };
}

export function pgInsertAudit(t: TableNames, records: readonly AuditRecord[]): { sql: string; params: unknown[] } {
  const values: string[] = [];
  const params: unknown[] = [];
  for (const r of records) {
    const p = params.length;
    values.push(`(to_timestamp($${p + 1}::double precision / 1000), $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5})`);
    params.push(r.at, r.method, r.route, r.status, r.durationMs);
  }
  return { sql: `INSERT INTO ${t.audit} (at, method, route, status, duration_ms) VALUES ${values.join(', ')}`, params };
}

export function pgSelectCustomer(t: TableNames): string {
  return `SELECT id, name, email, city, tier FROM ${t.customers} WHERE id = $1`;
}

/**
 * What the two PostgreSQL-speaking implementations share beyond the SQL text: every method that
 * is one statement through `query`. Subclasses bring the connection (`query`), `init`,
 * `getCustomer` (pg prepares it by name) and `close`.
 */
export abstract class PgDatabaseBase {
  protected readonly tables: TableNames;
  protected readonly selectCustomer: string;
  protected abstract readonly query: PgQuery;

  constructor(tablePrefix: string | undefined) {
    this.tables = tableNames(tablePrefix);
    this.selectCustomer = pgSelectCustomer(this.tables);
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

  async stats(): Promise<DatabaseStats> {
    const t = this.tables;
    const [row] = await this.query(
      `SELECT (SELECT count(*) FROM ${t.customers})::bigint AS customers_rows,
        pg_total_relation_size('${t.customers}') AS customers_bytes,
        (SELECT count(*) FROM ${t.events})::bigint AS events_rows,
        pg_total_relation_size('${t.events}') AS events_bytes,
        (SELECT count(*) FROM ${t.audit})::bigint AS audit_rows,
        pg_total_relation_size('${t.audit}') AS audit_bytes,
        pg_database_size(current_database()) AS database_bytes`,
    );
    let walBytes: number | null = null;
    try {
      const [wal] = await this.query('SELECT coalesce(sum(size), 0)::bigint AS bytes FROM pg_ls_waldir()');
      walBytes = Number(wal.bytes);
    } catch {
      // pg_ls_waldir needs superuser or pg_monitor.
    }
    const n = (key: string) => Number(row[key]);
    return {
      tables: {
        customers: { rows: n('customers_rows'), bytes: n('customers_bytes') },
        events: { rows: n('events_rows'), bytes: n('events_bytes') },
        audit: { rows: n('audit_rows'), bytes: n('audit_bytes') },
      },
      databaseBytes: n('database_bytes'),
      walBytes,
    };
  }

  /**
   * Deletes all but the newest `keepRows` rows by id (bigserial, so newest = largest), then
   * VACUUMs: deleted rows' space is reused by later INSERTs, so the table stops growing (the
   * file does not shrink; `VACUUM FULL` would, holding an exclusive lock).
   */
  async prune(keepRows: number): Promise<PrunedRows> {
    const deleted = async (table: string) => {
      const rows = await this.query(
        `WITH gone AS (DELETE FROM ${table} WHERE id <= (SELECT max(id) FROM ${table}) - $1 RETURNING 1)
         SELECT count(*)::bigint AS n FROM gone`,
        [keepRows],
      );
      const n = Number(rows[0].n);
      if (n > 0) await this.query(`VACUUM ${table}`);
      return n;
    };
    return { events: await deleted(this.tables.events), audit: await deleted(this.tables.audit) };
  }

  async dropTables(): Promise<void> {
    await this.query(`DROP TABLE IF EXISTS ${this.tables.customers}, ${this.tables.events}, ${this.tables.audit}`);
  }
}
