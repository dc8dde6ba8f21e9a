/**
 * Turns the measured runs into the results file: for each comparison a table like the seed's
 * (Run 1/2/3 and the median), the latencies, the ratio of medians, and the Express ceiling
 * measured in the same run.
 */
import { median } from '@valve/demo/shared';
import type { RunResult } from './measure.js';

export interface VariantRuns {
  label: string;
  route: string;
  runs: RunResult[];
}

export interface Comparison {
  /** Section title, e.g. "Embedded PGlite: one hot customer". */
  title: string;
  /** What the numbers are (e.g. "req/s", "accepted events/s"). */
  unit: string;
  /**
   * Baseline first, then the valve: the ratio is of these two. Further variants are measured in
   * the same rounds and shown in the table for context (no ratio of their own).
   */
  variants: [VariantRuns, VariantRuns, ...VariantRuns[]];
  /** `throughput`: ratio of medians of ok/s (valve / baseline). `p99`: baseline p99 / valve p99. */
  ratioKind: 'throughput' | 'p99';
  target: string;
  /** Whether the measured ratio meets the target. */
  met: (ratio: number) => boolean;
  notes?: string[];
}

export function ratioOf(c: Comparison): number {
  const [base, valve] = c.variants;
  if (c.ratioKind === 'p99') {
    return median(base.runs.map((r) => r.p99Ms)) / median(valve.runs.map((r) => r.p99Ms));
  }
  return median(valve.runs.map((r) => r.okPerSec)) / median(base.runs.map((r) => r.okPerSec));
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(1) : Math.round(n).toString()) : 'n/a');

export function comparisonMarkdown(c: Comparison, ceiling: number): string {
  const runs = Math.max(...c.variants.map((v) => v.runs.length));
  const head = ['', ...Array.from({ length: runs }, (_, i) => `Run ${i + 1}`), 'Median'];
  const lines = [
    `### ${c.title}`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map((h) => (h === '' ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const v of c.variants) {
    const cells = v.runs.map((r) => `${int(r.okPerSec)} ${c.unit}`);
    lines.push(
      `| ${v.label} (\`${v.route}\`) | ${cells.join(' | ')} | **${int(median(v.runs.map((r) => r.okPerSec)))}** |`,
    );
  }
  lines.push('');
  lines.push('| | p50 (2xx) | p99 (2xx) | 503 share | other errors |');
  lines.push('| --- | ---: | ---: | ---: | ---: |');
  for (const v of c.variants) {
    const total = v.runs.reduce((a, r) => a + r.ok + r.shed + r.otherErrors, 0);
    const shed = v.runs.reduce((a, r) => a + r.shed, 0);
    const other = v.runs.reduce((a, r) => a + r.otherErrors, 0);
    lines.push(
      `| ${v.label} | ${ms(median(v.runs.map((r) => r.p50Ms)))} ms | ${ms(median(v.runs.map((r) => r.p99Ms)))} ms | ${total ? ((100 * shed) / total).toFixed(1) : '0.0'}% | ${other} |`,
    );
  }
  const ratio = ratioOf(c);
  const what =
    c.ratioKind === 'p99' ? 'p99 without / p99 with the valve' : `${c.variants[1].label} / ${c.variants[0].label}`;
  lines.push('');
  lines.push(
    `**Ratio (${what}, medians): ${ratio.toFixed(2)}x**, target ${c.target}: **${c.met(ratio) ? 'met' : 'not met'}**. ` +
      `Express ceiling in this run (\`GET /healthz\`): ${int(ceiling)} req/s.`,
  );
  for (const note of c.notes ?? []) lines.push('', note);
  return lines.join('\n');
}
