/**
 * The fault suite (issue 18): bounded probes on loopback against a demo on PostgreSQL and Redis,
 * each reached through a local TCP proxy that the suite cuts, blackholes and restores (the
 * machine's own postgres and redis-server are never touched). Each probe asserts what the user
 * sees; the table in the demo README lists them. SIGKILL during ingestion is
 * durable-sigkill.test.ts; this file covers SIGTERM.
 */
import { requireService } from '@valve/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDemo, startDemo } from '../../src/app.js';
import { getJson, postJson, testConfig, uniquePrefix } from '../helpers.js';
import { killAll, spawnDemo } from './spawnDemo.js';
import { type TcpProxy, tcpProxy } from './tcpProxy.js';

const postgres = requireService('VALVE_POSTGRES_URL', 'PostgreSQL');
const redis = requireService('REDIS_URL', 'Redis');

async function eventually(predicate: () => Promise<boolean> | boolean, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(!postgres || !redis)('fault suite (PostgreSQL + Redis behind local proxies)', () => {
  let demo: RunningDemo;
  let dbProxy: TcpProxy;
  let redisProxy: TcpProxy;
  const prefix = uniquePrefix('faults');

  beforeAll(async () => {
    const pgUrl = new URL(postgres!);
    const redisUrl = new URL(redis!);
    dbProxy = await tcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
    redisProxy = await tcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
    const viaProxy = new URL(postgres!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(dbProxy.port);
    demo = await startDemo(
      testConfig({
        DATABASE_URL: viaProxy.toString(),
        REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
        DEMO_TABLE_PREFIX: prefix,
        REQUEST_TIMEOUT_MS: '500',
        HEADERS_TIMEOUT_MS: '500',
      }),
      { log: () => {} },
    );
  });

  afterAll(async () => {
    await dbProxy?.restore();
    await redisProxy?.restore();
    await demo?.close().catch(() => {});
    const db = new pg.Client({ connectionString: postgres });
    await db.connect();
    await db.query(`DROP TABLE IF EXISTS ${prefix}customers, ${prefix}events, ${prefix}audit_log`);
    await db.end();
    await dbProxy?.close();
    await redisProxy?.close();
    killAll();
  });

  it('bad bodies: deep (5,000 levels) 400, huge (1 MB) 413, slow 408; the server stays up', async () => {
    const deep = `{"type":"t","payload":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    expect((await postJson(`${demo.url}/events`, deep)).status).toBe(400);
    expect((await postJson(`${demo.url}/events`, `{"type":"t","payload":"${'x'.repeat(1 << 20)}"}`)).status).toBe(413);
    const slow = await fetch(`${demo.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '100' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"type":'));
          // never closed: the body stays 92 bytes short
        },
      }),
      duplex: 'half',
      signal: AbortSignal.timeout(10_000),
    } as RequestInit).then(
      (r) => r.status,
      () => 0,
    );
    expect([408, 0]).toContain(slow); // 408, or the connection closed with it before fetch read it
    expect((await getJson(`${demo.url}/healthz`)).status).toBe(200);
  });

  it('database proxy cut: requests fail fast (5xx, no hang), nothing is acknowledged durable; restored: all recover', async () => {
    expect((await getJson(`${demo.url}/direct/customers/1`)).status).toBe(200);
    await dbProxy.cut();
    const during = await getJson(`${demo.url}/direct/customers/2`);
    expect(during.status).toBeGreaterThanOrEqual(500);
    const durable = await postJson(`${demo.url}/events/durable`, '{"type":"cut"}');
    expect(durable.status).not.toBe(201);
    await dbProxy.restore();
    await eventually(async () => (await getJson(`${demo.url}/direct/customers/3`)).status === 200);
    expect((await postJson(`${demo.url}/events/durable`, '{"type":"restored"}')).status).toBe(201);
  });

  it('Redis killed, then blackholed: cached routes keep answering 200 from the database; restored: the cache is used again', async () => {
    expect((await getJson(`${demo.url}/cached/customers/7`)).status).toBe(200);
    await redisProxy.cut();
    for (let i = 0; i < 5; i++) expect((await getJson(`${demo.url}/cached/customers/${8 + i}`)).status).toBe(200);
    await redisProxy.restore();
    await eventually(() => demo.cache.kind === 'redis');
    redisProxy.hang();
    for (let i = 0; i < 5; i++) expect((await getJson(`${demo.url}/cached/customers/${20 + i}`)).status).toBe(200);
    await redisProxy.restore();
    const hits = () =>
      Number(/valve_demo_cache_hits_total\{[^}]*\} (\d+)/.exec(demo.registry.toPrometheus())?.[1] ?? 0);
    await eventually(async () => {
      const before = hits();
      await getJson(`${demo.url}/cached/customers/30`);
      await getJson(`${demo.url}/cached/customers/30`);
      return hits() > before;
    });
  });

  it('SIGTERM during ingestion: exit 0, and every acknowledged event (202 and 201) is stored', async () => {
    const tablePrefix = uniquePrefix('sigterm');
    const child = await spawnDemo({ DATABASE_URL: postgres!, DEMO_TABLE_PREFIX: tablePrefix });
    const acked = new Set<number>();
    let next = 0;
    let stop = false;
    const client = async (route: string) => {
      while (!stop) {
        const ids = [next++, next++];
        const status = await fetch(`${child.url}${route}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(ids.map((id) => ({ type: 'sigterm', payload: { id } }))),
          signal: AbortSignal.timeout(5000),
        }).then(
          async (r) => {
            await r.arrayBuffer();
            return r.status;
          },
          () => 0,
        );
        if (status === 201 || status === 202) for (const id of ids) acked.add(id);
        if (status === 0 || status === 503) return;
      }
    };
    const clients = ['/events', '/events/durable', '/events', '/events/durable'].map(client);
    await eventually(() => acked.size >= 200, 20_000);
    child.child.kill('SIGTERM');
    const exit = await child.exited;
    stop = true;
    await Promise.all(clients);
    expect(exit.code).toBe(0);
    const db = new pg.Client({ connectionString: postgres });
    await db.connect();
    try {
      const { rows } = await db.query(`SELECT payload FROM ${tablePrefix}events`);
      const stored = new Set(rows.map((r: { payload: string }) => (JSON.parse(r.payload) as { id: number }).id));
      const lost = [...acked].filter((id) => !stored.has(id));
      console.info(`SIGTERM during ingestion: acknowledged ${acked.size}, stored ${stored.size}, lost ${lost.length}`);
      expect(lost).toEqual([]);
    } finally {
      await db.query(`DROP TABLE IF EXISTS ${tablePrefix}customers, ${tablePrefix}events, ${tablePrefix}audit_log`);
      await db.end();
    }
  }, 60_000);
});
