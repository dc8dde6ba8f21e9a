import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../load/measure.js';
import { evaluate, metCell, resultsMarkdown, type SummaryMeta } from '../load/report.js';
import { type DbBlock, parseResults, readResults, toJson, writeBlock } from '../load/results.js';

const run = (okPerSec: number, p99Ms = 20): RunResult => ({
  okPerSec,
  totalPerSec: okPerSec,
  ok: okPerSec * 3,
  shed: 0,
  otherErrors: 0,
  statuses: { 200: okPerSec * 3 },
  p50Ms: 10,
  p99Ms: p99Ms,
  p99AllMs: p99Ms,
  durationS: 3,
});

const block = (key: string, name: string, extra: Partial<DbBlock> = {}): DbBlock => ({
  key,
  name,
  ceiling: 11_000,
  loadStart: '2.00, 2.00, 2.00',
  loadEnd: '2.50, 2.10, 2.00',
  comparisons: [
    {
      title: `${name}: one hot customer (every request id 4242)`,
      unit: 'req/s',
      variants: [
        { label: 'Direct call', route: '/unprotected/direct/customers/4242', runs: [run(7000)] },
        { label: 'With BurstValve', route: '/unprotected/customers/4242', runs: [run(10_500)] },
      ],
      ratioKind: 'throughput',
      target:
        '>= 1.9x, or the BurstValve route >= 85% of the Express ceiling of this run with >= 90% of its calls coalesced',
      ratio: 1.5,
      met: true,
      notes: ['Met by the ceiling rule: ...'],
    },
  ],
  skipped: [],
  notes: [],
  failures: [],
  ...extra,
});

const settings = { quick: true, databases: ['pglite', 'mysql'], scenarios: ['burst'] };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'valve-load-results-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('toJson / parseResults', () => {
  it('writes Sets as arrays and Maps as objects (JSON.stringify writes both as {})', () => {
    const text = toJson({ databases: new Set(['pglite', 'mysql']), counts: new Map([['a', 1]]) });
    expect(JSON.parse(text)).toEqual({ databases: ['pglite', 'mysql'], counts: { a: 1 } });
  });

  it('keeps non-finite numbers (a p99 of no responses is NaN) through a round trip', () => {
    const file = parseResults(
      toJson({ runId: 'r', settings: {}, blocks: [block('pglite', 'PGlite', { ceiling: Number.NaN })] }),
    );
    expect(file.blocks[0].ceiling).toBeNaN();
    const back = parseResults(
      toJson({ x: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.5] }) as string,
    ) as unknown as {
      x: number[];
    };
    expect(back.x).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.5]);
  });
});

describe('writeBlock (each database block on disk as soon as it finishes)', () => {
  it('appends blocks in the order they finish, each write a complete file', () => {
    const path = join(dir, 'load.json');
    writeBlock(path, 'run-1', settings, block('pglite', 'Embedded PGlite'));
    // A crash here (the next block never finishes) leaves the first block on disk.
    expect(readResults(path, 'run-1')?.blocks.map((b) => b.key)).toEqual(['pglite']);
    const file = writeBlock(path, 'run-1', settings, block('mysql', 'MariaDB'));
    expect(file.blocks.map((b) => b.key)).toEqual(['pglite', 'mysql']);
    const onDisk = readResults(path, 'run-1')!;
    expect(onDisk).toEqual(file);
    expect(onDisk.settings).toEqual(settings);
    expect(onDisk.blocks[1].comparisons[0].variants[1].runs[0].okPerSec).toBe(10_500);
  });

  it('replaces a block written again under the same key', () => {
    const path = join(dir, 'load.json');
    writeBlock(path, 'run-1', settings, block('pglite', 'Embedded PGlite', { ceiling: 1 }));
    writeBlock(path, 'run-1', settings, block('mysql', 'MariaDB'));
    const file = writeBlock(path, 'run-1', settings, block('pglite', 'Embedded PGlite', { ceiling: 2 }));
    expect(file.blocks.map((b) => [b.key, b.ceiling])).toEqual([
      ['mysql', 11_000],
      ['pglite', 2],
    ]);
  });

  it("does not merge into an earlier run's file of the same name, nor into an unreadable one", () => {
    const path = join(dir, 'load.json');
    writeBlock(path, 'run-1', settings, block('pglite', 'Embedded PGlite'));
    expect(writeBlock(path, 'run-2', settings, block('mysql', 'MariaDB')).blocks.map((b) => b.key)).toEqual(['mysql']);
    expect(readResults(path, 'run-1')).toBeUndefined();
    writeFileSync(path, '{ half a fi');
    expect(readResults(path, 'run-2')).toBeUndefined();
    expect(writeBlock(path, 'run-2', settings, block('postgres', 'PostgreSQL')).blocks).toHaveLength(1);
    expect(readResults(join(dir, 'missing.json'), 'run-2')).toBeUndefined();
  });

  it('keeps a failed block with what it measured before the failure', () => {
    const path = join(dir, 'load.json');
    const failed = block('postgres', 'PostgreSQL', {
      failures: ['the events scenarios: http://127.0.0.1:1/events/stats: 3 attempt(s) failed (TimeoutError: ...)'],
    });
    writeBlock(path, 'run-1', settings, failed);
    const back = readResults(path, 'run-1')!.blocks[0];
    expect(back.failures).toEqual(failed.failures);
    expect(back.comparisons).toHaveLength(1);
    expect(JSON.parse(readFileSync(path, 'utf8')).settings.databases).toEqual(['pglite', 'mysql']);
  });
});

