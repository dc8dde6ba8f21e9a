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

export type DatabaseKind = 'pglite' | 'mysql' | 'postgres';

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
  /** Inserts every event in one multi-row statement (one round trip). */
  insertEvents(events: readonly NewEvent[]): Promise<void>;
  countEvents(): Promise<number>;
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
}

const IDENT_RE = /^[a-z_][a-z0-9_]*$/;

export function tableNames(prefix = 'demo_'): TableNames {
  if (!IDENT_RE.test(prefix) || prefix.length > 40) {
    throw new TypeError(
      `tablePrefix must match ${IDENT_RE} and be at most 40 characters, got ${JSON.stringify(prefix)}`,
    );
  }
  return { customers: `${prefix}customers`, events: `${prefix}events` };
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

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
