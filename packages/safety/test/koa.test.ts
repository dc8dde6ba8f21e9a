// Koa specifics against real Koa: errors from later middleware stay Koa's, and bad options.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '@valve/core';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';
import { koaSafetyValve } from '../src/koa.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => {
    server?.close(r) ?? r(undefined);
    server?.closeAllConnections();
  });
  server = undefined;
});

describe('@valve/safety/koa', () => {
  it("a later middleware's error is Koa's (500 through app.on('error')) and the slot is freed", async () => {
    const valve = new SafetyValve({ size: 0, concurrency: 1, clock: new ManualClock() });
    const app = new Koa();
    const errors: unknown[] = [];
    app.on('error', (error) => errors.push(error));
    app.use(koaSafetyValve(valve));
    app.use(() => {
      throw new Error('handler failed');
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(r.status).toBe(500);
    await r.text();
    while (valve.stats().running !== 0) await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toHaveLength(1);
    expect(valve.stats()).toMatchObject({ admitted: 1, completed: 1 });
    valve.close();
  });

  it('validates its arguments synchronously', () => {
    const valve = new SafetyValve({ size: 0, concurrency: 1 });
    expect(() => koaSafetyValve(null as never)).toThrow(/valve must be/);
    expect(() => koaSafetyValve(valve, { rateLimitHeaders: 'no' } as never)).toThrow(/options\.rateLimitHeaders/);
    expect(() => koaSafetyValve(valve, 5 as never)).toThrow(/options must be/);
    valve.close();
  });
});
