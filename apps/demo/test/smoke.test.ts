/**
 * CI smoke test: the whole demo on the embedded PGlite (200 customers), every route including
 * bad requests, the /metrics text, then a graceful close.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDemo, startDemo } from '../src/app.js';
import { seededCustomer } from '../src/db/index.js';
import { getJson, postJson, testConfig } from './helpers.js';

let demo: RunningDemo;
const lines: string[] = [];

beforeAll(async () => {
  demo = await startDemo(testConfig(), { log: (line) => lines.push(line) });
});

afterAll(async () => {
  await demo?.close();
});

describe('demo smoke test (embedded PGlite)', () => {
  it('answers /healthz', async () => {
    const { status, body } = await getJson(`${demo.url}/healthz`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', database: 'pglite', cache: 'memory' });
  });

  const customerRoutes = ['/direct/customers', '/cached/direct/customers', '/customers', '/cached/customers'].flatMap(
    (route) => [route, `/unprotected${route}`],
  );

  it.each(customerRoutes)('%s/:id answers the seeded customer, twice (cache hit on the second)', async (route) => {
    for (let i = 0; i < 2; i++) {
      const { status, body, headers } = await getJson(`${demo.url}${route}/42`);
      expect(status).toBe(200);
      expect(headers.get('content-type')).toMatch(/^application\/json/);
      expect(body).toEqual(seededCustomer(42));
    }
  });

  it.each(customerRoutes)('%s/:id answers 404 JSON for an id that is not seeded', async (route) => {
    const { status, body } = await getJson(`${demo.url}${route}/201`);
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'customer_not_found', message: 'no customer with id 201' } });
  });

  it.each(
    customerRoutes.flatMap((route) =>
      ['abc', '0', '-1', '1.5', '2147483648', '99999999999', '01', '1e3', '%20'].map((id) => [route, id]),
    ),
  )('%s/%s is a 400 invalid_id', async (route, id) => {
    const { status, body } = await getJson(`${demo.url}${route}/${id}`);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_id');
    expect(body.error.message).toMatch(/^id must be an integer from 1 to 2147483647, got /);
  });

  it('answers unknown routes and methods with 404 JSON', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/direct/customers'],
      ['DELETE', '/direct/customers/1'],
      ['GET', '/events'],
    ]) {
      const { status, body } = await getJson(`${demo.url}${path}`, { method });
      expect(status, `${method} ${path}`).toBe(404);
      expect(body).toEqual({ error: { code: 'not_found', message: `no route for ${method} ${path}` } });
    }
  });

  describe('POST /direct/events (one INSERT per event, or one multi-row INSERT per request)', () => {
    it('stores a valid event (201) and counts it', async () => {
      const before = (await getJson(`${demo.url}/events/stats`)).body.stored;
      const { status, body } = await postJson(`${demo.url}/direct/events`, '{"type":"page.view","payload":{"a":1}}');
      expect(status).toBe(201);
      expect(body).toEqual({ stored: 1 });
      expect((await getJson(`${demo.url}/events/stats`)).body.stored).toBe(before + 1);
    });

    it.each(['', '?insert=row', '?insert=multi'])('stores an array of events (201) with %s', async (query) => {
      const before = (await getJson(`${demo.url}/events/stats`)).body.stored;
      const batch = JSON.stringify(Array.from({ length: 7 }, (_, i) => ({ type: 'batch', payload: { i } })));
      const { status, body } = await postJson(`${demo.url}/direct/events${query}`, batch);
      expect(status).toBe(201);
      expect(body).toEqual({ stored: 7 });
      expect((await getJson(`${demo.url}/events/stats`)).body.stored).toBe(before + 7);
    });

    it('rejects an unknown insert mode with 400', async () => {
      const res = await postJson(`${demo.url}/direct/events?insert=bulk`, '{"type":"x"}');
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: 'invalid_query', message: 'insert must be "row" or "multi", got "bulk"' });
    });

    it.each([
      ['malformed JSON', '{"type":', 'application/json', 400, 'malformed_json'],
      ['a non-object body', '1', 'application/json', 400, 'malformed_json'],
      ['an array holding a non-object', '[{"type":"ok"},2]', 'application/json', 400, 'invalid_event'],
      ['an empty array', '[]', 'application/json', 400, 'invalid_event'],
      [
        'an array over EVENTS_MAX_PER_REQUEST',
        JSON.stringify(Array.from({ length: 101 }, () => ({ type: 'x' }))),
        'application/json',
        400,
        'invalid_event',
      ],
      ['an array with one bad type', '[{"type":"ok"},{"type":"has spaces"}]', 'application/json', 400, 'invalid_event'],
      ['a JSON string body', '"x"', 'application/json', 400, 'malformed_json'],
      ['a missing type', '{"payload":1}', 'application/json', 400, 'invalid_event'],
      ['a bad type', '{"type":"has spaces"}', 'application/json', 400, 'invalid_event'],
      [
        'an oversized body',
        JSON.stringify({ type: 'x', payload: 'a'.repeat(20_000) }),
        'application/json',
        413,
        'body_too_large',
      ],
      ['a non-JSON content type', 'type=x', 'application/x-www-form-urlencoded', 415, 'unsupported_media_type'],
    ])('rejects %s', async (_what, payload, contentType, status, code) => {
      const before = (await getJson(`${demo.url}/events/stats`)).body.stored;
      const res = await postJson(`${demo.url}/direct/events`, payload, contentType);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect((await getJson(`${demo.url}/events/stats`)).body.stored).toBe(before);
    });
  });

  it.each(['/reports/customers', '/unprotected/reports/customers'])(
    '%s/:id answers the segment report, 404 and 400 JSON',
    async (route) => {
      const me = seededCustomer(42);
      const peers = Array.from({ length: 200 }, (_, i) => seededCustomer(i + 1)).filter(
        (c) => c.id !== 42 && c.city === me.city && c.tier === me.tier,
      );
      const ok = await getJson(`${demo.url}${route}/42`);
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ id: 42, city: me.city, tier: me.tier, peers: peers.length });
      expect((await getJson(`${demo.url}${route}/201`)).body.error.code).toBe('customer_not_found');
      expect((await getJson(`${demo.url}${route}/x`)).body.error.code).toBe('invalid_id');
    },
  );

  it('writes one audit record per answered request through the PromisePool and the audit controller', async () => {
    await getJson(`${demo.url}/healthz`);
    const pool = demo.valves.pool;
    await pool.onIdle();
    await demo.valves.audit.drain();
    const audited = await demo.db.countAudit();
    const stats = pool.stats();
    // Two tasks per answered request (a metrics write, an audit record), none failed.
    expect(stats.failed).toBe(0);
    expect(stats.completed).toBe(2 * audited);
    expect(audited).toBeGreaterThan(0);
  });

  describe('POST /events (BackpressureController, batched)', () => {
    it('accepts events with 202 and inserts every one of them', async () => {
      const before = (await getJson(`${demo.url}/events/stats`)).body.stored;
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          postJson(`${demo.url}/events`, JSON.stringify({ type: 'smoke', payload: { i } })),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(202));
      // Batches land within the flush interval; wait for them (real database, bounded).
      const deadline = Date.now() + 10_000;
      let stored = before;
      while (stored < before + 50 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        stored = (await getJson(`${demo.url}/events/stats`)).body.stored;
      }
      expect(stored).toBe(before + 50);
    });

    it('accepts an array of events with 202 and the count', async () => {
      const before = (await getJson(`${demo.url}/events/stats`)).body.accepted;
      const batch = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ type: 'smoke.batch', payload: { i } })));
      const res = await postJson(`${demo.url}/events`, batch);
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: 100 });
      expect((await getJson(`${demo.url}/events/stats`)).body.accepted).toBe(before + 100);
    });

    it('names the bad event of an array and accepts none of it', async () => {
      const before = (await getJson(`${demo.url}/events/stats`)).body.accepted;
      const res = await postJson(`${demo.url}/events`, '[{"type":"ok"},{"type":""}]');
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^event 1: "type" must be a string of 1 to 64 characters/);
      expect((await getJson(`${demo.url}/events/stats`)).body.accepted).toBe(before);
    });

    it.each([
      ['malformed JSON', '{"type":', 400, 'malformed_json'],
      ['a missing type', '{}', 400, 'invalid_event'],
      ['an oversized body', JSON.stringify({ type: 'x', payload: 'a'.repeat(20_000) }), 413, 'body_too_large'],
    ])('rejects %s', async (_what, payload, status, code) => {
      const res = await postJson(`${demo.url}/events`, payload);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
    });
  });

  it('serves Prometheus text with HTTP, cache and process metrics', async () => {
    const res = await fetch(`${demo.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(
      /^valve_demo_http_requests_total\{method="GET",route="\/direct\/customers\/:id",status="200"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^valve_demo_http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]\d*$/m);
    expect(text).toMatch(
      /^valve_demo_http_request_duration_seconds_bucket\{route="\/direct\/customers\/:id",le="\+Inf"\} \d+$/m,
    );
    expect(text).toMatch(/^valve_demo_cache_hits_total\{cache="memory"\} [1-9]\d*$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^valve_safety_admitted_total\{valve="db"\} [1-9]\d*$/m);
    expect(text).toMatch(/^valve_burst_in_flight_keys\{valve="customers"\} 0$/m);
    expect(text).toMatch(/^valve_burst_in_flight_keys\{valve="cached_customers"\} 0$/m);
    expect(text).toMatch(/^valve_backpressure_buffer_items\{valve="events"\} \d+$/m);
    expect(text).toMatch(/^valve_backpressure_buffer_items\{valve="audit"\} \d+$/m);
    expect(text).toMatch(/^valve_demo_db_queries_total\{database="pglite",query="get_customer"\} [1-9]\d*$/m);
    expect(text).toMatch(/^valve_demo_db_queries_total\{database="pglite",query="customer_report"\} [1-9]\d*$/m);
    // Each statement's time, in seconds: every timed lookup is counted, and falls under +Inf.
    const lookups =
      /^valve_demo_db_query_duration_seconds_count\{database="pglite",query="get_customer"\} (\d+)$/m.exec(text);
    expect(Number(lookups?.[1])).toBeGreaterThan(0);
    expect(text).toContain(
      `valve_demo_db_query_duration_seconds_bucket{database="pglite",query="get_customer",le="+Inf"} ${lookups?.[1]}`,
    );
    expect(text).toMatch(/^valve_pool_completed_total\{valve="background"\} [1-9]\d*$/m);
    expect(text).toMatch(/^valve_pool_limit_tasks\{valve="background"\} 4$/m);
    expect(text).toMatch(/^nodejs_eventloop_delay_p99_seconds [\d.e+-]+$/m);
    // One HELP and one TYPE per family, however many series it has.
    const helps = text.match(/^# HELP (\S+)/gm) ?? [];
    expect(new Set(helps).size).toBe(helps.length);
    // Every gauge name ends in its unit (CONTRIBUTING, metrics): a plural noun for counts, a ratio,
    // seconds or bytes. This page registers a gauge of every valve package.
    const gauges = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]);
    expect(gauges).toEqual(expect.arrayContaining(['valve_pool_queued_tasks', 'valve_safety_queued_jobs']));
    expect(gauges.filter((name) => !/_(tasks|jobs|keys|items|workers|tokens|ratio|seconds|bytes)$/.test(name))).toEqual(
      [],
    );
  });

  it('logged no request failure', () => {
    expect(lines).toEqual([]);
  });
});
