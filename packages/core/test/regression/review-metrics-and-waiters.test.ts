// Review findings of 2026-11-23: a second valve with the same name vanished from the exported
// gauges, a histogram re-registered with other buckets kept the first layout silently, and a
// TokenBucket kept the process alive after its last waiter aborted.
import { describe, expect, it } from 'vitest';
import { ManualClock, MetricsRegistry, TokenBucket } from '../../src/index.js';

describe('MetricsRegistry collect gauges shared by two valves of one name', () => {
  it('exports the sum of both collectors, not only the first', () => {
    const registry = new MetricsRegistry();
    let a = 1;
    let b = 2;
    const options = { name: 'valve_x_queued', help: 'Queued.', labels: { valve: 'x' } };
    registry.gauge({ ...options, collect: () => a });
    registry.gauge({ ...options, collect: () => b });
    expect(registry.toPrometheus()).toContain('valve_x_queued{valve="x"} 3');
    a = 10;
    b = 20;
    expect(registry.toPrometheus()).toContain('valve_x_queued{valve="x"} 30');
  });

  it('lets a collector be disposed', () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: 'valve_x_g', help: 'G.', collect: () => 1 });
    const d = g.addCollector(() => 5);
    expect(g.value).toBe(6);
    d.dispose();
    expect(g.value).toBe(1);
  });
});

describe('MetricsRegistry histograms', () => {
  it('refuses to re-register a histogram with other buckets or scale', () => {
    const registry = new MetricsRegistry();
    registry.histogram({ name: 'valve_x_wait_seconds', help: 'Wait.', buckets: [0.1, 1] });
    expect(() => registry.histogram({ name: 'valve_x_wait_seconds', help: 'Wait.', buckets: [0.5, 5] })).toThrow(
      /already registered with buckets \[0\.1, 1\], got \[0\.5, 5\]/,
    );
    expect(() => registry.histogram({ name: 'valve_x_wait_seconds', help: 'Wait.', exportScale: 1 })).toThrow(
      /exportScale 0\.001, got 1/,
    );
    // Same layout, or none given: get-or-create as before.
    expect(registry.histogram({ name: 'valve_x_wait_seconds', help: 'Wait.', buckets: [0.1, 1] })).toBe(
      registry.histogram({ name: 'valve_x_wait_seconds', help: 'Wait.' }),
    );
  });
});

describe('TokenBucket keep-alive', () => {
  it('unrefs its refill timer when the last waiter aborts', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ tokenLimit: 1, rate: 1, hz: 100, clock });
    expect(bucket.tryAcquire()).toBe(true);
    const a = new AbortController();
    const b = new AbortController();
    const p1 = bucket.acquire(a.signal);
    const p2 = bucket.acquire(b.signal);
    expect(clock.refedTimers).toBe(1);
    a.abort(new Error('a'));
    await expect(p1).rejects.toThrow('a');
    expect(clock.refedTimers).toBe(1); // one waiter still waits
    b.abort(new Error('b'));
    await expect(p2).rejects.toThrow('b');
    expect(clock.refedTimers).toBe(0);
    expect(clock.pendingTimers).toBe(1); // the refill still happens, it just does not hold the process
    clock.advance(100);
    expect(bucket.available).toBe(1);
  });
});
