// Every HTTP adapter (Express-style middleware and the node:http wrapper from `/http`, Fastify,
// Koa and Hono on @hono/node-server) against a real server of its framework on 127.0.0.1: the
// same refusal bytes, the slot held per request, a client that leaves the queue, the RateLimit-*
// fields, and errors that are not refusals handed to the framework.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Emitter, ManualClock, type RateSource } from '@valve/core';
import { type Deferred, deferred } from '@valve/testkit';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { fastifySafetyValve } from '../src/fastify.js';
import { honoSafetyValve } from '../src/hono.js';
import { type AdapterOptions, safetyMiddleware, withSafetyValve } from '../src/http.js';
import { SafetyValve } from '../src/index.js';
import { koaSafetyValve } from '../src/koa.js';

interface Running {
  url: string;
  close(): Promise<void>;
}

/** The route's answer waits on `gate.current`, so a test decides when a request finishes. */
const gate: { current: Deferred<void> } = { current: deferred() };

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function listenNode(server: Server): Promise<Running> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => closeServer(server) });
    });
  });
}

const adapters: Record<string, (valve: SafetyValve, options?: AdapterOptions) => Promise<Running>> = {
  'express-style middleware': (valve, options) => {
    const mw = safetyMiddleware(valve, options);
    return listenNode(
      createServer((req, res) =>
        mw(req, res, (error) => {
          if (error !== undefined) {
            res.statusCode = 500;
            res.end('next(error)');
            return;
          }
          void gate.current.promise.then(() => res.end('ok'));
        }),
      ),
    );
  },
  'node:http wrapper': (valve, options) =>
    listenNode(
      createServer(
        withSafetyValve(
          valve,
          async (_req, res) => {
            await gate.current.promise;
            res.end('ok');
          },
          options,
        ),
      ),
    ),
  fastify: async (valve, options) => {
    const app = Fastify();
    await app.register(fastifySafetyValve, { valve, ...options });
    app.get('/', async () => {
      await gate.current.promise;
      return 'ok';
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `${url}/`, close: () => app.close() };
  },
  koa: (valve, options) => {
    const app = new Koa();
    app.silent = true; // its default error handler would log the test's deliberate errors
    app.use(koaSafetyValve(valve, options));
    app.use(async (ctx) => {
      await gate.current.promise;
      ctx.body = 'ok';
    });
    return listenNode(createServer(app.callback()));
  },
  hono: (valve, options) => {
    const app = new Hono();
    app.onError((_error, c) => c.text('internal', 500)); // the default logs the test's deliberate error
    app.use('*', honoSafetyValve(valve, options));
    app.get('/', async (c) => {
      await gate.current.promise;
      return c.text('ok');
    });
    return new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        resolve({ url: `http://127.0.0.1:${info.port}/`, close: () => closeServer(server as Server) });
      });
    });
  },
};

let running: Running | undefined;
afterEach(async () => {
  gate.current.resolve();
  await running?.close();
  running = undefined;
});

async function until(condition: () => boolean): Promise<void> {
  // Real sockets: wait for the server side to catch up, one event-loop turn at a time.
  while (!condition()) await new Promise((r) => setImmediate(r));
}

/** A rate source that asks a "server" and fails: its error is not a refusal. */
function failingSource(error: Error): RateSource {
  return {
    async: true,
    available: 0,
    tryAcquire: () => false,
    acquire: () => Promise.reject(error),
    nextTokenInMs: () => 0,
    onAvailable: new Emitter<void>().event,
  };
}

describe.each(Object.keys(adapters))('%s', (name) => {
  const start = async (valve: SafetyValve, options?: AdapterOptions) => {
    gate.current = deferred();
    running = await adapters[name]!(valve, options);
    return running.url;
  };

  it('holds a slot per request and answers a refusal with 503, Retry-After and the JSON reason', async () => {
    const valve = new SafetyValve({ name: 'api', size: 0, concurrency: 1, clock: new ManualClock() });
    const url = await start(valve);
    const first = fetch(url);
    await until(() => valve.stats().running === 1);
    const refused = await fetch(url);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(refused.headers.get('ratelimit-limit')).toBeNull();
    expect(await refused.text()).toBe('{"error":"overloaded","reason":"queue_full","retryAfterSeconds":1}');
    gate.current.resolve();
    const ok = await first;
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('ok');
    await until(() => valve.stats().running === 0);
    expect(valve.stats()).toMatchObject({ admitted: 1, completed: 1, rejectedByReason: { queue_full: 1 } });
    valve.close();
  });

  it('a client that leaves while queued leaves the queue; the next one is served', async () => {
    const valve = new SafetyValve({ size: 1, concurrency: 1, clock: new ManualClock() });
    const url = await start(valve);
    const first = fetch(url);
    await until(() => valve.stats().running === 1);
    const ac = new AbortController();
    const leaving = fetch(url, { signal: ac.signal }).catch((error: unknown) => error);
    await until(() => valve.stats().queued === 1);
    ac.abort();
    expect(await leaving).toBeInstanceOf(Error);
    await until(() => valve.stats().queued === 0);
    expect(valve.stats()).toMatchObject({ aborted: 1, admitted: 1 });
    gate.current.resolve();
    expect((await first).status).toBe(200);
    expect(await (await fetch(url)).text()).toBe('ok');
    await until(() => valve.stats().running === 0);
    expect(valve.stats()).toMatchObject({ admitted: 2, completed: 2 });
    valve.close();
  });

  it('rateLimitHeaders: RateLimit-Limit/-Remaining/-Reset from the token bucket, on answers and refusals', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 1000, rate: 2, tokenLimit: 5, size: 0, concurrency: 10, clock });
    const url = await start(valve, { rateLimitHeaders: true });
    gate.current.resolve();
    const fields = (r: Response) =>
      ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'].map((h) => r.headers.get(h));
    const seen: Array<Array<string | null>> = [];
    for (let i = 0; i < 5; i++) {
      const r = await fetch(url);
      expect(r.status).toBe(200);
      seen.push(fields(r));
      await r.text();
    }
    // One refill of 2 tokens per second: 1 token missing is 1 s to full, 5 missing are 3 refills.
    expect(seen).toEqual([
      ['5', '4', '1'],
      ['5', '3', '1'],
      ['5', '2', '2'],
      ['5', '1', '2'],
      ['5', '0', '3'],
    ]);
    const refused = await fetch(url);
    expect(refused.status).toBe(503);
    expect(fields(refused)).toEqual(['5', '0', '3']);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({ error: 'overloaded', reason: 'queue_full', retryAfterSeconds: 1 });
    clock.advance(1000); // +2 tokens
    const after = await fetch(url);
    expect(fields(after)).toEqual(['5', '1', '2']);
    await after.text();
    valve.close();
  });

  it('an error that is not a refusal goes to the framework, not into a 503', async () => {
    const valve = new SafetyValve({ size: 5, concurrency: 1, rateSource: failingSource(new Error('redis down')) });
    const url = await start(valve);
    const r = await fetch(url);
    expect(r.status).toBe(500);
    await r.text();
    valve.close();
  });
});
