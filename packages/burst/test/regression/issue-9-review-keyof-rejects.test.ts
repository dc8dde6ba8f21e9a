// Review of issue 9, finding 3 (P3): `fetch()` threw synchronously when `keyOf` threw (and on
// bad per-call options), although it returns a promise. Every method that returns a promise
// now rejects instead, with exactly the thrown value, and starts nothing.
import { flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';

interface Query {
  id: number;
}
const boom = { code: 'E_KEY' };
function keyOf(q: Query): number {
  if (q === null || q.id < 0) throw boom;
  return q.id;
}

describe('issue 9 review: promise methods reject, never throw', () => {
  it('fetch, fetchShared and fetch with options reject with what keyOf threw', async () => {
    let runs = 0;
    const valve = new BurstValve<number, Query>({
      fetch: async (q) => {
        runs++;
        return q.id;
      },
      keyOf,
    });
    const calls = [
      () => valve.fetch(null as unknown as Query),
      () => valve.fetch({ id: -1 }),
      () => valve.fetchShared({ id: -1 }),
      () => valve.fetch({ id: -1 }, { signal: new AbortController().signal }),
      () => valve.fetch({ id: -1 }, { timeoutMs: 5 }),
    ];
    for (const call of calls) {
      let p: Promise<unknown> | undefined;
      expect(() => {
        p = call();
      }).not.toThrow();
      await expect(p).rejects.toBe(boom);
    }
    expect(runs).toBe(0);
    expect(valve.size).toBe(0);
    expect(valve.stats().calls).toBe(calls.length);
    await expect(valve.fetch({ id: 2 })).resolves.toBe(2);
  });

  it('bad per-call options reject with the validation error', async () => {
    const valve = new BurstValve<number, number>(async () => 1);
    const p = track(valve.fetch(1, { timeoutMs: 0 }));
    const q = track(valve.fetch(1, { signal: {} as AbortSignal }));
    await flush();
    expect((p.error as Error).message).toBe('options.timeoutMs must be a number > 0, got 0');
    expect((q.error as Error).message).toBe('options.signal must be an AbortSignal, got an object');
    expect(valve.size).toBe(0);
  });

  it('batch, unsafeBatch and stream reject as a whole and start none of their keys', async () => {
    let runs = 0;
    const valve = new BurstValve<number, Query>({
      fetch: async (q) => {
        runs++;
        return q.id;
      },
      keyOf,
    });
    const keys = [{ id: 1 }, { id: -1 }, { id: 2 }];
    await expect(valve.batch(keys)).rejects.toBe(boom);
    await expect(valve.unsafeBatch(keys)).rejects.toBe(boom);
    await expect(valve.stream(keys, () => {})).rejects.toBe(boom);
    const noCallback = track(valve.stream([{ id: 1 }], 'x' as never));
    await flush();
    expect(noCallback.error).toBeInstanceOf(TypeError);
    expect(runs).toBe(0);
    expect(valve.size).toBe(0);
  });

  it('batch mode: a Map result with a key keyOf cannot map does not strand the other keys', async () => {
    const valve = new BurstValve<string, Query>({
      batch: async (qs) => new Map<Query, string>([[{ id: -1 }, 'junk'], ...qs.map((q) => [q, `v${q.id}`] as const)]),
      keyOf,
    });
    const a = track(valve.fetch({ id: 1 }));
    const b = track(valve.fetch({ id: 2 }));
    await flush();
    expect([a.value, b.value]).toEqual(['v1', 'v2']);
    expect(valve.size).toBe(0);
  });
});
