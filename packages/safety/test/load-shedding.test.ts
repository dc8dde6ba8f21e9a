// Issue 17 item 1: load-signal gates, their hysteresis and their observability. The process's load comes from an injected sampler and is
// sampled on a ManualClock, so every state change here is one the test made.
import { isValveError, type LoadSample, LoadMonitor, ManualClock, MetricsRegistry } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';

function loadOf(initial: LoadSample = {}) {
  const state = { sample: initial, calls: 0 };
  return {
    state,
    sampler: {
      sample: () => {
        state.calls++;
        return state.sample;
      },
    },
  };
}

describe('loadShedding (issue 17 item 1)', () => {
  it('refuses new jobs with reason overload while the sampled load is over a threshold, and admits again once it is not', async () => {
    const clock = new ManualClock();
    const { state, sampler } = loadOf({ eventLoopDelayMs: 10 });
    const metrics = new MetricsRegistry();
    const valve = new SafetyValve({
      name: 'api',
      size: 10,
      concurrency: 4,
      clock,
      metrics,
      loadShedding: { maxEventLoopDelayMs: 100, sampleIntervalMs: 500, sampler },
    });
    expect(await valve.run(() => 'ok')).toBe('ok');
    state.sample = { eventLoopDelayMs: 250 };
    // Not sampled yet: the gate reads the last sample, never the sampler, on a call.
    expect(await valve.run(() => 'still ok')).toBe('still ok');
    expect(state.calls).toBe(0);
    await clock.advanceAsync(500);
    expect(state.calls).toBe(1);
    const refused = await valve.run(() => 'no').catch((e: unknown) => e);
    expect(isValveError(refused, 'ERR_VALVE_DROPPED')).toBe(true);
    expect(refused).toMatchObject({ reason: 'overload' });
    expect((refused as Error).message).toBe(
      'valve api: process overloaded (event-loop delay 250 ms > 100 ms), 0 running, 0 waiting (size 10)',
    );
    await expect(valve.ask()).rejects.toMatchObject({ reason: 'overload' });
    expect(await valve.tryRun(() => 'no')).toMatchObject({ ok: false, reason: 'overload' });
    expect(valve.stats().rejectedByReason.overload).toBe(3);
    expect(valve.stats().configuration.loadShedding).toEqual({ maxEventLoopDelayMs: 100 });
    expect(metrics.toPrometheus()).toContain('valve_safety_rejected_total{reason="overload",valve="api"} 3');
    state.sample = { eventLoopDelayMs: 20 };
    await clock.advanceAsync(500);
    expect(await valve.run(() => 'back')).toBe('back');
    await valve.close();
    // The valve built this monitor: close() stopped its timer.
    expect(clock.pendingTimers).toBe(0);
  });

  it('leaves jobs already waiting in the line alone (only arrivals are shed)', async () => {
    const clock = new ManualClock();
    const { state, sampler } = loadOf({ heapUsedBytes: 1 });
    const valve = new SafetyValve({
      size: 5,
      concurrency: 1,
      clock,
      loadShedding: { maxHeapUsedBytes: 100, sampleIntervalMs: 10, sampler },
    });
    let release!: () => void;
    const first = valve.run(() => new Promise<void>((r) => (release = r)));
    const queued = valve.run(() => 'queued');
    state.sample = { heapUsedBytes: 1000 };
    await clock.advanceAsync(10);
    await expect(valve.run(() => 'late')).rejects.toMatchObject({ reason: 'overload' });
    release();
    await first;
    expect(await queued).toBe('queued');
    await valve.close();
  });

  it('several valves share one LoadMonitor; a valve does not close a monitor passed in', async () => {
    const clock = new ManualClock();
    const { state, sampler } = loadOf({ rssBytes: 1 });
    const monitor = new LoadMonitor({ maxRssBytes: 100, sampleIntervalMs: 1000, sampler, clock });
    const a = new SafetyValve({ name: 'a', size: 0, concurrency: 1, clock, loadShedding: monitor });
    const b = new SafetyValve({ name: 'b', size: 0, concurrency: 1, clock, loadShedding: monitor });
    state.sample = { rssBytes: 200 };
    await clock.advanceAsync(1000);
    expect(state.calls).toBe(1); // one sample for both valves
    await expect(a.run(() => 1)).rejects.toMatchObject({ reason: 'overload' });
    await expect(b.run(() => 1)).rejects.toMatchObject({ reason: 'overload' });
    await a.close();
    expect(clock.pendingTimers).toBe(1);
    await expect(b.run(() => 1)).rejects.toMatchObject({ reason: 'overload' });
    // A closed valve says shutdown, not overload.
    await expect(a.run(() => 1)).rejects.toMatchObject({ reason: 'shutdown' });
    await b.close();
    monitor.close();
  });

  it('a valve without loadShedding keeps the prototype run() (no gate on its admitted path)', () => {
    const plain = new SafetyValve({ size: 0, concurrency: 1, clock: new ManualClock() });
    expect(Object.hasOwn(plain, 'run')).toBe(false);
    expect(plain.stats().configuration.loadShedding).toBeUndefined();
  });

  it('validates loadShedding, naming the option', () => {
    const clock = new ManualClock();
    expect(() => new SafetyValve({ size: 0, concurrency: 1, clock, loadShedding: {} })).toThrow(
      /at least one of maxEventLoopDelayMs/,
    );
    expect(
      () => new SafetyValve({ size: 0, concurrency: 1, clock, loadShedding: { maxEventLoopUtilization: 2 } }),
    ).toThrow('maxEventLoopUtilization must be > 0 and <= 1, got 2');
    expect(
      () => new SafetyValve({ size: 0, concurrency: 1, clock, loadShedding: { maxRssBytes: 1, every: 5 } as never }),
    ).toThrow(/every/);
    expect(() => new SafetyValve({ size: 0, concurrency: 1, clock, loadShedding: 5 as never })).toThrow(/loadShedding/);
  });
});

