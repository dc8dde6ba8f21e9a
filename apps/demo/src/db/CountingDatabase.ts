/**
 * A Database that counts the statements it sends, by database kind and query name, in
 * `valve_demo_db_queries_total` (the dashboard's "DB queries/s"). A decorator rather than a
 * counter in each driver, so the three implementations stay identical and the count is taken at
 * one place: when the call is made, whether it then succeeds or fails (a failed query still
 * reached the database, or tried to).
 */
import type { Counter, MetricsRegistry } from '@valve/core';
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

  constructor(
    private readonly inner: Database,
    registry: MetricsRegistry,
  ) {
    this.kind = inner.kind;
    this.description = inner.description;
    const counters = {} as Record<QueryName, Counter>;
    for (const query of QUERY_NAMES) {
      counters[query] = registry.counter({
        name: 'valve_demo_db_queries_total',
        help: 'Statements sent to the database, by database kind and query (seeding and DDL not counted).',
        labels: { database: inner.kind, query },
      });
    }
    this.counters = counters;
  }

  init(customers: number): Promise<void> {
    return this.inner.init(customers);
  }

  getCustomer(id: number): Promise<Customer | undefined> {
    this.counters.get_customer.inc();
    return this.inner.getCustomer(id);
  }

  customerReport(id: number): Promise<CustomerReport | undefined> {
    this.counters.customer_report.inc();
    return this.inner.customerReport(id);
  }

  insertEvents(events: readonly NewEvent[]): Promise<void> {
    // The drivers send nothing for an empty batch.
    if (events.length > 0) this.counters.insert_events.inc();
    return this.inner.insertEvents(events);
  }

  countEvents(): Promise<number> {
    this.counters.count_events.inc();
    return this.inner.countEvents();
  }

  insertAudit(records: readonly AuditRecord[]): Promise<void> {
    if (records.length > 0) this.counters.insert_audit.inc();
    return this.inner.insertAudit(records);
  }

  countAudit(): Promise<number> {
    this.counters.count_audit.inc();
    return this.inner.countAudit();
  }

  dropTables(): Promise<void> {
    return this.inner.dropTables();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
