// The README's quick start, run as written (with console.log replaced by a capture).
import { expect, it } from 'vitest';
import { AimdLimit, isValveError, LocalConcurrency, ManualClock, MetricsRegistry } from '../src/index.js';

it('README quick start: a permit, a recorded latency, Prometheus text', async () => {
  const clock = new ManualClock();
  const slots = new LocalConcurrency({ limit: new AimdLimit({ initialLimit: 4 }), clock });
  const metrics = new MetricsRegistry();
  const latency = metrics.histogram({ name: 'valve_demo_work_seconds', help: 'Work time.' });

  const permit = await slots.acquire();
  const started = clock.now();
  clock.advance(12);
  latency.record(clock.now() - started);
  permit.release();
  const text = metrics.toPrometheus();

  expect(slots.inUse).toBe(0);
  expect(slots.limit).toBeGreaterThanOrEqual(4); // AIMD grows (or holds) on a fast, successful sample
  expect(text).toContain('# TYPE valve_demo_work_seconds histogram');
  expect(text).toContain('valve_demo_work_seconds_bucket{le="0.025"} 1'); // 12 ms <= 25 ms
  expect(text).toContain('valve_demo_work_seconds_bucket{le="0.01"} 0');
  expect(text).toContain('valve_demo_work_seconds_sum 0.012');
  expect(text).toContain('valve_demo_work_seconds_count 1');
  expect(isValveError(new Error('plain'))).toBe(false);
});
