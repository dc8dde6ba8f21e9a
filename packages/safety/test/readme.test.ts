// The README's HTTP adapter examples, run as tests against the real frameworks (Go's ExampleGroup
// habit). Keep them in sync with README.md: the code between the markers is the README's.
import type { AddressInfo } from 'node:net';
import { ManualClock } from '@valve/core';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { fastifySafetyValve } from '../src/fastify.js';
import { honoSafetyValve } from '../src/hono.js';
import { SafetyValve } from '../src/index.js';
import { koaSafetyValve } from '../src/koa.js';

const runSearch = async (query: unknown) => ({ hits: [], query });
const searchValve = () =>
  new SafetyValve({
    name: 'search',
    hz: 1000,
    rate: 5,
    tokenLimit: 10,
    size: 0,
    concurrency: 4,
    clock: new ManualClock(),
  });

describe('README: HTTP adapters', () => {
  it('Fastify', async () => {
    const search = searchValve();
    // --- README: Fastify ---
    const app = Fastify();
    await app.register(async (api) => {
      // Guards the routes of this context and its children, not its siblings (encapsulation).
      await api.register(fastifySafetyValve, { valve: search, rateLimitHeaders: true });
      api.get('/search', async (req) => runSearch(req.query));
    });
    app.get('/health', async () => 'ok'); // not guarded
    // --- end ---
    const r = await app.inject('/search?q=valve');
    expect(r.json()).toEqual({ hits: [], query: { q: 'valve' } });
    expect(r.headers['ratelimit-remaining']).toBe('9');
    expect((await app.inject('/health')).headers['ratelimit-remaining']).toBeUndefined();
    expect(search.stats().admitted).toBe(1);
    await app.close();
    search.close();
  });

  it('Koa', async () => {
    const search = searchValve();
    // --- README: Koa ---
    const app = new Koa();
    app.use(koaSafetyValve(search)); // the slot is held until Koa has written the response
    // --- end ---
    app.use((ctx) => {
      ctx.body = 'found';
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(await r.text()).toBe('found');
    await new Promise((r) => {
      server.close(r);
      server.closeAllConnections();
    });
    expect(search.stats()).toMatchObject({ admitted: 1, completed: 1 });
    search.close();
  });

  it('Hono', async () => {
    const search = searchValve();
    // --- README: Hono ---
    const app = new Hono();
    app.use('/api/*', honoSafetyValve(search, { rateLimitHeaders: true }));
    app.get('/api/search', async (c) => c.json(await runSearch(c.req.query())));
    // --- end ---
    const r = await app.request('/api/search?q=edge');
    expect(await r.json()).toEqual({ hits: [], query: { q: 'edge' } });
    expect(r.headers.get('ratelimit-limit')).toBe('10');
    expect(search.stats()).toMatchObject({ admitted: 1, completed: 1 });
    search.close();
  });
});
