/**
 * Issue 16, item 5: the demo answers every 503 with one body, whoever sheds. The SafetyValve's
 * refusals go through @valve/safety/http's respondOverloaded; shutdown, a full event buffer and a
 * ValveError reaching the error handler go through the demo's sendOverloaded. All four must be
 * the same shape, with Retry-After and Cache-Control: no-store.
 */
import type { AddressInfo } from 'node:net';
import { DroppedError, QueueFullError } from '@valve/core';
import { SafetyValve } from '@valve/safety';
import { respondOverloaded } from '@valve/safety/http';
import express from 'express';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { errorHandler, sendOverloaded } from '../src/httpErrors.js';
import { getJson } from './helpers.js';

const valve = new SafetyValve({ concurrency: 1, size: 1 });
const app = express();
app.get('/safety', (_req, res) => {
  respondOverloaded(valve, new QueueFullError('full'), res);
});
app.get('/shutdown', (_req, res) => sendOverloaded(res, 'shutdown', 1));
app.get('/events', (_req, res) => sendOverloaded(res, 'queue_full', 1, { accepted: 3 }));
app.get('/thrown', () => {
  throw new DroppedError('overload');
});
app.use(errorHandler(() => {}));

let server: ReturnType<typeof app.listen>;
let base = '';
beforeAll(async () => {
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  valve.close();
});

it('every 503 is {"error":"overloaded","reason","retryAfterSeconds"} with Retry-After and no-store', async () => {
  const answers = await Promise.all(['/safety', '/shutdown', '/events', '/thrown'].map((p) => getJson(base + p)));
  for (const a of answers) {
    expect(a.status).toBe(503);
    expect(a.headers.get('retry-after')).toBe('1');
    expect(a.headers.get('cache-control')).toBe('no-store');
    expect(a.body.error).toBe('overloaded');
    expect(a.body.retryAfterSeconds).toBe(1);
  }
  expect(answers.map((a) => a.body.reason)).toEqual(['queue_full', 'shutdown', 'queue_full', 'overload']);
  // The keys of the package's body, plus POST /events' accepted prefix.
  const keys = answers.map((a) => Object.keys(a.body).sort().join(','));
  expect(keys).toEqual([
    'error,reason,retryAfterSeconds',
    'error,reason,retryAfterSeconds',
    'accepted,error,reason,retryAfterSeconds',
    'error,reason,retryAfterSeconds',
  ]);
});
