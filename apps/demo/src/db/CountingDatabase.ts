/**
 * A Database that counts the statements it sends, by database kind and query name, in
 * `valve_demo_db_queries_total` (the dashboard's "DB queries/s"), and times them from the call to
 * the settled promise in `valve_demo_db_query_duration_seconds` (so a slow request can be split
 * into time in the database, including the driver's pool queue, and time elsewhere). A decorator rather than a
 * counter in each driver, so the three implementations stay identical and the count is taken at
 * one place: when the call is made, whether it then succeeds or fails (a failed query still
 * reached the database, or tried to).
 */
import type { Counter, Histogram, MetricsRegistry } from '@valve/core';
import type { AuditRecord, Customer, CustomerReport, Database, NewEvent } from './Database.js';

/** The `query` label values: one per Database method that talks to the database. */
export const QUERY_NAMES = [
  'get_customer',
  'customer_report',
  'insert_events',
  'count_events',
  'insert_audit',
  'count_audit',
] as const;
export type QueryName = (typeof QUERY_NAMES)[number];

export class CountingDatabase implements Database {
  readonly kind: Database['kind'];
  readonly description: string;
  private readonly counters: Record<QueryName, Counter>;
  private readonly durations: Record<QueryName, Histogram>;

  constructor(
    private readonly inner: Database,
    registry: MetricsRegistry,
  ) {
    this.kind = inner.kind;
    this.description = inner.description;
    const counters = {} as Record<QueryName, Counter>;
    const durations = {} as Record<QueryName, Histogram>;
    for (const query of QUERY_NAMES) {
      counters[query] = registry.counter({
        name: 'valve_demo_db_queries_total',
        help: 'Statements sent to the database, by database kind and query (seeding and DDL not counted).',
        labels: { database: inner.kind, query },
      });
      durations[query] = registry.histogram({
        name: 'valve_demo_db_query_duration_seconds',
        help: "Time from sending a statement to its answer, the driver's pool queue included, by database kind and query.",
        labels: { database: inner.kind, query },
      });
    }
    this.counters = counters;
    this.durations = durations;
  }

  /** Counts the call, then times it until it settles (either way). */
  private track<T>(query: QueryName, run: () => Promise<T>): Promise<T> {
    this.counters[query].inc();
    const started = performance.now();
    const done = () => this.durations[query].record(performance.now() - started);
    return run().then(
      (value) => {
        done();
        return value;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
  }

  init(customers: number): Promise<void> {
    return this.inner.init(customers);
  }

  getCustomer(id: number): Promise<Customer | undefined> {
    return this.track('get_customer', () => this.inner.getCustomer(id));
  }

  customerReport(id: number): Promise<CustomerReport | undefined> {
    return this.track('customer_report', () => this.inner.customerReport(id));
  }

  insertEvents(events: readonly NewEvent[]): Promise<void> {
    // The drivers send nothing for an empty batch.
    if (events.length === 0) return this.inner.insertEvents(events);
    return this.track('insert_events', () => this.inner.insertEvents(events));
  }

  countEvents(): Promise<number> {
    return this.track('count_events', () => this.inner.countEvents());
  }

  insertAudit(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return this.inner.insertAudit(records);
    return this.track('insert_audit', () => this.inner.insertAudit(records));
  }

  countAudit(): Promise<number> {
    return this.track('count_audit', () => this.inner.countAudit());
  }

  dropTables(): Promise<void> {
    return this.inner.dropTables();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
