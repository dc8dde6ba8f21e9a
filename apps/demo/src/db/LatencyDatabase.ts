/**
 * A Database whose every statement takes `latencyMs` longer while holding one of the database's
 * `connections`: the dashboard's "database latency" setting (`DB_LATENCY_MS`, or the page's
 * control), so each valve has work to do at the rates the in-process generator reaches on a
 * 2-core machine.
 *
 * Why a held connection and not a plain delay: a delay alone adds latency but no capacity limit
 * (a thousand sleeping promises cost nothing), so nothing could be overloaded. A slow database is
 * slow *and* busy: a statement keeps its connection for its whole duration, so the database
 * serves at most `connections / (query time + latencyMs)` statements a second and the rest wait
 * for a connection, in arrival order, as in a driver's pool queue (unbounded, like pg's and
 * mysql2's). That is what makes coalescing pay (a hot key's requests find its query in flight),
 * what the SafetyValve sheds in front of, and what slows the event inserts enough for the
 * BackpressureController's watermarks to move.
 *
 * With `latencyMs` 0 (the default) and nothing left queued, statements pass straight through,
 * with no connection accounting: the load benchmarks measure the real database.
 */
import { RingBuffer } from '@valve/core';
import type { AuditRecord, Customer, CustomerReport, Database, NewEvent } from './Database.js';

/** The largest setting: a bound, so a typo cannot park every request for minutes. */
export const MAX_DB_LATENCY_MS = 2000;

export class LatencyDatabase implements Database {
  readonly kind: Database['kind'];
  readonly description: string;
  private latency: number;
  /** Connections currently held by a statement (only counted while latencyMs > 0). */
  private busy = 0;
  /** Statements waiting for a connection, in arrival order. */
  private readonly waiting = new RingBuffer<() => void>();

  constructor(
    private readonly inner: Database,
    /** Statements the database runs at once (PGlite: its one connection; servers: the pool size). */
    readonly connections: number,
    latencyMs = 0,
  ) {
    if (!Number.isInteger(connections) || connections < 1) {
      throw new RangeError(`connections must be an integer >= 1, got ${connections}`);
    }
    this.kind = inner.kind;
    this.description = inner.description;
    this.latency = 0;
    this.latencyMs = latencyMs;
  }

  get latencyMs(): number {
    return this.latency;
  }

  set latencyMs(ms: number) {
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_DB_LATENCY_MS) {
      throw new RangeError(`latencyMs must be an integer from 0 to ${MAX_DB_LATENCY_MS}, got ${ms}`);
    }
    this.latency = ms;
  }

  /** Statements waiting for a connection right now. */
  get queued(): number {
    return this.waiting.size;
  }

  private async slow<T>(run: () => Promise<T>): Promise<T> {
    if (this.latency === 0 && this.busy === 0) return run();
    if (this.busy >= this.connections) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.busy++;
    }
    try {
      const value = await run();
      // Read when the statement runs, not when it queued: setting 0 drains a backlog at the
      // real database's speed.
      const ms = this.latency;
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      return value;
    } finally {
      // Hand the connection straight to the next waiter (busy stays the same), else free it.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.busy--;
    }
  }

  init(customers: number): Promise<void> {
    return this.inner.init(customers);
  }

  getCustomer(id: number): Promise<Customer | undefined> {
    return this.slow(() => this.inner.getCustomer(id));
  }

  customerReport(id: number): Promise<CustomerReport | undefined> {
    return this.slow(() => this.inner.customerReport(id));
  }

  insertEvents(events: readonly NewEvent[]): Promise<void> {
    if (events.length === 0) return this.inner.insertEvents(events);
    return this.slow(() => this.inner.insertEvents(events));
  }

  countEvents(): Promise<number> {
    return this.inner.countEvents();
  }

  insertAudit(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return this.inner.insertAudit(records);
    return this.slow(() => this.inner.insertAudit(records));
  }

  countAudit(): Promise<number> {
    return this.inner.countAudit();
  }

  dropTables(): Promise<void> {
    return this.inner.dropTables();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