const gauge = (metrics: MetricsRegistry, name: string) =>
  metrics
    .toPrometheus()
    .split('\n')
    .find((l) => l.startsWith(`valve_safety_overloaded_ratio{valve="${name}"}`));

describe('loadShedding: hysteresis (recoverBelow), stats().loadCause, the overloaded gauge', () => {
  it('stats().loadCause and the gauge say whether the valve sheds on load now, and why; recoverBelow holds it', async () => {
    const clock = new ManualClock();
    const metrics = new MetricsRegistry();
    const { state, sampler } = loadOf({ eventLoopUtilization: 0.5, heapUsedBytes: 10 });
    const valve = new SafetyValve({
      ...{ name: 'api', size: 10, concurrency: 4, clock, metrics },
      loadShedding: {
        maxEventLoopUtilization: 0.9,
        maxHeapUsedBytes: 1000,
        recoverBelow: 0.8,
        sampleIntervalMs: 100,
        sampler,
      },
    });
    expect(valve.stats().loadCause).toBeUndefined();
    expect(gauge(metrics, 'api')).toBe('valve_safety_overloaded_ratio{valve="api"} 0');
    state.sample = { eventLoopUtilization: 0.95, heapUsedBytes: 10 };
    await clock.advanceAsync(100);
    expect(valve.stats().loadCause).toBe('eventLoopUtilization');
    expect(gauge(metrics, 'api')).toBe('valve_safety_overloaded_ratio{valve="api"} 1');
    // Under the threshold, above 0.8 x 0.9 = 0.72: still shedding (hysteresis), still the same cause.
    state.sample = { eventLoopUtilization: 0.8, heapUsedBytes: 10 };
    await clock.advanceAsync(100);
    expect(valve.stats().loadCause).toBe('eventLoopUtilization');
    await expect(valve.run(() => 1)).rejects.toThrow(
      'process overloaded (event-loop utilization 0.8 > 0.72 (recovers at 0.8 x 0.9))',
    );
    // Utilisation released, but the heap is above its release level (800) though under its threshold:
    // the monitor stays overloaded and names the heap.
    state.sample = { eventLoopUtilization: 0.1, heapUsedBytes: 900 };
    await clock.advanceAsync(100);
    expect(valve.stats().loadCause).toBe('heapUsed');
    state.sample = { eventLoopUtilization: 0.1, heapUsedBytes: 800 };
    await clock.advanceAsync(100);
    expect(valve.stats().loadCause).toBeUndefined();
    expect(gauge(metrics, 'api')).toBe('valve_safety_overloaded_ratio{valve="api"} 0');
    expect(await valve.run(() => 'back')).toBe('back');
    // Not overloaded: a sample at 0.8 (above the release level, under the threshold) does not start shedding.
    state.sample = { eventLoopUtilization: 0.85 };
    await clock.advanceAsync(100);
    expect(valve.stats().loadCause).toBeUndefined();
    await valve.close();
    expect(metrics.toPrometheus()).not.toContain('valve_safety_overloaded_ratio');
  });

  it('a shared monitor: every valve on it reports it; a valve without loadShedding has no gauge and no cause', async () => {
    const clock = new ManualClock();
    const metrics = new MetricsRegistry();
    const { state, sampler } = loadOf({ rssBytes: 5 });
    const load = new LoadMonitor({ maxRssBytes: 10, sampleIntervalMs: 100, sampler, clock });
    const a = new SafetyValve({ name: 'a', size: 1, concurrency: 1, clock, metrics, loadShedding: load });
    const b = new SafetyValve({ name: 'b', size: 1, concurrency: 1, clock, metrics, loadShedding: load });
    const plain = new SafetyValve({ name: 'plain', size: 1, concurrency: 1, clock, metrics });
    state.sample = { rssBytes: 11 };
    await clock.advanceAsync(100);
    expect([a.stats().loadCause, b.stats().loadCause, plain.stats().loadCause]).toEqual(['rss', 'rss', undefined]);
    expect(gauge(metrics, 'a')).toMatch(/ 1$/);
    expect(gauge(metrics, 'b')).toMatch(/ 1$/);
    expect(gauge(metrics, 'plain')).toBeUndefined();
    await Promise.all([a.close(), b.close(), plain.close()]);
    load.close();
  });
});
