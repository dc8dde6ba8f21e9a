import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, MetricsRegistry } from '../../src/index.js';

describe('MetricsRegistry', () => {
  it('get-or-create: the same name and label values return the same metric', () => {
    const reg = new MetricsRegistry();
    const a = reg.counter({ name: 'valve_pool_tasks_total', help: 'Tasks.', labels: { valve: 'a' } });
    const again = reg.counter({ name: 'valve_pool_tasks_total', help: 'Tasks.', labels: { valve: 'a' } });
    const b = reg.counter({ name: 'valve_pool_tasks_total', help: 'Tasks.', labels: { valve: 'b' } });
    expect(again).toBe(a);
    expect(b).not.toBe(a);
    expect(a).toBeInstanceOf(Counter);
    expect(reg.gauge({ name: 'valve_pool_size', help: 's' })).toBeInstanceOf(Gauge);
    expect(reg.histogram({ name: 'valve_pool_wait_seconds', help: 'w' })).toBeInstanceOf(Histogram);
  });

  it('label order does not create a new series', () => {
    const reg = new MetricsRegistry();
    const a = reg.gauge({ name: 'valve_g', help: 'g', labels: { a: '1', b: '2' } });
    expect(reg.gauge({ name: 'valve_g', help: 'g', labels: { b: '2', a: '1' } })).toBe(a);
  });

  it('rejects a name registered as another type, or with other label names', () => {
    const reg = new MetricsRegistry();
    reg.counter({ name: 'valve_x_total', help: 'x', labels: { valve: 'a' } });
    expect(() => reg.gauge({ name: 'valve_x_total', help: 'x', labels: { valve: 'a' } })).toThrow(
      new TypeError('metric valve_x_total is already registered as a counter, not a gauge'),
    );
    expect(() => reg.counter({ name: 'valve_x_total', help: 'x', labels: { route: 'a' } })).toThrow(
      new TypeError('metric valve_x_total has label names [valve], got [route]'),
    );
    expect(() => reg.counter({ name: 'valve_x_total', help: 'x' })).toThrow('has label names [valve], got []');
  });

  it('validates names, label names and label values', () => {
    const reg = new MetricsRegistry();
    expect(() => reg.counter({ name: '9bad', help: '' })).toThrow(TypeError);
    expect(() => reg.counter({ name: '', help: '' })).toThrow('name must be a non-empty string, got ""');
    expect(() => reg.counter({ name: 'ok', help: 1 as never })).toThrow('help must be a string, got 1');
    for (const label of ['le', '__x', 'a-b']) {
      expect(() => reg.counter({ name: 'ok', help: '', labels: { [label]: 'v' } })).toThrow(
        `label name "${label}" of ok is not allowed`,
      );
    }
    expect(() => reg.counter({ name: 'ok', help: '', labels: { a: 1 as never } })).toThrow(
      'labels.a must be a string, got 1',
    );
  });

  it('histograms named _seconds export seconds unless exportScale says otherwise', () => {
    const reg = new MetricsRegistry();
    expect(reg.histogram({ name: 'valve_a_seconds', help: '' }).exportScale).toBe(0.001);
    expect(reg.histogram({ name: 'valve_b_bytes', help: '' }).exportScale).toBe(1);
    expect(reg.histogram({ name: 'valve_c_seconds', help: '', exportScale: 1 }).exportScale).toBe(1);
  });

  it('snapshot() is plain JSON of every series', () => {
    const reg = new MetricsRegistry();
    reg.counter({ name: 'valve_c_total', help: 'c', labels: { valve: 'v' } }).inc(2);
    const h = reg.histogram({ name: 'valve_h_seconds', help: 'h' });
    for (let i = 1; i <= 100; i++) h.record(i);
    const snap = JSON.parse(JSON.stringify(reg.snapshot()));
    expect(snap[0]).toEqual({
      name: 'valve_c_total',
      help: 'c',
      type: 'counter',
      series: [{ labels: { valve: 'v' }, value: 2 }],
    });
    const hv = snap[1].series[0].value;
    expect([hv.count, hv.sum, hv.min, hv.max, hv.mean]).toEqual([100, 5050, 1, 100, 50.5]);
    expect(Math.abs(hv.p50 - 50) / 50).toBeLessThanOrEqual(0.01);
    expect(Math.abs(hv.p99 - 99) / 99).toBeLessThanOrEqual(0.01);
    expect(hv.p999).toBe(100);
  });

  it('remove() deletes one series and reports whether it existed', () => {
    const reg = new MetricsRegistry();
    reg.counter({ name: 'valve_r_total', help: '', labels: { valve: 'a' } });
    reg.counter({ name: 'valve_r_total', help: '', labels: { valve: 'b' } });
    expect(reg.remove('valve_r_total', { valve: 'a' })).toBe(true);
    expect(reg.remove('valve_r_total', { valve: 'a' })).toBe(false);
    expect(reg.remove('nope')).toBe(false);
    expect(reg.getFamilies()[0]!.series.size).toBe(1);
  });
});

describe('Counter and Gauge', () => {
  it('Counter only goes up', () => {
    const c = new Counter();
    c.inc();
    c.inc(2.5);
    expect(c.value).toBe(3.5);
    expect(() => c.inc(-1)).toThrow(new RangeError('Counter.inc(n) needs n >= 0, got -1'));
    expect(() => c.inc(Number.NaN)).toThrow(RangeError);
    c.reset();
    expect(c.value).toBe(0);
  });

  it('Gauge sets, increments and decrements, or reads collect() at export', () => {
    const g = new Gauge();
    g.set(10);
    g.inc();
    g.dec(4);
    expect(g.value).toBe(7);
    let n = 0;
    const collected = new Gauge(() => ++n);
    expect(collected.value).toBe(1);
    expect(collected.value).toBe(2);
  });
});
