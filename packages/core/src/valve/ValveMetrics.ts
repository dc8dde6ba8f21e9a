import type { Disposable } from '../events/Emitter.js';
import { Counter } from '../metrics/Counter.js';
import type { Histogram, HistogramOptions } from '../metrics/Histogram.js';
import type { Labels, MetricsRegistry } from '../metrics/MetricsRegistry.js';
import { rejectExtraArguments } from '../validate.js';

/**
 * How many live valves registered each series of a registry. Two valves with the same `name`
 * share their series (get-or-create), so one valve's `close()` must not remove the other's: a
 * series goes when the last valve holding it closes. Keyed weakly, so a dropped registry is freed.
 */
const holders = new WeakMap<MetricsRegistry, Map<string, number>>();

/**
 * The one way a valve registers its metrics: every series gets the label `valve=<name>`, and
 * `close()` removes exactly the series this valve registered (and its gauge collectors, which
 * would otherwise keep the closed valve alive) from the registry.
 *
 * Without a registry, `counter()` returns a private {@link Counter} (so the hot path is the same
 * either way and `stats()` can read it), `histogram()` returns `undefined` and `gauge()` does nothing.
 */
export class ValveMetrics {
  /** `{ valve: name }`, the labels of every series. */
  readonly labels: Labels;
  /** The registry, or `undefined` when the valve has none. */
  readonly registry: MetricsRegistry | undefined;
  private readonly series: { name: string; labels: Labels; key: string }[] = [];
  private readonly collectors: Disposable[] = [];
  private closed = false;

  constructor(registry: MetricsRegistry | undefined, valveName: string) {
    // biome-ignore lint/complexity/noArguments: counts the arguments to refuse an extra one; a rest parameter would allocate
    rejectExtraArguments(arguments.length, 2, 'new ValveMetrics()');
    this.registry = registry;
    this.labels = Object.freeze({ valve: valveName });
  }

  /** A counter; `labels` adds to `valve` (e.g. `{ reason }`). */
  counter(name: string, help: string, labels?: Labels): Counter {
    const r = this.live();
    if (r === undefined) return new Counter();
    const all = this.withValve(labels);
    const counter = r.counter({ name, help, labels: all });
    this.hold(name, all);
    return counter;
  }

  /** A gauge read at export time from `collect`; nothing without a registry. */
  gauge(name: string, help: string, collect: () => number, labels?: Labels): void {
    const r = this.live();
    if (r === undefined) return;
    const all = this.withValve(labels);
    // Registered without `collect`, then given ours through addCollector: that returns the handle
    // close() needs to take this valve's collector out of a series another valve may share.
    this.collectors.push(r.gauge({ name, help, labels: all }).addCollector(collect));
    this.hold(name, all);
  }

  /** A histogram (records ms; a `_seconds` name exports seconds); `undefined` without a registry. */
  histogram(name: string, help: string, options: HistogramOptions & { labels?: Labels } = {}): Histogram | undefined {
    const r = this.live();
    if (r === undefined) return undefined;
    const all = this.withValve(options.labels);
    const histogram = r.histogram({ ...options, name, help, labels: all });
    this.hold(name, all);
    return histogram;
  }

  /**
   * Removes this valve's series from the registry (those still held by another live valve of the
   * same name stay). Idempotent. The counters handed out keep counting, unexported.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.collectors) c.dispose();
    this.collectors.length = 0;
    const r = this.registry;
    if (r === undefined) return;
    const counts = holders.get(r);
    for (const s of this.series) {
      const n = (counts?.get(s.key) ?? 1) - 1;
      if (n > 0) {
        counts!.set(s.key, n);
      } else {
        counts?.delete(s.key);
        r.remove(s.name, s.labels);
      }
    }
    this.series.length = 0;
  }

  /** The registry while open: after close() nothing more is registered (it would never be removed). */
  private live(): MetricsRegistry | undefined {
    return this.closed ? undefined : this.registry;
  }

  private withValve(labels: Labels | undefined): Labels {
    return labels === undefined ? this.labels : { ...labels, valve: this.labels.valve! };
  }

  /** Counts this valve as a holder of the series (once, however often it registers it). */
  private hold(name: string, labels: Labels): void {
    const key = `${name}\u0000${Object.keys(labels)
      .sort()
      .map((l) => `${l}=${labels[l]}`)
      .join('\u0000')}`;
    if (this.series.some((s) => s.key === key)) return;
    this.series.push({ name, labels, key });
    const r = this.registry!;
    let counts = holders.get(r);
    if (counts === undefined) {
      counts = new Map();
      holders.set(r, counts);
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
}
