/**
 * DEMO_RETAIN_ROWS (issue 18 item 8): the timer on a ManualClock with a stand-in database, then
 * `prune` and `stats` on a real in-memory PGlite.
 */
import { ManualClock } from '@valve/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteDatabase } from '../src/db/pglite.js';
import { Retention } from '../src/db/Retention.js';
import { deferred } from '@valve/testkit';

describe('Retention', () => {
  it('prunes every intervalMs after the previous prune settled, never two at once, and stop() waits for the one under way', async () => {
    const clock = new ManualClock();
    const calls: number[] = [];
    let gate = deferred<void>();
    const retention = new Retention({
      db: {
        prune: async (keep) => {
          calls.push(keep);
          await gate.promise;
          return { events: 1, audit: 2 };
        },
      },
      keepRows: 100,
      intervalMs: 1000,
      clock,
    });
    retention.start();
    await clock.advanceAsync(999);
    expect(calls).toEqual([]);
    await clock.advanceAsync(1);
    expect(calls).toEqual([100]);
    // The first prune is still running: no second one however long it takes.
    await clock.advanceAsync(5000);
    expect(calls).toEqual([100]);
    gate.resolve();
    gate = deferred<void>();
    await clock.advanceAsync(999);
    expect(calls).toEqual([100]);
    await clock.advanceAsync(1);
    expect(calls).toEqual([100, 100]);
    const stopped = retention.stop();
    let done = false;
    void stopped.then(() => {
      done = true;
    });
    await clock.advanceAsync(0);
    expect(done).toBe(false);
    gate.resolve();
    await stopped;
    await clock.advanceAsync(10_000);
    expect(calls).toEqual([100, 100]);
  });

  it('reports a failed prune and tries again at the next interval', async () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    let fail = true;
    const pruned: unknown[] = [];
    const retention = new Retention({
      db: {
        prune: async () => {
          if (fail) throw new Error('database down');
          return { events: 3, audit: 4 };
        },
      },
      keepRows: 1,
      intervalMs: 10,
      clock,
      onError: (e) => errors.push(e),
      onPruned: (d) => pruned.push(d),
    });
    retention.start();
    await clock.advanceAsync(10);
    expect(errors).toHaveLength(1);
    fail = false;
    await clock.advanceAsync(10);
    expect(pruned).toEqual([{ events: 3, audit: 4 }]);
    await retention.stop();
  });

  it('validates its options, naming them', () => {
    const base = { db: { prune: async () => ({ events: 0, audit: 0 }) }, clock: new ManualClock() };
    expect(() => new Retention({ ...base, keepRows: 0, intervalMs: 1 })).toThrow(
      /^keepRows must be an integer >= 1, got 0$/,
    );
    expect(() => new Retention({ ...base, keepRows: 1, intervalMs: 0.5 })).toThrow(/^intervalMs must be/);
  });
});

describe('prune and stats on a real PGlite', () => {
  const db = new PgliteDatabase({ tablePrefix: 'retain_' });
  beforeAll(() => db.init(10));
  afterAll(() => db.close());

  it('keeps the newest keepRows rows of events and audit, and stats counts rows and bytes', async () => {
    await db.insertEvents(Array.from({ length: 50 }, (_, i) => ({ type: 't', payload: { i }, receivedAt: i })));
    await db.insertAudit(
      Array.from({ length: 30 }, (_, i) => ({ method: 'GET', route: '/r', status: 200, durationMs: i, at: i })),
    );
    expect(await db.prune(20)).toEqual({ events: 30, audit: 10 });
    expect(await db.prune(20)).toEqual({ events: 0, audit: 0 });
    const stats = await db.stats();
    expect(stats.tables).toMatchObject({
      customers: { rows: 10 },
      events: { rows: 20 },
      audit: { rows: 20 },
    });
    expect(stats.tables.events.bytes).toBeGreaterThan(0);
    expect(stats.databaseBytes).toBeGreaterThan(stats.tables.events.bytes);
    expect(stats.walBytes).toBeGreaterThan(0);
  });
});

describe('PGlite CHECKPOINTs on the clock (issue 18 item 8: the WAL grew without them)', () => {
  it('runs CHECKPOINT every checkpointIntervalMs, and none after close()', async () => {
    const clock = new ManualClock();
    const db = new PgliteDatabase({ tablePrefix: 'ckpt_', clock, checkpointIntervalMs: 1000 });
    const redo = async () => {
      const rows = await (db as unknown as { query: (sql: string) => Promise<Record<string, unknown>[]> }).query(
        'SELECT redo_lsn::text AS lsn FROM pg_control_checkpoint()',
      );
      return String(rows[0]!.lsn);
    };
    try {
      await db.init(10);
      const first = await redo();
      await db.insertEvents(Array.from({ length: 100 }, (_, i) => ({ type: 't', payload: i, receivedAt: i })));
      await clock.advanceAsync(999);
      expect(await redo()).toBe(first);
      await clock.advanceAsync(1);
      // The CHECKPOINT was sent first; the worker answers in order.
      const second = await redo();
      expect(second).not.toBe(first);
    } finally {
      await db.close();
    }
    await clock.advanceAsync(5000); // no timer left to fire a query on the closed worker
  });
});
