import { describe, expect, it } from 'vitest';
import { formatCase, runCase } from '../src/harness.js';

const quiet = { rounds: 5, warmup: 1, log: () => {} };

describe('runCase', () => {
  it('reports the median of each contender and the ratio to ours (value cases)', async () => {
    const ours = [5, 1, 3, 2, 4, 100];
    const theirs = [10, 2, 6, 4, 8, 200];
    let i = 0;
    let j = 0;
    const r = await runCase(
      {
        title: 'bytes per key',
        kind: 'value',
        unit: 'B',
        contenders: [
          { name: 'ours', run: () => ours[i++] },
          { name: 'theirs', run: () => theirs[j++] },
        ],
      },
      quiet,
    );
    // The first sample of each is the warm-up and is discarded: medians of [1,3,2,4,100] and [2,6,4,8,200].
    expect(r.results[0]!.samples).toEqual([1, 3, 2, 4, 100]);
    expect(r.results[0]!.median).toBe(3);
    expect(r.results[1]!.median).toBe(6);
    expect(r.results[1]!.advantage).toBe(2);
    expect(formatCase(r)).toContain('2.00x');
  });

  it('uses ours/theirs when higher is better', async () => {
    const r = await runCase(
      {
        title: 'goodput',
        kind: 'value',
        higherIsBetter: true,
        contenders: [
          { name: 'ours', run: () => 0.99 },
          { name: 'theirs', run: () => 0.33 },
        ],
      },
      quiet,
    );
    expect(r.results[1]!.advantage).toBeCloseTo(3, 5);
    expect(formatCase(r)).toContain('ours/theirs');
  });

  it('rotates the order of contenders from round to round and runs before() untimed', async () => {
    const order: string[] = [];
    const befores: string[] = [];
    await runCase(
      {
        title: 'order',
        ops: 10,
        contenders: ['a', 'b', 'c'].map((name) => ({
          name,
          before: () => befores.push(name),
          run: () => order.push(name),
        })),
      },
      { rounds: 3, warmup: 1, log: () => {} },
    );
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']);
    expect(befores).toEqual(order);
  });

  it('divides time by ops for time cases', async () => {
    const r = await runCase(
      { title: 't', ops: 1000, contenders: [{ name: 'ours', run: () => {} }] },
      { rounds: 1, warmup: 0, log: () => {} },
    );
    expect(r.unit).toBe('ns/op');
    expect(r.results[0]!.median).toBeGreaterThanOrEqual(0);
    expect(r.results[0]!.samples).toHaveLength(1);
  });
});
