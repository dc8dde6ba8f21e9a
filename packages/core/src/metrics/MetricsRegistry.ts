import { rejectExtraArguments, validateString } from '../validate.js';
import { Counter } from './Counter.js';
import { Gauge } from './Gauge.js';
import { Histogram, type HistogramOptions } from './Histogram.js';
import { formatPrometheus } from './prometheus.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Labels = Readonly<Record<string, string>>;

export interface MetricOptions {
  /** Prometheus name, `valve_<package>_<what>_<unit>` (counters end in `_total`). */
  name: string;
  help: string;
  /** Label values for this series; every series of one name has the same label names. */
  labels?: Labels;
}

export interface GaugeOptions extends MetricOptions {
  /** Read at export time instead of `set()` calls. */
  collect?: () => number;
}

export interface RegistryHistogramOptions extends MetricOptions, HistogramOptions {}

type Metric = Counter | Gauge | Histogram;

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  readonly series: Map<string, { labels: Labels; metric: Metric }>;
}

export interface HistogramSnapshot {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
}

export interface MetricSnapshot {
  name: string;
  help: string;
  type: MetricType;
  series: { labels: Labels; value: number | HistogramSnapshot }[];
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Where valves register their metrics. Registration is get-or-create by name and label values,
 * so several valves (or one valve constructed twice) can share a registry, and one registry can
 * serve a whole process with one `# HELP`/`# TYPE` per name.
 */
export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  constructor() {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 0, 'new MetricsRegistry()');
  }

  counter(options: MetricOptions): Counter {
    return this.getOrCreate(options, 'counter', () => new Counter()) as Counter;
  }

  /**
   * A gauge; with `collect`, the function is read at export time. Registering a second
   * `collect` for the same name and labels (a second valve with the same `name`) adds it: the
   * series reports the sum, as the two valves' counters are one series too.
   */
  gauge(options: GaugeOptions): Gauge {
    let created = false;
    const gauge = this.getOrCreate(options, 'gauge', () => {
      created = true;
      return new Gauge(options.collect);
    }) as Gauge;
    if (!created && options.collect) gauge.addCollector(options.collect);
    return gauge;
  }

  /**
   * Histograms record milliseconds; a name ending in `_seconds` exports seconds (the recorded
   * value times 0.001) unless `exportScale` says otherwise.
   */
  histogram(options: RegistryHistogramOptions): Histogram {
    const h = this.getOrCreate(
      options,
      'histogram',
      () =>
        new Histogram({
          buckets: options.buckets,
          exportScale: options.exportScale ?? (options.name.endsWith('_seconds') ? 0.001 : 1),
        }),
    ) as Histogram;
    // Get-or-create must not silently ignore a different layout: the caller would export
    // buckets it never asked for.
    if (options.buckets !== undefined && options.buckets.join(',') !== h.buckets.join(',')) {
      throw new TypeError(
        `histogram ${options.name} is already registered with buckets [${h.buckets.join(', ')}], got [${options.buckets.join(', ')}]`,
      );
    }
    if (options.exportScale !== undefined && options.exportScale !== h.exportScale) {
      throw new TypeError(
        `histogram ${options.name} is already registered with exportScale ${h.exportScale}, got ${options.exportScale}`,
      );
    }
    return h;
  }

  /** Removes one series (a valve that is closed for good). */
  remove(name: string, labels: Labels = {}): boolean {
    const family = this.families.get(name);
    if (!family) return false;
    const removed = family.series.delete(seriesKey(family.labelNames, labels));
    if (family.series.size === 0) this.families.delete(name);
    return removed;
  }

  /** Every family, in registration order. */
  getFamilies(): readonly Family[] {
    return [...this.families.values()];
  }

  /** Plain JSON of every series; histograms as count, sum and percentiles (in recorded units). */
  snapshot(): MetricSnapshot[] {
    return this.getFamilies().map((f) => ({
      name: f.name,
      help: f.help,
      type: f.type,
      series: [...f.series.values()].map(({ labels, metric }) => ({
        labels,
        value: metric instanceof Histogram ? histogramSnapshot(metric) : metric.value,
      })),
    }));
  }

  /** Prometheus text exposition format 0.0.4. */
  toPrometheus(): string {
    return formatPrometheus(this.getFamilies());
  }

  private getOrCreate(options: MetricOptions, type: MetricType, create: () => Metric): Metric {
    const name = validateString(options?.name, 'name', { nonEmpty: true });
    if (!NAME_RE.test(name)) throw new TypeError(`name must match ${NAME_RE}, got ${JSON.stringify(name)}`);
    const help = validateString(options.help, 'help');
    const labels = options.labels ?? {};
    const labelNames = Object.keys(labels).sort();
    for (const l of labelNames) {
      if (!LABEL_RE.test(l) || l.startsWith('__') || l === 'le') {
        throw new TypeError(`label name ${JSON.stringify(l)} of ${name} is not allowed`);
      }
      validateString(labels[l], `labels.${l}`);
    }
    let family = this.families.get(name);
    if (family === undefined) {
      family = { name, help, type, labelNames, series: new Map() };
      this.families.set(name, family);
    } else {
      if (family.type !== type) {
        throw new TypeError(`metric ${name} is already registered as a ${family.type}, not a ${type}`);
      }
      if (family.labelNames.join(',') !== labelNames.join(',')) {
        throw new TypeError(
          `metric ${name} has label names [${family.labelNames.join(', ')}], got [${labelNames.join(', ')}]`,
        );
      }
    }
    const key = seriesKey(labelNames, labels);
    let entry = family.series.get(key);
    if (entry === undefined) {
      entry = { labels: Object.freeze({ ...labels }), metric: create() };
      family.series.set(key, entry);
    }
    return entry.metric;
  }
}

function seriesKey(labelNames: readonly string[], labels: Labels): string {
  return labelNames.map((l) => `${l}=${labels[l] ?? ''}`).join('\u0000');
}

export function histogramSnapshot(h: Histogram): HistogramSnapshot {
  return {
    count: h.count,
    sum: h.sum,
    min: h.min,
    max: h.max,
    mean: h.mean,
    p50: h.percentile(50),
    p90: h.percentile(90),
    p99: h.percentile(99),
    p999: h.percentile(99.9),
  };
}
