import type { Family, Labels } from './MetricsRegistry.js';
import { Histogram } from './Histogram.js';

/**
 * Prometheus text format 0.0.4: one `# HELP` and `# TYPE` per family, label values escaped
 * (backslash, double quote, newline), HELP text escaped (backslash, newline), histograms as
 * cumulative `_bucket{le="…"}` series ending in `+Inf`, then `_sum` and `_count`.
 */
export function formatPrometheus(families: readonly Family[]): string {
  let out = '';
  for (const f of families) {
    if (f.series.size === 0) continue;
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const { labels, metric } of f.series.values()) {
      if (metric instanceof Histogram) {
        const scale = metric.exportScale;
        for (const { le, count } of metric.cumulativeBuckets()) {
          out += `${f.name}_bucket${labelText(labels, formatNumber(le))} ${formatNumber(count)}\n`;
        }
        out += `${f.name}_bucket${labelText(labels, '+Inf')} ${formatNumber(metric.count)}\n`;
        out += `${f.name}_sum${labelText(labels)} ${formatNumber(metric.sum * scale)}\n`;
        out += `${f.name}_count${labelText(labels)} ${formatNumber(metric.count)}\n`;
      } else {
        out += `${f.name}${labelText(labels)} ${formatNumber(metric.value)}\n`;
      }
    }
  }
  return out;
}

export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(labels: Labels, le?: string): string {
  const parts: string[] = [];
  for (const k of Object.keys(labels).sort()) parts.push(`${k}="${escapeLabelValue(labels[k]!)}"`);
  if (le !== undefined) parts.push(`le="${le}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}
