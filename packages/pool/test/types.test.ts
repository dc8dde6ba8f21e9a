// Type tests: `pnpm lint` (tsc --noEmit over test/) checks these; the runtime assertions are no-ops.
import type { MetricsRegistry } from '@valve/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type PoolSummary, PromisePool, type TaskContext } from '../src/index.js';

describe('inferred types', () => {
  it('run<T> resolves to the task’s own type, awaited', () => {
    const pool = new PromisePool();
    expectTypeOf(pool.run(async () => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(pool.run(() => 'sync')).toEqualTypeOf<Promise<string>>();
    expectTypeOf(pool.run(async ({ signal, attempt }) => ({ signal, attempt }))).toEqualTypeOf<
      Promise<{ signal: AbortSignal; attempt: number }>
    >();
    expectTypeOf(pool.drain()).toEqualTypeOf<Promise<PoolSummary>>();
    expectTypeOf(pool.add).parameter(0).parameter(0).toEqualTypeOf<TaskContext>();
  });

  it('map keeps the item and result types', () => {
    expectTypeOf(PromisePool.map([1, 2], async (n: number) => String(n))).toEqualTypeOf<Promise<string[]>>();
    expectTypeOf(PromisePool.mapSettled(['a'], (s) => s.length)).toEqualTypeOf<
      Promise<PromiseSettledResult<number>[]>
    >();
  });

  it('options are checked by the compiler as well as at run time', () => {
    // @ts-expect-error maxWorkers is a number or a Limit
    expect(() => new PromisePool({ maxWorkers: '4' })).toThrow(TypeError);
    const bad = { metrics: 5 as unknown as MetricsRegistry['snapshot'] };
    // @ts-expect-error metrics is a registry
    expect(() => new PromisePool(bad)).toThrow('metrics must be a MetricsRegistry, got 5');
  });
});
