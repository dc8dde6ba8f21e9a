// The README's examples for loadShedding, setLimits and weights (issue 17), run as tests. The code
// between the markers is the README's (with a ManualClock added where the README uses the system
// clock, so no real timer outlives the test).
import { LoadMonitor, ManualClock } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { SafetyValve } from '../src/index.js';

const clock = new ManualClock();
const buildReport = async () => 'report';

describe('README (issue 17)', () => {
  it('load shedding', async () => {
    // --- README: load shedding ---
    // Thresholds: the valve samples and stops sampling on close().
    const api = new SafetyValve({
      size: 100,
      concurrency: 32,
      loadShedding: { maxEventLoopDelayMs: 200, maxHeapUsedBytes: 1.5e9, sampleIntervalMs: 1000, recoverBelow: 0.8 },
      clock,
    });
    api.stats().loadCause; // 'eventLoopDelay' while shedding on it, undefined otherwise
    // Or one monitor for several valves (they do not close it).
    const load = new LoadMonitor({ maxEventLoopUtilization: 0.98, maxRssBytes: 2e9, clock });
    const reports = new SafetyValve({ size: 10, concurrency: 4, loadShedding: load, clock });
    // --- end ---
    expect(await api.run(() => 1)).toBe(1);
    expect(await reports.run(() => 2)).toBe(2);
    // One real sample of this process (its values depend on the machine: only its shape is checked).
    await clock.advanceAsync(1000);
    expect(load.sample.rssBytes).toBeGreaterThan(0);
    expect(typeof load.overloaded).toBe('boolean');
    await api.close();
    await reports.close();
    load.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('setLimits', async () => {
    // --- README: setLimits ---
    const db = new SafetyValve({ hz: 1000, rate: 50, tokenLimit: 50, size: 20, concurrency: 8, clock });
    // The database got a bigger pool: more in flight, a longer line, a faster refill.
    db.setLimits({ concurrency: 16, size: 40, rate: 100, tokenLimit: 100 });
    // --- end ---
    expect(db.stats()).toMatchObject({ limit: 16, tokens: 50 });
    expect(db.stats().configuration).toMatchObject({ size: 40, rate: 100, tokenLimit: 100 });
    await db.close();
  });

  it('weights', async () => {
    // --- README: weights ---
    const exports = new SafetyValve({ tokenLimit: 10, size: 10, concurrency: 4, clock });
    const report = await exports.run(() => buildReport(), { weight: 3 }); // 3 of the 4 slots
    // --- end ---
    expect(report).toBe('report');
    expect(exports.stats().tokens).toBe(7);
  });
});
