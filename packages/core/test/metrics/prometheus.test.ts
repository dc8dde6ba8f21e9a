import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeLabelValue, formatNumber, MetricsRegistry } from '../../src/index.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Parsed {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

/**
 * A parser for the Prometheus text exposition format 0.0.4, written from the spec, strict where
 * the spec is: HELP/TYPE at most once per family and before its samples, label values quoted
 * with only \\, \" and \n escapes, values as Go floats (+Inf, -Inf, NaN).
 */
function parsePrometheus(text: string): Parsed {
  const out: Parsed = { help: new Map(), type: new Map(), samples: [] };
  expect(text === '' || text.endsWith('\n')).toBe(true);
  const seenFamilies = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# ')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (!m) throw new Error(`bad comment line: ${line}`);
      const [, kind, name, rest] = m;
      const map = kind === 'HELP' ? out.help : out.type;
      if (map.has(name!)) throw new Error(`duplicate ${kind} for ${name}`);
      if (seenFamilies.has(name!)) throw new Error(`${kind} for ${name} after its samples`);
      map.set(name!, kind === 'HELP' ? unescapeHelp(rest!) : rest!);
      continue;
    }
    let i = 0;
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new Error(`bad sample line: ${line}`);
    const name = nameMatch[0];
    i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
        if (!ln) throw new Error(`bad label name at ${i}: ${line}`);
        i += ln[0].length;
        if (line.slice(i, i + 2) !== '="') throw new Error(`expected =" at ${i}: ${line}`);
        i += 2;
        let value = '';
        for (;;) {
          const c = line[i];
          if (c === undefined) throw new Error(`unterminated label value: ${line}`);
          if (c === '"') break;
          if (c === '\\') {
            const e = line[i + 1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else throw new Error(`bad escape \\${e}: ${line}`);
            i += 2;
          } else {
            value += c;
            i++;
          }
        }
        i++;
        if (ln[0] in labels) throw new Error(`duplicate label ${ln[0]}`);
        labels[ln[0]] = value;
        if (line[i] === ',') i++;
        else if (line[i] !== '}') throw new Error(`expected , or } at ${i}: ${line}`);
      }
      i++;
    }
    if (line[i] !== ' ') throw new Error(`expected a space before the value: ${line}`);
    const valueText = line.slice(i + 1);
    expect(valueText).toMatch(/^(?:[+-]?Inf|NaN|[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    const family = [...out.type.keys()].find(
      (f) => name === f || (/^_(bucket|sum|count)$/.test(name.slice(f.length)) && name.startsWith(f)),
    );
    if (family === undefined) throw new Error(`sample ${name} before its TYPE`);
    seenFamilies.add(family);
    out.samples.push({ name, labels, value });
  }
  return out;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_, c) => (c === 'n' ? '\n' : '\\'));
}

const find = (p: Parsed, name: string, labels: Record<string, string>) =>
  p.samples.filter((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels));

