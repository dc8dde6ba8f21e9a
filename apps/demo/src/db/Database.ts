/**
 * The demo's data access: one small interface, three implementations (embedded PGlite, MySQL or
 * MariaDB through mysql2, PostgreSQL through pg), chosen by `DATABASE_URL` in `createDatabase`.
 *
 * Every statement is parameterized. Table names cannot be parameters, so they come only from
 * `tableNames(prefix)`, which accepts nothing but `[a-z_][a-z0-9_]*`.
 */

export interface Customer {
  id: number;
  name: string;
  email: string;
  city: string;
  tier: string;
}

/** One event as accepted by `POST /events`. */
export interface NewEvent {
  type: string;
  /** JSON-serializable; stored as JSON text. */
  payload: unknown;
  /** Milliseconds since the epoch when the server accepted it. */
  receivedAt: number;
}

/** One audit record: what the request-scoped background work writes for every answered request. */
export interface AuditRecord {
  method: string;
  /** The matched route pattern (`/customers/:id`), never the raw path. */
  route: string;
  status: number;
  durationMs: number;
  /** Milliseconds since the epoch when the response finished. */
  at: number;
}

/**
 * `GET /reports/customers/:id`: the customer's segment (same city and tier) summarized. There is
 * no index on (city, tier), so every call scans the customers table: the deliberately costly
 * query of the overload scenario (a real query, no `pg_sleep`).
 */
export interface CustomerReport {
  id: number;
  city: string;
  tier: string;
  /** Other customers in the same city and tier. */
  peers: number;
  /** The smallest peer name (text order), or null without peers. */
  firstPeer: string | null;
}

export type DatabaseKind = 'pglite' | 'mysql' | 'postgres';

/** What `prune` deleted, per table. */
export interface PrunedRows {
  events: number;
  audit: number;
}

/** What the database stores (GET /db/stats; issue 18 item 8: how much of the memory is data). */
export interface DatabaseStats {
  /** Rows and bytes (`pg_total_relation_size`: heap, indexes, TOAST, free space map) per table. */
  tables: Record<'customers' | 'events' | 'audit', { rows: number; bytes: number }>;
  /** `pg_database_size`: every relation of the database, catalogs included. */
  databaseBytes: number;
  /** Bytes of the write-ahead log segments (`pg_ls_waldir`); null when the role may not read it. */
  walBytes: number | null;
}

export interface Database {
  readonly kind: DatabaseKind;
  /** Where it points, without a password (for logs and /healthz). */
  readonly description: string;
  /**
   * Creates the tables if they are missing and makes the customers table hold exactly ids
   * 1..`customers` (re-seeding when the count differs). Idempotent.
   */
  init(customers: number): Promise<void>;
  getCustomer(id: number): Promise<Customer | undefined>;
  /** The costly segment report (a full scan of the customers table); undefined for an unknown id. */
  customerReport(id: number): Promise<CustomerReport | undefined>;
  /** Inserts every event in one multi-row statement (one round trip). */
  insertEvents(events: readonly NewEvent[]): Promise<void>;
  countEvents(): Promise<number>;
  /** Inserts audit records in one multi-row statement. */
  insertAudit(records: readonly AuditRecord[]): Promise<void>;
  countAudit(): Promise<number>;
  /**
   * PostgreSQL and PGlite: what the database stores. Undefined for MySQL/MariaDB (not needed
   * there: the server's memory is not the demo's).
   */
  stats?(): Promise<DatabaseStats>;
  /**
   * PostgreSQL and PGlite: deletes all but the newest `keepRows` rows of the events and audit
   * tables and VACUUMs them so the space is reused (DEMO_RETAIN_ROWS).
   */
  prune?(keepRows: number): Promise<PrunedRows>;
  /** Drops this instance's tables (tests, with their own prefix). */
  dropTables(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Prefix of the table names, so tests sharing a server use their own tables. @default 'demo_' */
  tablePrefix?: string;
  /** Connections in the pool of mysql2 and pg (PGlite has one). @default 10 */
  poolSize?: number;
}

export interface TableNames {
  customers: string;
  events: string;
  audit: string;
}

const IDENT_RE = /^[a-z_][a-z0-9_]*$/;

export function tableNames(prefix = 'demo_'): TableNames {
  if (!IDENT_RE.test(prefix) || prefix.length > 40) {
    throw new TypeError(
      `tablePrefix must match ${IDENT_RE} and be at most 40 characters, got ${JSON.stringify(prefix)}`,
    );
  }
  return { customers: `${prefix}customers`, events: `${prefix}events`, audit: `${prefix}audit_log` };
}

const CITIES = ['Lisbon', 'Osaka', 'Nairobi', 'Lima', 'Oslo', 'Perth', 'Quebec', 'Tunis'];
const TIERS = ['free', 'pro', 'enterprise'];

/** The seeded row for an id: deterministic, so tests know what to expect. */
export function seededCustomer(id: number): Customer {
  return {
    id,
    name: `Customer ${id}`,
    email: `customer${id}@example.com`,
    city: CITIES[id % CITIES.length],
    tier: TIERS[id % TIERS.length],
  };
}

/** Rows per multi-row INSERT while seeding (5 parameters each; well under every driver's limit). */
export const SEED_BATCH = 1000;

/** Drivers return ids as strings or bigints at times; the interface promises numbers. */
export function toCustomer(row: Record<string, unknown> | undefined): Customer | undefined {
  if (row === undefined) return undefined;
  return {
    id: Number(row.id),
    name: String(row.name),
    email: String(row.email),
    city: String(row.city),
    tier: String(row.tier),
  };
}

/** Drivers return counts as strings or bigints at times. */
export function toReport(row: Record<string, unknown> | undefined): CustomerReport | undefined {
  if (row === undefined) return undefined;
  return {
    id: Number(row.id),
    city: String(row.city),
    tier: String(row.tier),
    peers: Number(row.peers),
    firstPeer: row.first_peer === null || row.first_peer === undefined ? null : String(row.first_peer),
  };
}

/**
 * The report query, the same text for every dialect except the placeholder. The LEFT JOIN keeps a
 * customer without peers; the join condition has no index to use, so it scans.
 */
export function reportSql(t: TableNames, placeholder: string): string {
  return `SELECT c.id, c.city, c.tier, count(p.id) AS peers, min(p.name) AS first_peer
    FROM ${t.customers} c LEFT JOIN ${t.customers} p ON p.city = c.city AND p.tier = c.tier AND p.id <> c.id
    WHERE c.id = ${placeholder} GROUP BY c.id, c.city, c.tier`;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
