/**
 * `POST /events` with an array when the buffer fills: the pushes stop at the first refusal, the
 * answer is 503 with Retry-After and the count accepted (a prefix of the array), and exactly
 * that many events reach the table: none lost, none invented.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningDemo, startDemo } from '../src/app.js';
import { getJson, postJson, testConfig } from './helpers.js';

let demo: RunningDemo;

beforeAll(async () => {
  // A 5-event buffer and no wait for space: a 60-event array cannot all fit.
  demo = await startDemo(testConfig({ EVENTS_BUFFER_SIZE: '5', EVENTS_BATCH_SIZE: '5', EVENTS_MAX_BLOCK_MS: '0' }), {
    log: () => {},
  });
});

afterAll(async () => {
  await demo?.close();
});

it('answers 503 + Retry-After with the accepted prefix, and stores exactly that prefix', async () => {
  const before = await demo.db.countEvents();
  const batch = JSON.stringify(Array.from({ length: 60 }, (_, i) => ({ type: 'overflow', payload: { i } })));
  const res = await postJson(`${demo.url}/events`, batch);
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('1');
  // The demo's one 503 body (@valve/safety/http's), plus the accepted prefix.
  const accepted = res.body.accepted as number;
  expect(res.body).toEqual({ error: 'overloaded', reason: 'queue_full', retryAfterSeconds: 1, accepted });
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(accepted).toBeGreaterThanOrEqual(5);
  expect(accepted).toBeLessThan(60);
  await demo.valves.events.drain();
  expect((await demo.db.countEvents()) - before).toBe(accepted);
  expect((await getJson(`${demo.url}/events/stats`)).body.accepted).toBe(accepted);
});
