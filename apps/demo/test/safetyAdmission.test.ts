/**
 * The SafetyValve admission over real HTTP, driven by gates (no sleeps): with one slot and no
 * queue, a second request while the first holds the slot is a 503 JSON with Retry-After, and
 * the slot comes back when the first response finishes.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SafetyValve } from '@valve/safety';
import { deferred } from '@valve/testkit';
import express from 'express';
import { afterEach, expect, it } from 'vitest';
import { safetyAdmission } from '../src/safetyAdmission.js';
import { getJson } from './helpers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function serve(valve: SafetyValve, gate: Promise<void>, entered: () => void): Promise<string> {
  const app = express();
  app.get('/work', safetyAdmission(valve), async (_req, res) => {
    entered();
    await gate;
    res.json({ ok: true });
  });
  const server = createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

it('answers 503 with Retry-After while the only slot is taken, and admits again afterwards', async () => {
  const valve = new SafetyValve({ name: 'test', concurrency: 1, size: 0 });
  const gate = deferred();
  const inside = deferred();
  const url = await serve(valve, gate.promise, () => inside.resolve());

  const first = getJson(`${url}/work`);
  await inside.promise;
  const refused = await getJson(`${url}/work`);
  expect(refused.status).toBe(503);
  expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
  expect(refused.body).toEqual({
    error: { code: 'queue_full', message: 'the database is at capacity (queue_full); retry later' },
  });
  expect(valve.stats().running).toBe(1);

  gate.resolve();
  expect((await first).status).toBe(200);
  const again = await getJson(`${url}/work`);
  expect(again.status).toBe(200);
  expect(valve.stats().running).toBe(0);
  valve.close();
});
