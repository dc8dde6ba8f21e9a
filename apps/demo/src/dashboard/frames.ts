/**
 * Builds the frames the dashboard streams: the shared registry's `snapshot()` (every series as
 * plain JSON), with each histogram also summarised over a short sliding window.
 *
 * Why a window: registry histograms are cumulative over the process lifetime, so their p99
 * barely moves once thousands of requests are in. The window's p50/p99 come from the deltas of
 * the exact cumulative `le` bucket counts between the newest frame and the one `windowFrames`
 * ago, interpolated linearly inside the bucket (Prometheus' `histogram_quantile`): coarse (the
 * default bounds are 0.5, 1, 2.5, 5, 10, 25 ms, …) but honest, and cheap (15 numbers a series).
 *
 * Non-finite numbers do not survive JSON, so gauges that read +Infinity (a SafetyValve without
 * a rate limit has infinite tokens) are sent as the string "inf", and NaN as null.
 */
import { BoundedRingBuffer, Histogram, type Labels, type MetricsRegistry, type MetricType } from '@valve/core';

/** A histogram over the last window, in recorded units (milliseconds for latency histograms). */
export interface WindowSummary {
  count: number;
  /** null when nothing was recorded in the window. */
  p50: number | null;
  p99: number | null;
}

export interface HistogramFrame {
  count: number;
  sum: number;
  /** Lifetime percentiles (`snapshot()`), in recorded units. */
  p50: number | null;
  p99: number | null;
  window: WindowSummary;
}

export type FrameValue = number | 'inf' | null | HistogramFrame;

export interface FrameFamily {
  name: string;
  type: MetricType;
  series: { labels: Labels; value: FrameValue }[];
}

export interface MetricsFrame {
  /** Wall-clock ms (for the chart's time axis). */
  t: number;
  /** Seconds the window of `HistogramFrame.window` spans (about windowFrames × interval). */
  windowS: number;
  families: FrameFamily[];
}

/** Accepts a finite number; maps +Infinity to "inf" and everything else non-finite to null. */
export function jsonNumber(v: number): number | 'inf' | null {
  if (Number.isFinite(v)) return v;
  return v === Number.POSITIVE_INFINITY ? 'inf' : null;
}

/**
 * The quantile `q` (0-1) of the values counted in `deltas` (non-cumulative per bucket), whose
 * upper bounds are `bounds` (the last bucket, +Inf, is `deltas[bounds.length]`).
 */
export function bucketQuantile(bounds: readonly number[], deltas: readonly number[], q: number): number | null {
  let total = 0;
  for (const d of deltas) total += d;
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < deltas.length; i++) {
    const d = deltas[i]!;
    if (d > 0 && seen + d >= rank) {
      // In the +Inf bucket there is no upper bound to interpolate to: answer the last finite one.
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const hi = bounds[i]!;
      return lo + (hi - lo) * ((rank - seen) / d);
    }
    seen += d;
  }
  return bounds[bounds.length - 1]!;
}

/** Per-bucket counts (not cumulative) of a histogram: export bounds, then the +Inf bucket. */
function bucketCounts(h: Histogram): number[] {
  const cumulative = h.cumulativeBuckets();
  const out: number[] = [];
  let prev = 0;
  for (const b of cumulative) {
    out.push(b.count - prev);
    prev = b.count;
  }
  out.push(h.count - prev);
  return out;
}

export class FrameBuilder {
  /**
   * Per histogram series (keyed by name and labels): its per-bucket counts at each of the last
   * `windowFrames + 1` builds, oldest first. Written only by `build()`.
   */
  private readonly history = new Map<string, BoundedRingBuffer<number[]>>();

  constructor(
    private readonly registry: MetricsRegistry,
    private readonly windowFrames: number,
    private readonly intervalMs: number,
  ) {}

  build(now = Date.now()): MetricsFrame {
    const seen = new Set<string>();
    const families: FrameFamily[] = [];
    for (const family of this.registry.getFamilies()) {
      const series: FrameFamily['series'] = [];
      for (const [key, { labels, metric }] of family.series) {
        if (metric instanceof Histogram) {
          const id = `${family.name}\u0001${key}`;
          seen.add(id);
          series.push({ labels, value: this.histogramFrame(id, metric) });
        } else {
          series.push({ labels, value: jsonNumber(metric.value) });
        }
      }
      families.push({ name: family.name, type: family.type, series });
    }
    // Series removed from the registry: forget their history.
    for (const id of this.history.keys()) if (!seen.has(id)) this.history.delete(id);
    return { t: now, windowS: (this.windowFrames * this.intervalMs) / 1000, families };
  }

  private histogramFrame(id: string, h: Histogram): HistogramFrame {
    const counts = bucketCounts(h);
    let past = this.history.get(id);
    if (past === undefined) {
      past = new BoundedRingBuffer<number[]>(this.windowFrames + 1);
      this.history.set(id, past);
    }
    past.pushEvict(counts); // keeps the last windowFrames + 1 snapshots
    const oldest = past.peek()!;
    // The first build of a series has nothing to subtract: its window is empty, not its lifetime.
    const deltas = counts.map((c, i) => (past.size > 1 ? Math.max(0, c - oldest[i]!) : 0));
    // Bounds are in exported units (seconds): back to recorded units (ms) for the page.
    const bounds = h.buckets.map((b) => b / h.exportScale);
    const windowCount = deltas.reduce((a, b) => a + b, 0);
    return {
      count: h.count,
      sum: h.sum,
      p50: jsonNumber(h.percentile(50)) as number | null,
      p99: jsonNumber(h.percentile(99)) as number | null,
      window: {
        count: windowCount,
        p50: bucketQuantile(bounds, deltas, 0.5),
        p99: bucketQuantile(bounds, deltas, 0.99),
      },
    };
  }
}
