// Fastify specifics, against real Fastify: encapsulation (the plugin guards the context that
// registered it and its children, not siblings), the per-route hook, and bad options.
import { ManualClock } from '@valve/core';
import { deferred } from '@valve/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { fastifySafetyValve, safetyValveHook } from '../src/fastify.js';
import { SafetyValve } from '../src/index.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setImmediate(r));
}

describe('@valve/safety/fastify', () => {
  it('registered inside a plugin, it guards that plugin and its children, not a sibling', async () => {
    const valve = new SafetyValve({ size: 0, concurrency: 1, clock: new ManualClock() });
    const gate = deferred();
    app = Fastify();
    await app.register(async (guarded) => {
      await guarded.register(fastifySafetyValve, { valve });
      guarded.get('/guarded', async () => {
        await gate.promise;
        return 'guarded';
      });
      await guarded.register(async (child) => {
        child.get('/child', async () => 'child');
      });
    });
    await app.register(async (sibling) => {
      sibling.get('/open', async () => 'open');
    });
    app.get('/root', async () => 'root');
    const url = await app.listen({ port: 0, host: '127.0.0.1' });

    const held = fetch(`${url}/guarded`);
    await until(() => valve.stats().running === 1);
    expect((await fetch(`${url}/child`)).status).toBe(503); // a child of the guarded context
    expect(await (await fetch(`${url}/open`)).text()).toBe('open'); // the sibling
    expect(await (await fetch(`${url}/root`)).text()).toBe('root'); // the parent
    gate.resolve();
    expect(await (await held).text()).toBe('guarded');
    await until(() => valve.stats().running === 0);
    expect(valve.stats()).toMatchObject({ admitted: 1, completed: 1, rejectedByReason: { queue_full: 1 } });
    valve.close();
  });

  it('registered on the root it guards every route; safetyValveHook guards one route', async () => {
    const all = new SafetyValve({ name: 'all', size: 0, concurrency: 10, clock: new ManualClock() });
    const one = new SafetyValve({ name: 'one', size: 0, concurrency: 10, clock: new ManualClock() });
    app = Fastify();
    await app.register(fastifySafetyValve, { valve: all });
    app.get('/a', async () => 'a');
    app.get('/b', { onRequest: safetyValveHook(one) }, async () => 'b');
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    expect(await (await fetch(`${url}/a`)).text()).toBe('a');
    expect(await (await fetch(`${url}/b`)).text()).toBe('b');
    await until(() => all.stats().completed === 2 && one.stats().completed === 1);
    expect(all.stats().admitted).toBe(2);
    expect(one.stats().admitted).toBe(1);
    all.close();
    one.close();
  });

  it('bad options fail the registration with a TypeError naming the option', async () => {
    const valve = new SafetyValve({ size: 0, concurrency: 1 });
    app = Fastify();
    // @ts-expect-error: valve is required
    app.register(fastifySafetyValve, {});
    await expect(app.ready()).rejects.toThrow(/valve must be/);
    const other = Fastify();
    // @ts-expect-error: not a known option
    other.register(fastifySafetyValve, { valve, retryAfter: 5 });
    await expect(other.ready()).rejects.toThrow(/options\.retryAfter is not a known option/);
    const third = Fastify();
    // @ts-expect-error: a boolean
    third.register(fastifySafetyValve, { valve, rateLimitHeaders: 'yes' });
    await expect(third.ready()).rejects.toThrow(/options\.rateLimitHeaders/);
    expect(() => safetyValveHook(valve, { rateLimitHeaders: 1 as never })).toThrow(TypeError);
    valve.close();
  });
});
