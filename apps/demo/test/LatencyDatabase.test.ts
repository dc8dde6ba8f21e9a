/**
 * The dashboard's database latency: each statement holds one of `connections` for `latencyMs`
 * more, in arrival order; 0 passes straight through. Driven by vitest's fake timers (no sleeps).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Database } from '../src/db/Database.js';
import { LatencyDatabase } from '../src/db/LatencyDatabase.js';

function fakeDb(calls: number[]): Database {
  const ok = <T>(v: T) => Promise.resolve(v);
  return {
    kind: 'pglite',
    description: 'fake',
    init: () => ok(undefined),
    getCustomer: (id) => {
      calls.push(id);
      return ok(undefined);
    },
    customerReport: () => ok(undefined),
    insertEvents: () => ok(undefined),
    countEvents: () => ok(0),
    insertAudit: () => ok(undefined),
    countAudit: () => ok(0),
    dropTables: () => ok(undefined),
    close: () => ok(undefined),
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LatencyDatabase', () => {
  it('with latency 0 calls straight through', async () => {
    const calls: number[] = [];
    const db = new LatencyDatabase(fakeDb(calls), 1);
    const p = db.getCustomer(1);
    expect(calls).toEqual([1]);
    await p;
  });

  it('serves at most `connections` statements at once, each holding its connection latencyMs, in arrival order', async () => {
    const calls: number[] = [];
    const db = new LatencyDatabase(fakeDb(calls), 2, 100);
    const done: number[] = [];
    for (const id of [1, 2, 3, 4, 5]) void db.getCustomer(id).then(() => done.push(id));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([1, 2]);
    expect(db.queued).toBe(3);
    await vi.advanceTimersByTimeAsync(100);
    expect(done).toEqual([1, 2]);
    expect(calls).toEqual([1, 2, 3, 4]);
    await vi.advanceTimersByTimeAsync(100);
    expect(done).toEqual([1, 2, 3, 4]);
    await vi.advanceTimersByTimeAsync(100);
    expect(done).toEqual([1, 2, 3, 4, 5]);
    expect(db.queued).toBe(0);
  });

  it('setting 0 drains a backlog at the real speed; a failed statement frees its connection', async () => {
    const calls: number[] = [];
    const inner = fakeDb(calls);
    let fail = true;
    inner.getCustomer = (id) => {
      calls.push(id);
      if (fail) {
        fail = false;
        return Promise.reject(new Error('boom'));
      }
      return Promise.resolve(undefined);
    };
    const db = new LatencyDatabase(inner, 1, 500);
    const first = db.getCustomer(1);
    const rest = [2, 3, 4].map((id) => db.getCustomer(id));
    // Set while 2-4 wait for the connection: they run without the latency (no timer to advance).
    db.latencyMs = 0;
    await expect(first).rejects.toThrow('boom');
    await Promise.all(rest);
    expect(calls).toEqual([1, 2, 3, 4]);
  });

  it('rejects a latency or connection count out of range, naming it', () => {
    const db = new LatencyDatabase(fakeDb([]), 1);
    expect(() => {
      db.latencyMs = 2001;
    }).toThrow('latencyMs must be an integer from 0 to 2000, got 2001');
    expect(() => new LatencyDatabase(fakeDb([]), 0)).toThrow('connections must be an integer >= 1, got 0');
  });
});