describe('resultsMarkdown (the summary assembled from the blocks written)', () => {
  const meta: SummaryMeta = {
    quick: true,
    connections: 100,
    durationS: 3,
    runs: 1,
    date: '2026-12-04',
    command: 'pnpm bench:load --quick',
    machine: '2 x test CPU',
    svgName: 'load-2026-12-04-quick.svg',
    seconds: 100,
    startLoad: '2.00, 2.00, 2.00',
    nowLoad: '3.00, 2.00, 2.00',
    pending: [],
  };

  it('lists every comparison with its restated target and verdict, and the blocks still to run', () => {
    const path = join(dir, 'load.json');
    const file = writeBlock(path, 'run-1', settings, block('pglite', 'Embedded PGlite'));
    const md = resultsMarkdown(readResults(path, 'run-1')!, { ...meta, pending: ['MariaDB', 'PostgreSQL'] });
    expect(md).toContain(
      '| Embedded PGlite: one hot customer (every request id 4242) | 1.50x | >= 1.9x, or the BurstValve route >= 85% of the Express ceiling of this run with >= 90% of its calls coalesced | yes | 11,000 req/s |',
    );
    expect(md).toContain('**Incomplete: written after 1 block(s); still to run: MariaDB, PostgreSQL.**');
    expect(md).toContain('target >= 1.9x, or the BurstValve route >= 85%');
    expect(md).toContain('Met by the ceiling rule');
    expect(resultsMarkdown(file, meta)).not.toContain('Incomplete');
  });

  it('a comparison without a target says "n/a (no target)", not "no", in the summary and in its section', () => {
    const context = evaluate({
      title: 'Embedded PGlite: cached variant (read-through TTL cache, Zipf mix)',
      unit: 'req/s',
      variants: [
        { label: 'Direct call', route: '/cached/direct/customers/<zipf>', runs: [run(7000)] },
        { label: 'With BurstValve', route: '/cached/customers/<zipf>', runs: [run(6000)] },
      ],
      ratioKind: 'throughput',
      target: '(none; the seed measured 1.2x)',
    });
    expect(context.met).toBeNull();
    const file = { runId: 'r', settings, blocks: [block('pglite', 'Embedded PGlite', { comparisons: [context] })] };
    const md = resultsMarkdown(parseResults(toJson(file)), meta);
    expect(md).toContain('| 0.86x | (none; the seed measured 1.2x) | n/a (no target) |');
    expect(md).not.toContain('**no**');
    expect(md).toContain('target (none; the seed measured 1.2x). ');
    expect(metCell(false)).toBe('**no**');
    expect(metCell(true)).toBe('yes');
  });

  it('reports a failed part of a block next to the results the block kept', () => {
    const file = {
      runId: 'r',
      settings,
      blocks: [
        block('pglite', 'Embedded PGlite'),
        block('postgres', 'PostgreSQL', { comparisons: [], failures: ['the overload scenario: boom'] }),
      ],
    };
    const md = resultsMarkdown(file, meta);
    expect(md).toContain('**Failed** (these parts have no results; the rest of each block does):');
    expect(md).toContain('- PostgreSQL: the overload scenario: boom');
    expect(md).toContain('## PostgreSQL');
    expect(md).toContain('| Embedded PGlite: one hot customer');
  });
});
