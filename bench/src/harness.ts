/**
 * The one benchmark harness every valve benchmark uses.
 *
 * A suite lists cases; a case runs our implementation (the first contender) and each peer on
 * the same work in the same process. Each round runs every contender once, in an order that
 * rotates from round to round (so no contender always runs on a cold or a hot heap), after
 * warm-up rounds that are not counted. The report is the median per contender and its ratio to
 * ours, because absolute numbers on shared machines are noise and ratios in one run are not.
 */
import { cpus } from 'node:os';
import { median } from '@valve/demo/shared';

export interface Contender {
  name: string;
  /**
   * Does the whole work of the case once. For `kind: 'time'` it is timed; for `kind: 'value'`
   * it returns the measured number (bytes per key, a p99, a share).
   */
  run: () => unknown;
  /** Runs before each `run` and is not timed (reset state, pre-fill a queue). */
  before?: () => unknown;
}

export interface Case {
  title: string;
  /** `time` (default): cost per op from wall time. `value`: `run()` returns the figure. */
  kind?: 'time' | 'value';
  /** Operations one `run()` performs (for `time`: the result is time / ops). */
  ops?: number;
  /** Unit printed for the figure. @default 'ns/op' for time cases */
  unit?: string;
  /** For value cases: whether a larger figure is better. @default false */
  higherIsBetter?: boolean;
  contenders: Contender[];
  /** Overrides the suite's rounds for this case. */
  rounds?: number;
}

export interface SuiteContext {
  /** Shorter runs (fewer ops and rounds). */
  quick: boolean;
  /** Smallest possible runs, to check that the suite works at all (CI). */
  smoke: boolean;
  /** Scales an op count: full in a normal run, a tenth in quick, a thousandth (min 100) in smoke. */
  scale(ops: number): number;
}

export interface Suite {
  name: string;
  description: string;
  cases: (ctx: SuiteContext) => Case[] | Promise<Case[]>;
  /** Closes connections and the like after the suite. */
  teardown?: () => unknown;
}

export function defineSuite(suite: Suite): Suite {
  return suite;
}

export interface ContenderResult {
  name: string;
  median: number;
  min: number;
  max: number;
  samples: number[];
  /** Theirs / ours for costs (so > 1 means ours is better); ours / theirs when higher is better. */
  advantage: number;
}

export interface CaseResult {
  title: string;
  unit: string;
  higherIsBetter: boolean;
  results: ContenderResult[];
}

export interface HarnessOptions {
  rounds: number;
  warmup: number;
  log: (line: string) => void;
}

export async function runCase(c: Case, options: HarnessOptions): Promise<CaseResult> {
  const kind = c.kind ?? 'time';
  const ops = c.ops ?? 1;
  const rounds = c.rounds ?? options.rounds;
  const samples: number[][] = c.contenders.map(() => []);
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let round = -options.warmup; round < rounds; round++) {
    const n = c.contenders.length;
    for (let k = 0; k < n; k++) {
      const i = (k + Math.max(0, round)) % n;
      const contender = c.contenders[i]!;
      await contender.before?.();
      gc?.();
      let figure: number;
      if (kind === 'time') {
        const start = process.hrtime.bigint();
        await contender.run();
        figure = Number(process.hrtime.bigint() - start) / ops;
      } else {
        figure = Number(await contender.run());
      }
      if (round >= 0) samples[i]!.push(figure);
    }
  }
  const higherIsBetter = c.higherIsBetter ?? false;
  const medians = samples.map(median);
  const ours = medians[0]!;
  const results = c.contenders.map((contender, i) => ({
    name: contender.name,
    median: medians[i]!,
    min: Math.min(...samples[i]!),
    max: Math.max(...samples[i]!),
    samples: samples[i]!,
    advantage: higherIsBetter ? ours / medians[i]! : medians[i]! / ours,
  }));
  return { title: c.title, unit: c.unit ?? 'ns/op', higherIsBetter, results };
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A plain-text table: contender, median, min..max, and the ratio to ours. */
export function formatCase(r: CaseResult): string {
  const rows = r.results.map((x, i) => [
    x.name,
    `${fmt(x.median)} ${r.unit}`,
    `${fmt(x.min)}..${fmt(x.max)}`,
    i === 0 ? 'ours' : `${x.advantage.toFixed(2)}x`,
  ]);
  const header = ['contender', 'median', 'range', r.higherIsBetter ? 'ours/theirs' : 'theirs/ours'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  return [`  ${r.title}`, `    ${line(header)}`, ...rows.map((row) => `    ${line(row)}`)].join('\n');
}

export function environment(): { node: string; cpu: string; cores: number; date: string } {
  const cpu = cpus();
  return { node: process.version, cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, date: new Date().toISOString() };
}
