import { describe, expect, it } from 'vitest';
import { MetricsRegistry, ValveMetrics } from '../../src/index.js';

function names(registry: MetricsRegistry): string[] {
  return registry.snapshot().map((f) => f.name);
}

describe('ValveMetrics', () => {
  it('registers every series with valve=<name> and removes exactly them on close', () => {
    const registry = new MetricsRegistry();
    const other = registry.counter({ name: 'valve_other_total', help: 'Not ours.', labels: { valve: 'x' } });
    const m = new ValveMetrics(registry, 'a');
    const runs = m.counter('valve_test_runs_total', 'Runs.');
    const drops = m.counter('valve_test_dropped_total', 'Drops.', { reason: 'queue_full' });
    m.gauge('valve_test_queue_items', 'Queued.', () => 7);
    const h = m.histogram('valve_test_run_seconds', 'Run time.');
    runs.inc(2);
    drops.inc();
    h!.record(5);
    other.inc();

    const text = registry.toPrometheus();
    expect(text).toContain('valve_test_runs_total{valve="a"} 2');
    expect(text).toContain('valve_test_dropped_total{reason="queue_full",valve="a"} 1');
    expect(text).toContain('valve_test_queue_items{valve="a"} 7');
    expect(text).toContain('valve_test_run_seconds_count{valve="a"} 1');

    m.close();
    expect(names(registry)).toEqual(['valve_other_total']);
    const after = registry.toPrometheus();
    // A family with no series prints nothing: no orphan # HELP / # TYPE lines.
    expect(after).not.toContain('valve_test_');
    expect(after).toBe(
      '# HELP valve_other_total Not ours.\n# TYPE valve_other_total counter\nvalve_other_total{valve="x"} 1\n',
    );
    m.close(); // idempotent
    expect(names(registry)).toEqual(['valve_other_total']);
  });

  it('keeps a series two valves of one name share until the last of them closes', () => {
    const registry = new MetricsRegistry();
    const a = new ValveMetrics(registry, 'api');
    const b = new ValveMetrics(registry, 'api');
    a.counter('valve_test_runs_total', 'Runs.').inc();
    b.counter('valve_test_runs_total', 'Runs.').inc();
    a.gauge('valve_test_queue_items', 'Queued.', () => 1);
    b.gauge('valve_test_queue_items', 'Queued.', () => 2);
    expect(registry.toPrometheus()).toContain('valve_test_queue_items{valve="api"} 3');

    a.close();
    const text = registry.toPrometheus();
    expect(text).toContain('valve_test_runs_total{valve="api"} 2');
    // a's collector is gone (it no longer keeps a's valve alive), b's remains.
    expect(text).toContain('valve_test_queue_items{valve="api"} 2');
    b.close();
    expect(registry.toPrometheus()).toBe('');
  });

  it('registering one series twice from one valve holds it once', () => {
    const registry = new MetricsRegistry();
    const a = new ValveMetrics(registry, 'a');
    const c1 = a.counter('valve_test_runs_total', 'Runs.');
    const c2 = a.counter('valve_test_runs_total', 'Runs.');
    expect(c1).toBe(c2);
    a.close();
    expect(registry.toPrometheus()).toBe('');
  });

  it('without a registry: private counters that count, no histogram, gauges ignored', () => {
    const m = new ValveMetrics(undefined, 'a');
    const c = m.counter('valve_test_runs_total', 'Runs.');
    c.inc(3);
    expect(c.value).toBe(3);
    expect(m.histogram('valve_test_run_seconds', 'Run time.')).toBeUndefined();
    m.gauge('valve_test_queue_items', 'Queued.', () => 1);
    m.close();
    expect(m.registry).toBeUndefined();
    expect(m.labels).toEqual({ valve: 'a' });
  });

  it('registers nothing after close (it could never be removed)', () => {
    const registry = new MetricsRegistry();
    const m = new ValveMetrics(registry, 'a');
    m.close();
    m.counter('valve_test_runs_total', 'Runs.').inc();
    m.gauge('valve_test_queue_items', 'Queued.', () => 1);
    expect(m.histogram('valve_test_run_seconds', 'Run time.')).toBeUndefined();
    expect(registry.toPrometheus()).toBe('');
  });
});
