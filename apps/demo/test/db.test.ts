/**
 * The three Database implementations against the same expectations: embedded PGlite always,
 * MariaDB/MySQL and PostgreSQL when VALVE_MYSQL_URL / VALVE_POSTGRES_URL point at servers.
 * Each run uses its own table prefix and drops its tables afterwards.
 */
import { requireService } from '@valve/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database, seededCustomer } from '../src/db/index.js';
import { uniquePrefix } from './helpers.js';

const targets: [string, string | undefined, boolean][] = [
  ['embedded PGlite', undefined, true],
  ['MariaDB/MySQL (mysql2)', requireService('VALVE_MYSQL_URL', 'demo MariaDB database'), false],
  ['PostgreSQL (pg)', requireService('VALVE_POSTGRES_URL', 'demo PostgreSQL database'), false],
];

for (const [name, url, always] of targets) {
  describe.skipIf(!always && url === undefined)(`Database: ${name}`, () => {
    let db: Database;

    beforeAll(async () => {
      db = createDatabase(url, { tablePrefix: uniquePrefix('db'), poolSize: 3 });
      await db.init(1200); // more than one seeding batch
    });

    afterAll(async () => {
      await db?.dropTables();
      await db?.close();
    });

    it('seeds ids 1..n with the deterministic rows', async () => {
      expect(await db.getCustomer(1)).toEqual(seededCustomer(1));
      expect(await db.getCustomer(1200)).toEqual(seededCustomer(1200));
      expect(await db.getCustomer(1201)).toBeUndefined();
    });

    it('binds values as parameters, never as SQL', async () => {
      const before = await db.countEvents();
      // Concatenated into the statement, this type would end it and empty the customers table.
      const hostile = `x', '', now()); DELETE FROM ${'valve_demo'}_customers; --`;
      await db.insertEvents([{ type: hostile, payload: "'; DROP TABLE t; --", receivedAt: Date.now() }]);
      expect((await db.countEvents()) - before).toBe(1);
      expect(await db.getCustomer(7)).toEqual(seededCustomer(7));
    });

    it('re-seeding is idempotent and follows a new count', async () => {
      await db.init(1200);
      expect(await db.getCustomer(1200)).toEqual(seededCustomer(1200));
      await db.init(50);
      expect(await db.getCustomer(50)).toEqual(seededCustomer(50));
      expect(await db.getCustomer(51)).toBeUndefined();
    });

    it('reports a customer segment (a scan): peers in the same city and tier', async () => {
      await db.init(50); // what the re-seeding test left (a no-op then)
      const id = 42;
      const me = seededCustomer(id);
      const peers = Array.from({ length: 50 }, (_, i) => seededCustomer(i + 1)).filter(
        (c) => c.id !== id && c.city === me.city && c.tier === me.tier,
      );
      const names = peers.map((c) => c.name).sort();
      expect(await db.customerReport(id)).toEqual({
        id,
        city: me.city,
        tier: me.tier,
        peers: peers.length,
        firstPeer: names[0],
      });
      expect(await db.customerReport(51)).toBeUndefined();
    });

    it('inserts audit records in one multi-row statement and counts them', async () => {
      const before = await db.countAudit();
      await db.insertAudit([]);
      await db.insertAudit(
        Array.from({ length: 30 }, (_, i) => ({
          method: 'GET',
          route: "/customers/:id'; --",
          status: 200 + i,
          durationMs: i / 7,
          at: Date.now(),
        })),
      );
      expect((await db.countAudit()) - before).toBe(30);
    });

    it('inserts events in one multi-row statement and counts them', async () => {
      const before = await db.countEvents();
      await db.insertEvents([]);
      await db.insertEvents(
        Array.from({ length: 250 }, (_, i) => ({
          type: 'test.event',
          payload: { i, quote: 'it\'s "quoted"' },
          receivedAt: Date.now(),
        })),
      );
      expect((await db.countEvents()) - before).toBe(250);
    });
  });
}

describe('createDatabase', () => {
  it('names DATABASE_URL for an unknown scheme', () => {
    expect(() => createDatabase('sqlite://x')).toThrow(/DATABASE_URL must start with mysql:\/\//);
  });

  it('rejects a table prefix that is not an identifier', () => {
    expect(() => createDatabase(undefined, { tablePrefix: 'x; DROP TABLE y; --' })).toThrow(/tablePrefix must match/);
  });
});
