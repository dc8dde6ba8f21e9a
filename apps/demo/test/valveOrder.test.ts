/**
 * The order of the customer valves over real HTTP on the embedded database: the BurstValve
 * coalesces first and only its fetcher asks the SafetyValve for a database slot, so a hot key
 * costs one slot; a refusal inside the shared fetch answers 503 to every coalesced caller. The
 * one database slot is held by the test itself (`safety.ask()`), so what waits is decided by
 * gates; the only real-time waits are the bounded polls for requests to arrive.
 */
import type { SafetyPermit } from '@valve/safety';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDemo, startDemo } from '../src/app.js';
import { seededCustomer } from '../src/db/index.js';
import { getJson, testConfig } from './helpers.js';

let demo: RunningDemo;

beforeAll(async () => {
  demo = await startDemo(
    // One slot, one waiter, and a deadline long enough for five local requests to arrive.
    testConfig({ SAFETY_CONCURRENCY: '1', SAFETY_QUEUE_SIZE: '1', SAFETY_DEADLINE_MS: '3000' }),
    { log: () => {} },
  );
});

afterAll(async () => {
  await demo?.close();
});

/** Polls `check` every 5 ms for at most 2 s (requests arriving over real sockets). */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function queries(): number {
  const m = /^valve_demo_db_queries_total\{database="pglite",query="get_customer"\} (\d+)$/m.exec(
    demo.registry.toPrometheus(),
  );
  return Number(m?.[1] ?? Number.NaN);
}

describe('BurstValve first, SafetyValve inside its fetcher', () => {
  it('five concurrent requests for one id take one database slot and one query', async () => {
    const held: SafetyPermit = await demo.valves.safety.ask();
    const before = { ...demo.valves.customers.stats(), queries: queries() };
    const answers = Array.from({ length: 5 }, () => getJson(`${demo.url}/customers/7`));
    // One fetch waits in the SafetyValve's queue; the other four joined it.
    await until('4 coalesced callers', () => demo.valves.customers.stats().coalesced - before.coalesced === 4);
    expect(demo.valves.safety.stats().queued).toBe(1);
    held.done();
    const done = await Promise.all(answers);
    expect(done.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    for (const a of done) expect(a.body).toEqual(seededCustomer(7));
    expect(demo.valves.customers.stats().runs - before.runs).toBe(1);
    expect(queries() - before.queries).toBe(1);
  });

  it('a SafetyValve refusal inside the shared fetch is a 503 with Retry-After for every coalesced caller', async () => {
    const held = await demo.valves.safety.ask();
    const coalesced = demo.valves.customers.stats().coalesced;
    const queryCount = queries();
    const answers = Array.from({ length: 5 }, () => getJson(`${demo.url}/customers/8`));
    await until('4 coalesced callers', () => demo.valves.customers.stats().coalesced - coalesced === 4);
    // The one queued fetch hits its deadline while the slot stays taken.
    const done = await Promise.all(answers);
    held.done();
    for (const a of done) {
      expect(a.status).toBe(503);
      expect(a.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(a.body).toMatchObject({ error: 'overloaded', reason: 'deadline' });
    }
    expect(queries()).toBe(queryCount);
    // The refusal was not remembered: the next request queries and answers.
    expect((await getJson(`${demo.url}/customers/8`)).body).toEqual(seededCustomer(8));
  });

  it('the direct route is admitted per request by @valve/safety/http: queue_full is a 503 at once', async () => {
    const held = await demo.valves.safety.ask();
    const waiting = getJson(`${demo.url}/direct/customers/9`);
    await until('a queued request', () => demo.valves.safety.stats().queued === 1);
    const refused = await getJson(`${demo.url}/direct/customers/9`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(refused.body).toMatchObject({ error: 'overloaded', reason: 'queue_full' });
    held.done();
    expect((await waiting).body).toEqual(seededCustomer(9));
  });

  it('the unprotected variants never ask the SafetyValve', async () => {
    const held = await demo.valves.safety.ask();
    const admitted = demo.valves.safety.stats().admitted;
    for (const route of ['/unprotected/customers', '/unprotected/direct/customers', '/unprotected/reports/customers']) {
      expect((await getJson(`${demo.url}${route}/10`)).status).toBe(200);
    }
    expect(demo.valves.safety.stats().admitted).toBe(admitted);
    held.done();
  });
});
