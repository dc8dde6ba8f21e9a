// The Valve contract (CONTRIBUTING.md, issue 14) for SafetyValve: testkit's generic test, then
// safety's own cases (stats words with aborts and a full queue, close() waiting for running jobs).
import { ManualClock, MetricsRegistry, REASONS } from '@valve/core';
import { deferred, flush, newUntyped, track, valveContract } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { safetyValveHook } from '../src/fastify.js';
import { honoSafetyValve } from '../src/hono.js';
import { safetyMiddleware, withSafetyValve } from '../src/http.js';
import { SafetyValve, SafetyValves } from '../src/index.js';
import { koaSafetyValve } from '../src/koa.js';

valveContract<SafetyValve, MetricsRegistry>('SafetyValve', {
  reasons: REASONS,
  create: (name, metrics = new MetricsRegistry()) => ({
    valve: new SafetyValve({ name, metrics, concurrency: 1, size: 1, clock: new ManualClock() }),
    metrics,
  }),
  work: async (valve) => {
    // One runs and succeeds, one queues and fails, one is refused (queue full).
    const gate = deferred<string>();
    const ok = valve.run(() => gate.promise);
    const bad = valve.run(() => Promise.reject(new Error('no')));
    await expect(valve.run(() => 3)).rejects.toMatchObject({ reason: 'queue_full' });
    gate.resolve('a');
    await ok;
    await expect(bad).rejects.toThrow('no');
    return { offered: 3, rejected: 1, completed: 1, failed: 1 };
  },
  badOptions: [
    { option: 'size', construct: () => new SafetyValve({ concurrency: 1, size: -1 }) },
    { option: 'concurrency', construct: () => new SafetyValve({ concurrency: 0, size: 1 }) },
    { option: 'targetMs', construct: () => new SafetyValve({ concurrency: 1, size: 1, targetMs: 200 }) },
    { option: 'metrics', construct: () => new SafetyValve({ concurrency: 1, size: 1, metrics: {} as never }) },
    { option: 'clock', construct: () => new SafetyValve({ concurrency: 1, size: 1, clock: 5 as never }) },
    { option: 'sizee', construct: () => new SafetyValve({ concurrency: 1, size: 1, sizee: 1 } as never) },
  ],
  unknownOptions: [
    { call: 'new SafetyValve(options)', with: (o) => new SafetyValve({ concurrency: 1, size: 1, ...o }) },
    { call: 'run(fn, options)', with: (o) => new SafetyValve({ concurrency: 1, size: 1 }).run(() => 1, o) },
    { call: 'tryRun(fn, options)', with: (o) => new SafetyValve({ concurrency: 1, size: 1 }).tryRun(() => 1, o) },
    { call: 'ask(options)', with: (o) => new SafetyValve({ concurrency: 1, size: 1 }).ask(o) },
    { call: 'setLimits(limits)', with: (o) => new SafetyValve({ concurrency: 1, size: 1 }).setLimits(o) },
    { call: 'SafetyValves#configure(options)', with: (o) => new SafetyValves().configure({ queues: {}, ...o }) },
    {
      call: 'SafetyValves#configure({ queues: { name: options } })',
      with: (o) => new SafetyValves().configure({ queues: { q: { concurrency: 1, size: 1, ...o } } }),
    },
    {
      call: 'safetyMiddleware(valve, options)',
      with: (o) => safetyMiddleware(new SafetyValve({ concurrency: 1, size: 1 }), o),
    },
    {
      call: 'withSafetyValve(valve, handler, options)',
      with: (o) => withSafetyValve(new SafetyValve({ concurrency: 1, size: 1 }), () => {}, o),
    },
    {
      call: 'koaSafetyValve(valve, options)',
      with: (o) => koaSafetyValve(new SafetyValve({ concurrency: 1, size: 1 }), o),
    },
    {
      call: 'honoSafetyValve(valve, options)',
      with: (o) => honoSafetyValve(new SafetyValve({ concurrency: 1, size: 1 }), o),
    },
    {
      call: 'safetyValveHook(valve, options)',
      with: (o) => safetyValveHook(new SafetyValve({ concurrency: 1, size: 1 }), o),
    },
    {
      call: 'SafetyValves#run(name, fn, options)',
      with: (o) => {
        const valves = new SafetyValves();
        valves.configure({ queues: { q: { concurrency: 1, size: 1 } } });
        return valves.run('q', () => 1, o);
      },
    },
  ],
  extraArguments: [
    {
      call: 'new SafetyValve(options, extra)',
      with: (extra) => newUntyped(SafetyValve, { concurrency: 1, size: 1 }, extra),
    },
  ],
});

describe('SafetyValve and the Valve contract', () => {
  it('stats: completed excludes failures; admitted = running + completed + failed; offered = rejected + queued + admitted', async () => {
    const valve = new SafetyValve({ concurrency: 1, size: 1, clock: new ManualClock() });
    const gate = deferred<string>();
    const ok = valve.run(() => gate.promise);
    const bad = valve.run(() => Promise.reject(new Error('no')));
    const refused = valve.run(() => 1); // queue full
    const ac = new AbortController();
    await expect(refused).rejects.toMatchObject({ code: 'ERR_VALVE_QUEUE_FULL' });
    let s = valve.stats();
    expect(s).toMatchObject({ admitted: 1, running: 1, queued: 1, rejected: 1, completed: 0, failed: 0 });
    expect(s.rejectedByReason.queue_full).toBe(1);
    gate.resolve('a');
    await ok;
    await expect(bad).rejects.toThrow('no');
    const g2 = deferred();
    const holder = valve.run(() => g2.promise);
    const aborted = valve.run(() => 2, { signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toBeDefined();
    g2.resolve();
    await holder;
    s = valve.stats();
    expect(s).toMatchObject({ admitted: 3, running: 0, completed: 2, failed: 1, rejected: 2, queued: 0 });
    expect(s.rejectedByReason).toMatchObject({ queue_full: 1, aborted: 1 });
    expect(s.admitted).toBe(s.running + s.completed + s.failed);
    expect(5).toBe(s.rejected + s.queued + s.admitted); // five offered
    await valve.close();
  });

  it('close() is awaitable and idempotent: it resolves once running jobs settled; asyncDispose is close', async () => {
    const valve = new SafetyValve({ concurrency: 1, size: 5 });
    const gate = deferred<string>();
    const running = valve.run(() => gate.promise);
    const first = valve.close();
    expect(valve.close()).toBe(first);
    expect(valve[Symbol.asyncDispose]()).toBe(first);
    const closed = track(first);
    await flush();
    expect(closed.state).toBe('pending');
    gate.resolve('done');
    expect(await running).toBe('done');
    await first;
    expect(valve.stats().closed).toBe(true);
  });

  it("close() removes exactly this valve's metric series", async () => {
    const metrics = new MetricsRegistry();
    const a = new SafetyValve({ name: 'a', concurrency: 1, size: 1, metrics });
    const b = new SafetyValve({ name: 'b', concurrency: 1, size: 1, metrics });
    await a.run(() => 1);
    expect(metrics.toPrometheus()).toContain('valve_safety_admitted_total{valve="a"} 1');
    await a.close();
    const text = metrics.toPrometheus();
    expect(text).not.toContain('valve="a"');
    expect(text).toContain('valve="b"');
    await b.close();
    expect(metrics.toPrometheus()).not.toContain('valve_safety_');
  });
});
