// The framework-free middleware and handler wrapper, against a real node:http server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '@valve/core';
import { deferred } from '@valve/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { safetyMiddleware, withSafetyValve } from '../src/http.js';
import { SafetyValve } from '../src/index.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('http', () => {
  it('the middleware holds a slot per request and answers 503 + Retry-After + JSON reason', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ name: 'api', size: 0, concurrency: 1, clock });
    const mw = safetyMiddleware(valve);
    const gate = deferred();
    const url = await listen((req, res) =>
      mw(req, res, () => {
        void gate.promise.then(() => res.end('ok'));
      }),
    );
    const first = fetch(url);
    while (valve.stats().running === 0) await new Promise((r) => setImmediate(r));
    const refused = await fetch(url);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({ error: 'overloaded', reason: 'queue_full', retryAfterSeconds: 1 });
    gate.resolve();
    expect(await (await first).text()).toBe('ok');
    while (valve.stats().running !== 0) await new Promise((r) => setImmediate(r));
    expect(valve.stats()).toMatchObject({ completed: 1, rejectedByReason: { queue_full: 1 } });
    valve.close();
  });

  it('Retry-After is the time to the next refill when tokens ran out', async () => {
    const clock = new ManualClock();
    const valve = new SafetyValve({ hz: 5000, rate: 1, tokenLimit: 1, size: 0, concurrency: 5, clock });
    const handler = withSafetyValve(valve, (_req, res) => {
      res.end('done');
    });
    const url = await listen((req, res) => {
      handler(req, res).catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
    expect(await (await fetch(url)).text()).toBe('done');
    const refused = await fetch(url);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    valve.close();
  });

  it('the handler wrapper answers a handler error with 500 and reports it to onError', async () => {
    const valve = new SafetyValve({ size: 0, concurrency: 1, clock: new ManualClock() });
    const boom = new Error('boom');
    const seen: unknown[] = [];
    const handler = withSafetyValve(
      valve,
      () => {
        throw boom;
      },
      { onError: (e) => seen.push(e) },
    );
    const url = await listen((req, res) => {
      void handler(req, res);
    });
    const r = await fetch(url);
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({ error: 'internal' });
    expect(seen).toEqual([boom]);
    valve.close();
  });
});
