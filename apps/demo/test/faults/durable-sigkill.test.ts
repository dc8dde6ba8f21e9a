/**
 * Issue 16 item 3 and issue 18 ("zero acknowledged-and-lost events in the durable mode"): a
 * demo on PostgreSQL takes events from concurrent clients on both routes, `POST /events/durable`
 * (201 once committed) and `POST /events` (202 once buffered), and is SIGKILLed mid-stream.
 * The rows are then counted on the server: every event acknowledged by the durable route must be
 * stored. The buffered route's acknowledged-and-lost count is measured and printed (its 202
 * promises only that the event was buffered). Then the demo starts again on the same database
 * and serves the stored rows.
 */
import { requireService } from '@valve/testkit';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { uniquePrefix } from '../helpers.js';
import { killAll, spawnDemo } from './spawnDemo.js';

const postgres = requireService('VALVE_POSTGRES_URL', 'PostgreSQL');

afterEach(killAll);

async function post(url: string, body: unknown): Promise<number> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // the connection died with the process
  }
}

describe.skipIf(!postgres)('SIGKILL during ingestion (PostgreSQL)', () => {
  it('no event acknowledged by POST /events/durable is lost; the buffered route is measured', async () => {
    const prefix = uniquePrefix('sigkill');
    const env = { DATABASE_URL: postgres!, DEMO_TABLE_PREFIX: prefix, EVENTS_BATCH_SIZE: '50' };
    const demo = await spawnDemo(env);
    const acked = { durable: new Set<number>(), buffered: new Set<number>() };
    let next = 0;
    let killed = false;
    const client = async (route: 'durable' | 'buffered') => {
      while (!killed) {
        const ids = Array.from({ length: 5 }, () => next++);
        const status = await post(
          `${demo.url}${route === 'durable' ? '/events/durable' : '/events'}`,
          ids.map((id) => ({ type: route, payload: { id } })),
        );
        if (status === 201 || status === 202) for (const id of ids) acked[route].add(id);
        if (status === 0) return;
      }
    };
    const clients = [...Array(4)].flatMap(() => [client('durable'), client('buffered')]);
    // Kill once both routes have acknowledged a fair number (bounded: at most 20 s).
    const deadline = Date.now() + 20_000;
    while ((acked.durable.size < 300 || acked.buffered.size < 300) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    demo.child.kill('SIGKILL');
    killed = true;
    expect((await demo.exited).signal).toBe('SIGKILL');
    await Promise.all(clients);

    const db = new pg.Client({ connectionString: postgres });
    await db.connect();
    try {
      const stored = async (type: string) => {
        const { rows } = await db.query(`SELECT payload FROM ${prefix}events WHERE type = $1`, [type]);
        return new Set(rows.map((r: { payload: string }) => (JSON.parse(r.payload) as { id: number }).id));
      };
      const durableStored = await stored('durable');
      const bufferedStored = await stored('buffered');
      const lost = (route: 'durable' | 'buffered', rows: Set<number>) =>
        [...acked[route]].filter((id) => !rows.has(id));
      const summary = {
        durable: {
          acknowledged: acked.durable.size,
          stored: durableStored.size,
          lost: lost('durable', durableStored).length,
        },
        buffered: {
          acknowledged: acked.buffered.size,
          stored: bufferedStored.size,
          lost: lost('buffered', bufferedStored).length,
        },
      };
      console.info(`SIGKILL during ingestion: ${JSON.stringify(summary)}`);
      expect(acked.durable.size).toBeGreaterThanOrEqual(300);
      expect(lost('durable', durableStored)).toEqual([]);

      // The database persists: a restarted demo serves the same rows.
      const again = await spawnDemo(env);
      const res = await fetch(`${again.url}/events/stats`, { signal: AbortSignal.timeout(5000) });
      const stats = (await res.json()) as { stored: number };
      expect(stats.stored).toBe(durableStored.size + bufferedStored.size);
      again.child.kill('SIGTERM');
      expect((await again.exited).code).toBe(0);
    } finally {
      await db.query(`DROP TABLE IF EXISTS ${prefix}customers, ${prefix}events, ${prefix}audit_log`);
      await db.end();
    }
  }, 90_000);
});
