// Review finding (P1): `withSafetyValve` rethrew a handler's error from the async function that
// node:http calls and ignores, so every handler bug was an unhandled rejection (fatal under Node's
// default `--unhandled-rejections=throw`) and the client never got an answer. The glue now never
// rethrows: 500 JSON (or a destroyed response once headers are out) and `onError(error, req)`;
// the middleware hands errors to `next(err)` as Express expects.
// Real node:http server on port 0 and real requests; no sleeps.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '@valve/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Next, safetyMiddleware, withSafetyValve } from '../../src/http.js';
import { SafetyValve } from '../../src/index.js';

let server: Server | undefined;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => {
  unhandled.push(reason);
  // Before the fix the client waits forever: cut its connection so the test fails instead of hanging.
  server?.closeAllConnections();
};
process.on('unhandledRejection', onUnhandled);

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
  unhandled.length = 0;
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => unknown): Promise<string> {
  server = createServer(handler as (req: IncomingMessage, res: ServerResponse) => void);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function settle(valve: SafetyValve): Promise<void> {
  while (valve.stats().running !== 0) await new Promise((r) => setImmediate(r));
}

describe('withSafetyValve never rethrows a handler error', () => {
  it('answers 500 JSON and reports to onError when the handler throws (no unhandled rejection)', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 2, clock: new ManualClock() });
    const bug = new Error('handler bug');
    const seen: Array<[unknown, string | undefined]> = [];
    // Handed to createServer directly, exactly as the README shows: node:http drops the promise.
    const url = await listen(
      withSafetyValve(
        valve,
        async () => {
          throw bug;
        },
        { onError: (error, req) => seen.push([error, req.url]) },
      ),
    );
    const response = await fetch(`${url}/search`).catch((e: unknown) => e);
    expect(unhandled).toEqual([]);
    expect(response).toBeInstanceOf(Response);
    const r = response as Response;
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await r.json()).toEqual({ error: 'internal' });
    expect(seen).toEqual([[bug, '/search']]);
    await settle(valve);
    expect(valve.stats()).toMatchObject({ running: 0, completed: 0, failed: 1 });
    valve.close();
  });

  it('answers 500 for a synchronous throw too, without onError', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 2, clock: new ManualClock() });
    const handler = withSafetyValve(valve, () => {
      throw new Error('sync bug');
    });
    const url = await listen(handler);
    const r = await fetch(url).catch((e: unknown) => e);
    expect(unhandled).toEqual([]);
    expect((r as Response).status).toBe(500);
    valve.close();
  });

  it('destroys the response when the handler fails after the headers were sent', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 2, clock: new ManualClock() });
    const seen: unknown[] = [];
    const url = await listen(
      withSafetyValve(
        valve,
        async (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('partial');
          await new Promise((r) => setImmediate(r));
          throw new Error('late bug');
        },
        { onError: (error) => seen.push(error) },
      ),
    );
    // The body is cut short: reading it fails instead of looking complete.
    const outcome = await fetch(url).then(
      (r) =>
        r.text().then(
          () => 'complete',
          () => 'cut',
        ),
      () => 'cut',
    );
    expect(unhandled).toEqual([]);
    expect(outcome).toBe('cut');
    expect(seen).toHaveLength(1);
    valve.close();
  });

  it('an onError that throws is ignored, the client still gets its 500', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 2, clock: new ManualClock() });
    const url = await listen(
      withSafetyValve(valve, () => Promise.reject(new Error('bug')), {
        onError: () => {
          throw new Error('broken reporter');
        },
      }),
    );
    const r = await fetch(url).catch((e: unknown) => e);
    expect(unhandled).toEqual([]);
    expect((r as Response).status).toBe(500);
    valve.close();
  });

  it('validates onError', () => {
    const valve = new SafetyValve({ size: 1, concurrency: 1 });
    expect(() => withSafetyValve(valve, () => 1, { onError: 1 as never })).toThrow(/options\.onError/);
    expect(() => safetyMiddleware(valve, { onError: 'x' as never })).toThrow(/options\.onError/);
    valve.close();
  });
});

describe('safetyMiddleware hands errors to next(err)', () => {
  it('a synchronous throw from next() goes to next(err), never to an unhandled rejection', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 1, clock: new ManualClock() });
    const mw = safetyMiddleware(valve);
    const bug = new Error('route bug');
    const passed: unknown[] = [];
    const url = await listen((req, res) => {
      const next: Next = (error) => {
        if (error === undefined) throw bug; // a framework-free chain that lets a route throw
        passed.push(error);
        res.statusCode = 418;
        res.end('handled');
      };
      mw(req, res, next);
    });
    const r = await fetch(url).catch((e: unknown) => e);
    expect(unhandled).toEqual([]);
    expect((r as Response).status).toBe(418);
    expect(passed).toEqual([bug]);
    await settle(valve);
    expect(valve.stats()).toMatchObject({ running: 0, completed: 1 });
    valve.close();
  });

  it('when next(err) throws as well: 500 JSON and onError', async () => {
    const valve = new SafetyValve({ size: 10, concurrency: 1, clock: new ManualClock() });
    const seen: unknown[] = [];
    const mw = safetyMiddleware(valve, { onError: (error) => seen.push(error) });
    const second = new Error('error handler bug');
    const url = await listen((req, res) =>
      mw(req, res, (error) => {
        if (error === undefined) throw new Error('route bug');
        throw second;
      }),
    );
    const r = await fetch(url).catch((e: unknown) => e);
    expect(unhandled).toEqual([]);
    expect((r as Response).status).toBe(500);
    expect(await (r as Response).json()).toEqual({ error: 'internal' });
    expect(seen).toEqual([second]);
    await settle(valve);
    valve.close();
  });
});
