// Hono without a server: `app.request()` runs the middleware on plain Request/Response objects,
// as on Bun, Deno or an edge runtime.
import { ManualClock } from '@valve/core';
import { deferred } from '@valve/testkit';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { honoSafetyValve } from '../src/hono.js';
import { SafetyValve } from '../src/index.js';

describe('@valve/safety/hono via app.request()', () => {
  it('answers, refuses with the shared 503 and frees the slot when the handler returned', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 1000, rate: 1, tokenLimit: 2, size: 0, concurrency: 1, clock });
    const gate = deferred();
    const app = new Hono();
    app.use('/api/*', honoSafetyValve(valve, { rateLimitHeaders: true }));
    app.get('/api/slow', async (c) => {
      await gate.promise;
      return c.json({ slow: true });
    });
    // A Response built by hand (immutable-header Responses are copied by c.header()).
    app.get('/api/raw', () => new Response('raw', { headers: { 'x-raw': '1' } }));
    app.get('/free', (c) => c.text('free'));

    const slow = app.request('/api/slow');
    await Promise.resolve();
    expect(valve.stats().running).toBe(1);
    const refused = await app.request('/api/raw');
    expect(refused.status).toBe(503);
    expect(Object.fromEntries(refused.headers)).toMatchObject({
      'retry-after': '1',
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'ratelimit-limit': '2',
      'ratelimit-remaining': '1',
    });
    expect(await refused.json()).toEqual({ error: 'overloaded', reason: 'queue_full', retryAfterSeconds: 1 });
    expect(await (await app.request('/free')).text()).toBe('free'); // not under /api
    gate.resolve();
    const answered = await slow;
    expect(await answered.json()).toEqual({ slow: true });
    expect(answered.headers.get('ratelimit-remaining')).toBe('1');
    expect(valve.stats().running).toBe(0);

    const raw = await app.request('/api/raw');
    expect(await raw.text()).toBe('raw');
    expect(raw.headers.get('x-raw')).toBe('1');
    expect(raw.headers.get('ratelimit-remaining')).toBe('0');
    // Out of tokens: Retry-After is the time to the next refill.
    clock.advance(400);
    const limited = await app.request('/api/raw');
    expect(limited.status).toBe(503);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.headers.get('ratelimit-reset')).toBe('2'); // 600 ms to the next refill, then one more
    expect(valve.stats()).toMatchObject({ admitted: 2, completed: 2, rejectedByReason: { queue_full: 2 } });
    valve.close();
  });

  it('a request whose signal aborts while queued leaves the queue', async () => {
    const valve = new SafetyValve({ size: 1, concurrency: 1, clock: new ManualClock() });
    const gate = deferred();
    const app = new Hono();
    app.use('*', honoSafetyValve(valve));
    app.get('/', async (c) => {
      await gate.promise;
      return c.text('ok');
    });
    const first = app.request('/');
    const ac = new AbortController();
    const leaving = app.request('/', { signal: ac.signal });
    await Promise.resolve();
    expect(valve.stats().queued).toBe(1);
    ac.abort();
    await leaving;
    expect(valve.stats()).toMatchObject({ queued: 0, aborted: 1 });
    gate.resolve();
    expect(await (await first).text()).toBe('ok');
    valve.close();
  });

  it('validates its arguments synchronously', () => {
    const valve = new SafetyValve({ size: 0, concurrency: 1 });
    expect(() => honoSafetyValve(undefined as never)).toThrow(/valve must be/);
    expect(() => honoSafetyValve(valve, { limit: 1 } as never)).toThrow(/options\.limit is not a known option/);
    valve.close();
  });
});
