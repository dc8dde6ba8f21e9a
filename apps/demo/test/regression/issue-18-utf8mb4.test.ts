/**
 * Issue 18, item 5: on a MariaDB whose default charset is latin1, events with emoji were
 * acknowledged (202) and later dead-lettered (`Incorrect string value`). The demo now creates
 * its tables in utf8mb4 whatever the default, so every string JSON can carry is stored. The test
 * makes its own latin1 database on the MariaDB server (VALVE_MYSQL_URL) and drops it after.
 */
import { requireService } from '@valve/testkit';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/db/index.js';

const url = requireService('VALVE_MYSQL_URL', 'MariaDB');

describe.skipIf(!url)('issue 18: emoji are stored on a latin1 MariaDB database', () => {
  const name = `valve_latin1_${process.pid}_${Date.now().toString(36)}`;
  let admin: mysql.Connection;
  let db: Database;

  beforeAll(async () => {
    admin = await mysql.createConnection(url!);
    await admin.query(`CREATE DATABASE ${name} DEFAULT CHARACTER SET latin1`);
    const u = new URL(url!);
    u.pathname = `/${name}`;
    db = createDatabase(u.toString(), { tablePrefix: 'demo_' });
    await db.init(5);
  });

  afterAll(async () => {
    await db?.close();
    await admin?.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin?.end();
  });

  it('an event whose payload holds emoji and other 4-byte characters is inserted and read back', async () => {
    await db.insertEvents([{ type: 'emoji', payload: { text: 'ok 👍 𝄞 😀' }, receivedAt: Date.now() }]);
    expect(await db.countEvents()).toBe(1);
    const [rows] = await admin.query(`SELECT payload FROM ${name}.demo_events`);
    expect(JSON.parse((rows as { payload: string }[])[0]!.payload)).toEqual({ text: 'ok 👍 𝄞 😀' });
  });
});
