/** The README's quick start (the seed's batch-insert example), run against a fake database. */
import { describe, expect, it } from 'vitest';
import { BackpressureController, type FlushResult } from '../src/index.js';

interface Event {
  id: number;
  type: string;
}

/** Stands in for `db.batchInsert`: inserts rows, refusing duplicate ids like a primary key. */
function fakeDb() {
  const rows = new Map<number, Event>();
  return {
    rows,
    async batchInsert(_table: string, items: Event[]) {
      const failed = items.filter((e) => rows.has(e.id));
      for (const e of items) if (!rows.has(e.id)) rows.set(e.id, e);
      return { inserted: items.length - failed.length, failed };
    },
  };
}

describe('README quick start', () => {
  it('buffers, batch-inserts, drains on shutdown, and dead-letters what the database refused', async () => {
    const db = fakeDb();
    db.rows.set(7, { id: 7, type: 'already there' });
    const deadLetters: Event[] = [];

    // --- quick start (README) ---
    const controller = new BackpressureController<Event>(
      async (items): Promise<FlushResult<Event>> => {
        const result = await db.batchInsert('events', items);
        return { success: result.inserted, failed: result.failed.length, errors: [], failedItems: result.failed };
      },
      {
        strategy: 'drop_oldest',
        maxBufferSize: 10_000,
        batchSize: 100,
        onDeadLetter: (items) => deadLetters.push(...items),
      },
    );
    controller.start();
    for (let id = 0; id < 250; id++) await controller.push({ id, type: 'click' });
    await controller.stop({ drain: true }); // on shutdown
    // --- end ---

    expect(db.rows.size).toBe(250);
    expect(deadLetters.map((e) => e.id)).toEqual([7]);
    expect(controller.stats()).toMatchObject({ accepted: 250, flushed: 249, deadLettered: 1, dropped: 0 });
  });
});