describe('toPrometheus()', () => {
  it('round-trips every sample of counters, gauges and histograms through a 0.0.4 parser', () => {
    const reg = new MetricsRegistry();
    const tricky = 'a\\b "quoted"\nnext line';
    reg
      .counter({ name: 'valve_test_requests_total', help: 'Requests.\nSecond \\ line', labels: { valve: 'api' } })
      .inc(3);
    reg.counter({ name: 'valve_test_requests_total', help: 'ignored', labels: { valve: tricky } }).inc(7);
    reg.gauge({ name: 'valve_test_queue_items', help: 'Queue length.' }).set(-2.5);
    let live = 41;
    reg.gauge({ name: 'valve_test_live_items', help: 'Collected.', collect: () => ++live });
    const h = reg.histogram({
      name: 'valve_test_wait_seconds',
      help: 'Wait.',
      labels: { valve: 'api' },
      buckets: [0.01, 0.1, 1],
    });
    for (const ms of [5, 10, 50, 100, 500, 5000]) h.record(ms);
    reg.histogram({ name: 'valve_test_size_bytes', help: 'Sizes.', buckets: [10, 100] }).record(50);

    const parsed = parsePrometheus(reg.toPrometheus());

    expect([...parsed.type]).toEqual([
      ['valve_test_requests_total', 'counter'],
      ['valve_test_queue_items', 'gauge'],
      ['valve_test_live_items', 'gauge'],
      ['valve_test_wait_seconds', 'histogram'],
      ['valve_test_size_bytes', 'histogram'],
    ]);
    expect(parsed.help.get('valve_test_requests_total')).toBe('Requests.\nSecond \\ line');
    expect(find(parsed, 'valve_test_requests_total', { valve: 'api' })[0]!.value).toBe(3);
    expect(find(parsed, 'valve_test_requests_total', { valve: tricky })[0]!.value).toBe(7);
    expect(find(parsed, 'valve_test_queue_items', {})[0]!.value).toBe(-2.5);
    expect(find(parsed, 'valve_test_live_items', {})[0]!.value).toBe(42);

    // _seconds: recorded in ms, exported in seconds; buckets cumulative, +Inf equals _count.
    const buckets = parsed.samples.filter((s) => s.name === 'valve_test_wait_seconds_bucket');
    expect(buckets.map((b) => [b.labels.le, b.value])).toEqual([
      ['0.01', 2],
      ['0.1', 4],
      ['1', 5],
      ['+Inf', 6],
    ]);
    for (const b of buckets) expect(b.labels.valve).toBe('api');
    expect(find(parsed, 'valve_test_wait_seconds_sum', { valve: 'api' })[0]!.value).toBeCloseTo(5.665, 12);
    expect(find(parsed, 'valve_test_wait_seconds_count', { valve: 'api' })[0]!.value).toBe(6);
    // Not _seconds: exported as recorded.
    expect(find(parsed, 'valve_test_size_bytes_sum', {})[0]!.value).toBe(50);
    expect(parsed.samples.filter((s) => s.name === 'valve_test_size_bytes_bucket').map((b) => b.value)).toEqual([
      0, 1, 1,
    ]);

    // Every sample accounted for: 2 counters + 2 gauges + (4 + 2) + (3 + 2)
    expect(parsed.samples).toHaveLength(15);
  });

  it('property: any label value survives escaping and parsing; buckets are cumulative with +Inf = _count', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'z', '\\', '"', '\n', ' ', '{', '}', '=', ',', 'é') }),
        fc.array(fc.double({ min: 0, max: 1e5, noNaN: true })),
        (value, records) => {
          const reg = new MetricsRegistry();
          const h = reg.histogram({ name: 'valve_p_latency_seconds', help: 'x', labels: { route: value } });
          for (const r of records) h.record(r);
          const parsed = parsePrometheus(reg.toPrometheus());
          const buckets = parsed.samples.filter((s) => s.name === 'valve_p_latency_seconds_bucket');
          for (const b of buckets) expect(b.labels.route).toBe(value);
          for (let i = 1; i < buckets.length; i++)
            expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
          expect(buckets.at(-1)!.labels.le).toBe('+Inf');
          expect(buckets.at(-1)!.value).toBe(records.length);
          expect(find(parsed, 'valve_p_latency_seconds_count', { route: value })[0]!.value).toBe(records.length);
        },
      ),
    );
  });

  it('escapes label values and formats special numbers', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect([Number.NaN, Infinity, -Infinity, 0.5, 1e21].map(formatNumber)).toEqual([
      'NaN',
      '+Inf',
      '-Inf',
      '0.5',
      '1e+21',
    ]);
  });

  it('writes nothing for an empty registry or a family whose series were all removed', () => {
    const reg = new MetricsRegistry();
    expect(reg.toPrometheus()).toBe('');
    reg.counter({ name: 'valve_x_total', help: 'x', labels: { valve: 'a' } });
    expect(reg.remove('valve_x_total', { valve: 'a' })).toBe(true);
    expect(reg.toPrometheus()).toBe('');
  });
});
