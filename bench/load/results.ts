/**
 * The load test's results on disk, written block by block: as soon as one database's block has
 * finished, it is merged into the run's .json file (written to a temporary file and renamed over
 * it, so a crash never leaves half a file), and the summary (.md, .svg) is assembled from what
 * that file holds. A failure late in a 45-minute run therefore never loses the blocks before it.
 *
 * The file carries the run's id: a file left by an earlier run with the same name (same date and
 * options) is replaced, not merged into.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { RunResult } from './measure.js';

export interface VariantRuns {
  label: string;
  route: string;
  runs: RunResult[];
}

/** One comparison, evaluated: what the results file stores (no functions, only data). */
export interface ComparisonResult {
  title: string;
  unit: string;
  /** Baseline first, then the valve; further variants are context. */
  variants: VariantRuns[];
  ratioKind: 'throughput' | 'p99';
  target: string;
  ratio: number;
  /** Whether the ratio meets the target; `null` for a comparison shown without a target. */
  met: boolean | null;
  notes: string[];
}

/** One database's block of a run. */
export interface DbBlock {
  /** `pglite`, `mysql`, `postgres`. */
  key: string;
  /** Its heading, e.g. "Embedded PGlite". */
  name: string;
  /** The Express ceiling (`GET /healthz`, median ok/s) measured in this block. */
  ceiling: number;
  /** `os.loadavg()` when the block started and ended. */
  loadStart: string;
  loadEnd: string;
  comparisons: ComparisonResult[];
  skipped: string[];
  notes: string[];
  /** What failed in this block (a scenario that threw, a control request that never answered). */
  failures: string[];
}

export interface ResultsFile {
  /** Identifies the run that wrote the file. */
  runId: string;
  /** The run's options (Sets written as arrays). */
  settings: Record<string, unknown>;
  /** In the order the blocks finished. */
  blocks: DbBlock[];
}

/**
 * JSON with what `JSON.stringify` gets wrong here: a Set (written as `{}`) becomes an array, a
 * Map an object, and a non-finite number (NaN would be `null`) `{"$number": "NaN"}`, which
 * {@link parseResults} turns back into the number.
 */
export function toJson(value: unknown): string {
  return `${JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (v instanceof Set) return [...v];
      if (v instanceof Map) return Object.fromEntries(v);
      if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
      return v;
    },
    2,
  )}\n`;
}

export function parseResults(text: string): ResultsFile {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const n = (v as { $number?: unknown }).$number;
      if (keys.length === 1 && typeof n === 'string') return Number(n);
    }
    return v;
  }) as ResultsFile;
}

/** The file's contents if it was written by `runId`, else undefined (missing, unreadable, or another run's). */
export function readResults(path: string, runId: string): ResultsFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const file = parseResults(readFileSync(path, 'utf8'));
    return file.runId === runId && Array.isArray(file.blocks) ? file : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Merges `block` into the run's file at `path` (replacing a block with the same key, else
 * appending it) and writes the file atomically. Returns what was written.
 */
export function writeBlock(
  path: string,
  runId: string,
  settings: Record<string, unknown>,
  block: DbBlock,
): ResultsFile {
  const current = readResults(path, runId);
  const blocks = (current?.blocks ?? []).filter((b) => b.key !== block.key);
  const file: ResultsFile = { runId, settings, blocks: [...blocks, block] };
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, toJson(file));
  renameSync(tmp, path);
  return file;
}
