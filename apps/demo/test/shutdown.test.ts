/**
 * Graceful shutdown loses nothing accepted: events acknowledged with 202 are all in the table
 * after close(), and so is the audit record each answered request added to the PromisePool,
 * checked by reopening the embedded database's data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startDemo } from '../src/app.js';
import { PgliteDatabase } from '../src/db/pglite.js';
import { getJson, postJson, testConfig } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'valve-demo-shutdown-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('inserts every acknowledged event and every audit record before close() resolves', async () => {
  // Batch sizes larger than what is posted: events and audit records wait in their buffers for
  // the flush interval, and one background worker keeps tasks queued in the pool, so close() is
  // what has to run and flush them.
  const demo = await startDemo(
    testConfig({
      PGLITE_DATA_DIR: dir,
      SEED_CUSTOMERS: '10',
      EVENTS_BATCH_SIZE: '5000',
      AUDIT_BATCH_SIZE: '5000',
      POOL_MAX_WORKERS: '1',
    }),
    { log: () => {} },
  );
  const answers = await Promise.all(
    Array.from({ length: 120 }, (_, i) =>
      postJson(`${demo.url}/events`, JSON.stringify({ type: 'shutdown', payload: { i } })),
    ),
  );
  const accepted = answers.filter((a) => a.status === 202).length;
  expect(accepted).toBe(120);
  await demo.close();
  await expect(getJson(`${demo.url}/healthz`)).rejects.toThrow();

  const reopened = new PgliteDatabase({ dataDir: dir });
  await reopened.init(10);
  expect(await reopened.countEvents()).toBe(accepted);
  // One audit record per answered request: the 120 POSTs.
  expect(await reopened.countAudit()).toBe(120);
  expect(demo.valves.pool.stats()).toMatchObject({ queued: 0, active: 0, failed: 0, closed: true });
  await reopened.close();
});

it('ends dashboard streams and keep-alive connections on close() without waiting for the timeout', async () => {
  // A grace far longer than the test's timeout: close() must finish by events, not the deadline.
  const demo = await startDemo(testConfig({ SEED_CUSTOMERS: '10', SHUTDOWN_TIMEOUT_MS: '600000' }), { log: () => {} });
  const stream = await fetch(`${demo.url}/dashboard/stream`);
  const reader = stream.body!.getReader();
  await reader.read(); // the stream is open
  // A keep-alive connection left idle in fetch's pool.
  expect((await getJson(`${demo.url}/healthz`)).status).toBe(200);
  await demo.close();
  // The stream ended (the dashboard's close() ran first), so reading reaches its end.
  for (;;) if ((await reader.read()).done) break;
  expect(demo.valves.pool.stats().closed).toBe(true);
});
