import { describe, expect, it } from 'vitest';
import { type LoadSample, LoadMonitor, type LoadState, ManualClock, processLoadSampler } from '../../src/index.js';

/** A sampler that returns whatever the test last set, and counts its calls. */
function fakeSampler(initial: LoadSample = {}) {
  const s = { value: initial, calls: 0, closed: false };
  return {
    s,
    sampler: {
      sample: () => {
        s.calls++;
        return s.value;
      },
      close: () => {
        s.closed = true;
      },
    },
  };
}

describe('LoadMonitor', () => {
  it("samples once per sampleIntervalMs on the injected clock, from one unref'd timer", () => {
    const clock = new ManualClock();
    const { s, sampler } = fakeSampler({ eventLoopDelayMs: 5 });
    const m = new LoadMonitor({ maxEventLoopDelayMs: 100, sampleIntervalMs: 500, sampler, clock });
    expect(m.overloaded).toBe(false);
    expect(s.calls).toBe(0);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.refedTimers).toBe(0);
    clock.advance(499);
    expect(s.calls).toBe(0);
    clock.advance(1);
    expect(s.calls).toBe(1);
    clock.advance(1500);
    expect(s.calls).toBe(4);
    // Reading the state never samples.
    for (let i = 0; i < 10; i++) void m.overloaded;
    expect(s.calls).toBe(4);
    m.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it.each([
    ['eventLoopDelay', { maxEventLoopDelayMs: 100 }, { eventLoopDelayMs: 100 }, { eventLoopDelayMs: 100.5 }],
    [
      'eventLoopUtilization',
      { maxEventLoopUtilization: 0.9 },
      { eventLoopUtilization: 0.9 },
      { eventLoopUtilization: 0.95 },
    ],
    ['heapUsed', { maxHeapUsedBytes: 1000 }, { heapUsedBytes: 1000 }, { heapUsedBytes: 1001 }],
    ['rss', { maxRssBytes: 1000 }, { rssBytes: 1000 }, { rssBytes: 1001 }],
  ] as const)('%s: overloaded only above the threshold, and recovers', (cause, limits, at, above) => {
    const clock = new ManualClock();
    const { s, sampler } = fakeSampler(at);
    const m = new LoadMonitor({ ...limits, sampleIntervalMs: 10, sampler, clock });
    const changes: LoadState[] = [];
    m.onChange((e) => changes.push(e));
    clock.advance(10);
    expect(m.overloaded).toBe(false);
    s.value = above;
    clock.advance(10);
    expect(m.overloaded).toBe(true);
    expect(m.cause).toBe(cause);
    expect(m.describe()).toMatch(/>/);
    clock.advance(10); // still over: no second event
    s.value = at;
    clock.advance(10);
    expect(m.overloaded).toBe(false);
    expect(m.cause).toBeUndefined();
    expect(changes.map((c) => [c.overloaded, c.cause])).toEqual([
      [true, cause],
      [false, undefined],
    ]);
    m.close();
  });

  it('ignores measures without a threshold and thresholds without a measure', () => {
    const clock = new ManualClock();
    const { sampler } = fakeSampler({ rssBytes: 1e12 });
    const m = new LoadMonitor({ maxHeapUsedBytes: 10, sampler, clock });
    expect(m.check()).toBe(false);
    m.close();
  });

  it('close() stops sampling, reads not overloaded, and closes only a sampler it built', () => {
    const clock = new ManualClock();
    const { s, sampler } = fakeSampler({ heapUsedBytes: 50 });
    const m = new LoadMonitor({ maxHeapUsedBytes: 10, sampler, clock });
    expect(m.check()).toBe(true);
    m.close();
    expect(m.overloaded).toBe(false);
    expect(s.closed).toBe(false);
    clock.advance(10_000);
    expect(s.calls).toBe(1);
  });

  it('validates its options, naming each', () => {
    expect(() => new LoadMonitor({})).toThrow(/at least one of maxEventLoopDelayMs/);
    expect(() => new LoadMonitor({ maxEventLoopDelayMs: 0 })).toThrow(/maxEventLoopDelayMs/);
    expect(() => new LoadMonitor({ maxEventLoopUtilization: 1.5 })).toThrow(RangeError);
    expect(() => new LoadMonitor({ maxEventLoopUtilization: 0 })).toThrow(/maxEventLoopUtilization/);
    expect(() => new LoadMonitor({ maxHeapUsedBytes: 1.5 })).toThrow(/maxHeapUsedBytes/);
    expect(() => new LoadMonitor({ maxRssBytes: -1 })).toThrow(/maxRssBytes/);
    expect(() => new LoadMonitor({ maxRssBytes: 1, sampleIntervalMs: 0 })).toThrow(/sampleIntervalMs/);
    expect(() => new LoadMonitor({ maxRssBytes: 1, sampler: {} as never })).toThrow(/sampler.sample/);
    expect(() => new LoadMonitor({ maxRssBytes: 1, interval: 5 } as never)).toThrow(/interval/);
  });

  it('the process sampler reads real numbers (shape only, no values asserted)', () => {
    const sampler = processLoadSampler();
    const s = sampler.sample();
    expect(s.eventLoopDelayMs).toBeGreaterThanOrEqual(0);
    expect(s.eventLoopUtilization).toBeGreaterThanOrEqual(0);
    expect(s.eventLoopUtilization).toBeLessThanOrEqual(1);
    expect(s.heapUsedBytes).toBeGreaterThan(0);
    expect(s.rssBytes).toBeGreaterThan(0);
    sampler.close?.();
    const memOnly = processLoadSampler({ eventLoopDelay: false, eventLoopUtilization: false }).sample();
    expect(Object.keys(memOnly).sort()).toEqual(['heapUsedBytes', 'rssBytes']);
  });

  it('recoverBelow: once overloaded it stays so until every measure is at or below its release level', () => {
    const clock = new ManualClock();
    const { s, sampler } = fakeSampler({ eventLoopDelayMs: 50 });
    const m = new LoadMonitor({ maxEventLoopDelayMs: 100, recoverBelow: 0.8, sampleIntervalMs: 10, sampler, clock });
    expect(m.recoverBelow).toBe(0.8);
    const changes: LoadState[] = [];
    m.onChange((e) => changes.push(e));
    // Below the threshold but above the release level: not overloaded (it was not).
    s.value = { eventLoopDelayMs: 90 };
    clock.advance(10);
    expect(m.overloaded).toBe(false);
    s.value = { eventLoopDelayMs: 101 };
    clock.advance(10);
    expect([m.overloaded, m.cause]).toEqual([true, 'eventLoopDelay']);
    expect(m.describe()).toBe('event-loop delay 101 ms > 100 ms');
    // Back under the threshold, not under 80: still overloaded, and the message says why.
    s.value = { eventLoopDelayMs: 95 };
    clock.advance(10);
    expect([m.overloaded, m.cause]).toEqual([true, 'eventLoopDelay']);
    expect(m.describe()).toBe('event-loop delay 95 ms > 80 ms (recovers at 0.8 x 100 ms)');
    s.value = { eventLoopDelayMs: 80 };
    clock.advance(10);
    expect([m.overloaded, m.cause]).toEqual([false, undefined]);
    expect(changes.map((c) => [c.overloaded, c.cause])).toEqual([
      [true, 'eventLoopDelay'],
      [false, undefined],
    ]);
    m.close();
  });

  it('without recoverBelow (1) it recovers as soon as no threshold is exceeded, as before', () => {
    const clock = new ManualClock();
    const { s, sampler } = fakeSampler({ heapUsedBytes: 101 });
    const m = new LoadMonitor({ maxHeapUsedBytes: 100, sampleIntervalMs: 10, sampler, clock });
    expect(m.recoverBelow).toBe(1);
    clock.advance(10);
    expect([m.overloaded, m.cause]).toEqual([true, 'heapUsed']);
    s.value = { heapUsedBytes: 100 };
    clock.advance(10);
    expect(m.overloaded).toBe(false);
    m.close();
  });

  it('validates recoverBelow', () => {
    const sampler = { sample: () => ({}) };
    expect(() => new LoadMonitor({ maxRssBytes: 1, sampler, recoverBelow: 0 })).toThrow(
      new RangeError('recoverBelow must be a finite number > 0, got 0'),
    );
    expect(() => new LoadMonitor({ maxRssBytes: 1, sampler, recoverBelow: 1.5 })).toThrow(
      new RangeError('recoverBelow must be > 0 and <= 1, got 1.5'),
    );
    expect(() => new LoadMonitor({ maxRssBytes: 1, sampler, recoverBelow: '0.5' as never })).toThrow(TypeError);
  });
});
