/**
 * Turns the measured runs into the results file: for each comparison a table like the seed's
 * (Run 1/2/3 and the median), the latencies, the ratio of medians, and the Express ceiling
 * measured in the same run.
 */
import { median } from '@valve/demo/shared';
import type { ComparisonResult, ResultsFile, VariantRuns } from './results.js';

export type { VariantRuns } from './results.js';

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
  /** Whether the measured ratio meets the target; absent for a comparison shown without a target. */
  met?: (ratio: number) => boolean;
  notes?: string[];
}

/** The comparison with its ratio and verdict computed: the data the results file keeps. */
export function evaluate(c: Comparison): ComparisonResult {
  const ratio = ratioOf(c);
  return {
    title: c.title,
    unit: c.unit,
    variants: c.variants,
    ratioKind: c.ratioKind,
    target: c.target,
    ratio,
    met: c.met === undefined ? null : c.met(ratio),
    notes: c.notes ?? [],
  };
}

export function ratioOf(c: Pick<Comparison, 'variants' | 'ratioKind'>): number {
  const [base, valve] = c.variants;
  if (c.ratioKind === 'p99') {
    return median(base.runs.map((r) => r.p99Ms)) / median(valve.runs.map((r) => r.p99Ms));
  }
  return median(valve.runs.map((r) => r.okPerSec)) / median(base.runs.map((r) => r.okPerSec));
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(1) : Math.round(n).toString()) : 'n/a');

export function comparisonMarkdown(c: ComparisonResult, ceiling: number): string {
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
  const ratio = c.ratio;
  const what =
    c.ratioKind === 'p99' ? 'p99 without / p99 with the valve' : `${c.variants[1].label} / ${c.variants[0].label}`;
  lines.push('');
  lines.push(
    `**Ratio (${what}, medians): ${ratio.toFixed(2)}x**, target ${c.target}${c.met === null ? '' : `: **${c.met ? 'met' : 'not met'}**`}. ` +
      `Express ceiling in this run (\`GET /healthz\`): ${int(ceiling)} req/s.`,
  );
  for (const note of c.notes) lines.push('', note);
  return lines.join('\n');
}

export interface SummaryMeta {
  quick: boolean;
  connections: number;
  durationS: number;
  runs: number;
  /** YYYY-MM-DD. */
  date: string;
  /** The invocation, as it works under pnpm 10 (no `--`). */
  command: string;
  /** CPUs, memory, Node version. */
  machine: string;
  svgName: string;
  /** Seconds since the run started. */
  seconds: number;
  /** Load averages (1, 5, 15 min) at the start and when this is written. */
  startLoad: string;
  nowLoad: string;
  /** Blocks still to run when this is written (empty once the run is complete). */
  pending: string[];
}

/**
 * The results file's markdown, assembled from the blocks written so far (results.ts): the
 * summary table of every comparison, what failed, then each block's tables.
 */
export function resultsMarkdown(file: ResultsFile, meta: SummaryMeta): string {
  const reports = file.blocks;
  const out = [
    `# Load test results, ${meta.date}${meta.quick ? ' (--quick)' : ''}`,
    '',
    `\`${meta.command}\`: autocannon ${meta.connections} connections, ${meta.durationS} s per run, ${meta.runs} run(s) per route, ` +
      `round-robin with a rotating order. Machine: ${meta.machine}; autocannon and the demo share these cores. Took ${Math.round(meta.seconds)} s.`,
    '',
    'Numbers are successful (2xx) responses per second (events/s for ingestion); p50/p99 are of successful responses only. ' +
      'Every route, compared or not, runs the same background work after its response (a PromisePool task writing the ' +
      'HTTP metrics and one pushing an audit record into a BackpressureController that inserts 500 per INSERT), so the ' +
      'background writes are batched and do not favour either side. Ratios are of medians in this one run; each is ' +
      'bounded by the Express ceiling measured alongside it. The embedded PGlite runs in a worker thread of the demo ' +
      "(its WASM work off the server's event loop, as a database server's work is), so it competes for the same 2 cores.",
    '',
    `Load average (1, 5, 15 min) at the start: ${meta.startLoad}; ${meta.pending.length > 0 ? 'when this was written' : 'at the end'}: ${meta.nowLoad} (2 cores, shared with other engineers' work).`,
    '',
    ...(meta.pending.length > 0
      ? [`**Incomplete: written after ${reports.length} block(s); still to run: ${meta.pending.join(', ')}.**`, '']
      : []),
    `![chart](${meta.svgName})`,
    '',
    '## Summary',
    '',
    '| comparison | ratio | target | met | Express ceiling |',
    '| --- | ---: | --- | --- | ---: |',
  ];
  for (const r of reports) {
    for (const c of r.comparisons) {
      out.push(`| ${c.title} | ${c.ratio.toFixed(2)}x | ${c.target} | ${metCell(c.met)} | ${int(r.ceiling)} req/s |`);
    }
  }
  const failures = reports.flatMap((r) => r.failures.map((f) => `- ${r.name}: ${f}`));
  if (failures.length > 0) {
    out.push('', '**Failed** (these parts have no results; the rest of each block does):', '', ...failures);
  }
  for (const r of reports) {
    out.push(
      '',
      `## ${r.name}`,
      '',
      `Express ceiling (\`GET /healthz\`, median): ${int(r.ceiling)} req/s. ` +
        `Load average (1, 5, 15 min) when this block started: ${r.loadStart}; when it ended: ${r.loadEnd}.`,
    );
    for (const c of r.comparisons) out.push('', comparisonMarkdown(c, r.ceiling));
    for (const n of r.notes) out.push('', n);
    if (r.failures.length > 0) out.push('', 'Failed:', '', ...r.failures.map((x) => `- ${x}`));
    if (r.skipped.length > 0) out.push('', 'Not measured:', '', ...r.skipped.map((x) => `- ${x}`));
  }
  return `${out.join('\n')}\n`;
}

/** The summary's "met" cell: a comparison without a target (context only) says so instead of "no". */
export function metCell(met: boolean | null): string {
  if (met === null) return 'n/a (no target)';
  return met ? 'yes' : '**no**';
}
