// Issue 17 item 1: load-signal gates. The process's load comes from an injected sampler and is
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
