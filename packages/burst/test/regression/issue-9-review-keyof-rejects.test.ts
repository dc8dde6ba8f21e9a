// Review of issue 9, finding 3 (P3): `fetch()` threw synchronously when `keyOf` threw (and on
// bad per-call options), although it returns a promise. Every method that returns a promise
// now rejects instead, with exactly the thrown value, and starts nothing. Issue 14 then made one
// rule for every valve: bad arguments (per-call options, keys that are not an array) throw
// synchronously; what the user's own code does at run time (a throwing keyOf) still rejects.
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

describe('issue 9 review: what keyOf throws rejects the call', () => {
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

  it('bad per-call options throw the validation error (issue 14) and start nothing', () => {
    const valve = new BurstValve<number, number>(async () => 1);
    expect(() => valve.fetch(1, { timeoutMs: 0 })).toThrow('options.timeoutMs must be a number > 0, got 0');
    expect(() => valve.fetch(1, { signal: {} as AbortSignal })).toThrow(
      'options.signal must be an AbortSignal, got an object',
    );
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
    // A bad argument throws (issue 14's one rule); only keyOf, the user's code, rejects.
    expect(() => valve.stream([{ id: 1 }], 'x' as never)).toThrow(TypeError);
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
