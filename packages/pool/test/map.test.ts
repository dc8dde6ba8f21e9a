import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool } from '../src/index.js';

describe('PromisePool.map and mapSettled', () => {
  it('keeps input order and at most maxWorkers at once', async () => {
    const gates = Array.from({ length: 5 }, () => deferred<number>());
    let running = 0;
    let peak = 0;
    const result = track(
      PromisePool.map(
        [0, 1, 2, 3, 4],
        async (i) => {
          peak = Math.max(peak, ++running);
          const v = await gates[i]!.promise;
          running--;
          return v;
        },
        { maxWorkers: 2 },
      ),
    );
    for (const i of [4, 3, 2, 1, 0]) gates[i]!.resolve(i * 10);
    await flush();
    gates[1]!.resolve(10);
    await flush();
    await flush();
    expect(result.value).toEqual([0, 10, 20, 30, 40]);
    expect(peak).toBe(2);
  });

  it('rejects with the first error and aborts the shared signal; starts nothing more', async () => {
    const started: number[] = [];
    let signal: AbortSignal | undefined;
    const boom = new Error('boom');
    await expect(
      PromisePool.map(
        [1, 2, 3, 4],
        async (n, _i, ctx) => {
          signal = ctx.signal;
          started.push(n);
          if (n === 1) throw boom;
          return new Promise(() => {});
        },
        { maxWorkers: 2 },
      ),
    ).rejects.toBe(boom);
    expect(started).toEqual([1, 2]);
    expect(signal!.aborted).toBe(true);
  });

  it('mapSettled reports each outcome', async () => {
    const out = await PromisePool.mapSettled(new Set([1, 2, 3]), (n) => (n === 2 ? Promise.reject('two') : n * 2));
    expect(out).toEqual([
      { status: 'fulfilled', value: 2 },
      { status: 'rejected', reason: 'two' },
      { status: 'fulfilled', value: 6 },
    ]);
  });

  it('an abort rejects with signal.reason; empty input resolves to []', async () => {
    const ac = new AbortController();
    const p = PromisePool.map([1, 2], () => new Promise(() => {}), { signal: ac.signal });
    ac.abort('stop');
    await expect(p).rejects.toBe('stop');
    await expect(PromisePool.map([], async () => 1)).resolves.toEqual([]);
    await expect(PromisePool.map([1], async () => 1, { signal: AbortSignal.abort('x') })).rejects.toBe('x');
  });

  it('validates maxWorkers and fn', () => {
    expect(() => PromisePool.map([1], async () => 1, { maxWorkers: 0 })).toThrow(
      'maxWorkers must be an integer or Infinity >= 1, got 0',
    );
    expect(() => PromisePool.map([1], 'x' as never)).toThrow('fn must be a function');
  });

  it('is stack safe with 10^5 synchronous items', async () => {
    const items = Array.from({ length: 100_000 }, (_, i) => i);
    const out = await PromisePool.map(items, (i) => i + 1, { maxWorkers: 8 });
    expect(out[99_999]).toBe(100_000);
  });
});

// Both names for the item limit (the pool's maxWorkers, p-map's concurrency) in all three maps.
describe('map, mapSettled and mapIterable take maxWorkers or concurrency', () => {
  async function peak(run: (task: (x: number) => Promise<number>) => Promise<unknown>): Promise<number> {
    let active = 0;
    let max = 0;
    await run(async (x) => {
      max = Math.max(max, ++active);
      await new Promise((r) => setImmediate(r));
      active--;
      return x;
    });
    return max;
  }
  const items = [1, 2, 3, 4, 5, 6, 7, 8];
  const collect = async (it: AsyncIterable<number>) => {
    for await (const _ of it);
  };

  it('honours either name', async () => {
    expect(await peak((t) => PromisePool.map(items, t, { concurrency: 2 }))).toBe(2);
    expect(await peak((t) => PromisePool.mapSettled(items, t, { concurrency: 3 }))).toBe(3);
    expect(await peak((t) => collect(PromisePool.mapIterable(items, t, { maxWorkers: 2 })))).toBe(2);
    expect(await peak((t) => PromisePool.map(items, t, { maxWorkers: 2 }))).toBe(2);
  });

  it('refuses both at once, and validates the one given under its own name', () => {
    expect(() => PromisePool.map(items, async (x) => x, { maxWorkers: 2, concurrency: 2 })).toThrow(
      /maxWorkers \(2\) and options.concurrency \(2\) name the same limit/,
    );
    expect(() => PromisePool.mapIterable(items, async (x) => x, { maxWorkers: 2, concurrency: 3 })).toThrow(TypeError);
    expect(() => PromisePool.map(items, async (x) => x, { concurrency: 0 })).toThrow(/concurrency/);
    expect(() => PromisePool.mapIterable(items, async (x) => x, { maxWorkers: 0 })).toThrow(/maxWorkers/);
  });
});
