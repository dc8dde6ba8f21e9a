import { isValveError, ManualClock } from '@valve/core';
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { type BatchContext, BurstValve, ERR_BURST_NO_RESULT } from '../src/index.js';

/** A batch fetcher whose every run waits on its own gate. */
function gatedBatch<T>() {
  const runs: { keys: number[]; write: (k: number, v: T | Error) => void; ctx: BatchContext<number> }[] = [];
  const gates: ReturnType<typeof deferred<Array<T | Error> | Map<number, T | Error> | undefined>>[] = [];
  const batch = (keys: number[], write: (k: number, v: T | Error) => void, ctx: BatchContext<number>) => {
    runs.push({ keys: [...keys], write, ctx });
    const gate = deferred<Array<T | Error> | Map<number, T | Error> | undefined>();
    gates.push(gate);
    return gate.promise;
  };
  return { runs, gates, batch };
}

describe('BurstValve batch mode', () => {
  it('burst-valve README example: keys in flight are awaited, not refetched', async () => {
    const batches: number[][] = [];
    const gate = deferred();
    const valve = new BurstValve<number, number>({
      batch: async (ids) => {
        batches.push([...ids]);
        await gate.promise;
        return ids.map((id) => id * 2);
      },
    });
    const first = valve.batch([1, 2, 3]);
    await flush(); // the first batch is dispatched
    const rest = [valve.batch([3, 4, 5]), valve.fetch(4), valve.fetch(8)];
    gate.resolve();
    expect(await Promise.all([first, ...rest])).toEqual([[2, 4, 6], [6, 8, 10], 8, 16]);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 8],
    ]);
  });

  it('earlyWrite resolves keys before the batch ends and wins over returned results', async () => {
    const { runs, gates, batch } = gatedBatch<number>();
    const valve = new BurstValve<number, number>({ batch });
    const all = track(valve.batch([1, 2, 3]));
    const one = track(valve.fetch(1));
    await flush();
    runs[0]!.write(1, 50);
    await flush();
    expect(one.value).toBe(50);
    expect(all.state).toBe('pending');
    gates[0]!.resolve([10, 20, 30]);
    await flush();
    expect(all.value).toEqual([50, 20, 30]);
    expect(() => runs[0]!.write(2, 1)).toThrow(/after the batch fetcher finished/);
  });

  it('accepts a Map result; missing keys get an error naming the key', async () => {
    const valve = new BurstValve<string, number>({
      batch: async (keys) => new Map(keys.filter((k) => k !== 2).map((k) => [k, `v${k}`])),
    });
    const [a, b] = await valve.batch([1, 2]);
    expect(a).toBe('v1');
    expect(isValveError(b, ERR_BURST_NO_RESULT)).toBe(true);
    expect((b as Error).message).toBe('Burst Valve: the batch fetcher returned no result for key 2');
  });

  it('an Error in the results fails that key only; unsafeBatch rejects with it', async () => {
    const bad = new Error('no such user');
    const valve = new BurstValve<string, number>({
      batch: async (keys) => keys.map((k) => (k === 2 ? bad : `u${k}`)),
    });
    expect(await valve.batch([1, 2])).toEqual(['u1', bad]);
    await expect(valve.unsafeBatch([1, 2])).rejects.toBe(bad);
    await expect(valve.fetch(2)).rejects.toBe(bad);
    await expect(valve.unsafeBatch([1, 3])).resolves.toEqual(['u1', 'u3']);
  });

  it('a rejecting batch fetcher rejects every key with exactly that value', async () => {
    const valve = new BurstValve<string, number>({ batch: () => Promise.reject({ code: 'E' }) });
    const r = await valve.batch([1, 2]);
    expect(r).toEqual([{ code: 'E' }, { code: 'E' }]);
    expect(valve.stats().errors).toBe(2);
  });

  it('returning nothing without early writes errors every key; a bad return type too', async () => {
    const none = new BurstValve<string, number>({ batch: async () => undefined });
    expect(((await none.batch([1]))[0] as Error).message).toMatch(/no result for key 1/);
    const odd = new BurstValve<string, number>({ batch: async () => 'nope' as never });
    expect(((await odd.batch([1]))[0] as Error).message).toMatch(/must return an array, a Map or nothing/);
  });

  it('stream calls back per distinct key as results arrive', async () => {
    const { runs, gates, batch } = gatedBatch<number>();
    const valve = new BurstValve<number, number>({ batch });
    const seen: [number, unknown][] = [];
    const done = track(valve.stream([1, 2, 2, 3], (k, v) => void seen.push([k, v])));
    await flush();
    runs[0]!.write(2, 20);
    await flush();
    expect(seen).toEqual([[2, 20]]);
    gates[0]!.resolve(new Map<number, number | Error>([[1, 10]]));
    await flush();
    expect(done.state).toBe('resolved');
    expect(seen.slice(1, 2)).toEqual([[1, 10]]);
    expect(seen[2]![0]).toBe(3);
    expect(seen[2]![1]).toBeInstanceOf(Error);
  });

  it('maxBatchSize splits a tick into several fetcher calls', async () => {
    const sizes: number[] = [];
    const valve = new BurstValve<number, number>({
      maxBatchSize: 2,
      batch: async (keys) => {
        sizes.push(keys.length);
        return keys;
      },
    });
    expect(await valve.batch([1, 2, 3, 4, 5])).toEqual([1, 2, 3, 4, 5]);
    expect(sizes).toEqual([2, 2, 1]);
  });

  it('fetch() without a key throws in batch mode; so do undefined keys in batch()', async () => {
    const valve = new BurstValve<number, number>({ batch: async (k) => k });
    expect(() => valve.fetch()).toThrow('batch mode needs a key');
    expect(() => valve.batch([1, undefined as never])).toThrow('must not be undefined');
    expect(() => valve.batch('x' as never)).toThrow('keys must be an array, got "x"');
  });

  it('the batch signal aborts only when every key of the batch was given up', async () => {
    const { runs, gates, batch } = gatedBatch<number>();
    const valve = new BurstValve<number, number>({ batch });
    const ac1 = new AbortController();
    const ac2 = new AbortController();
    const a = track(valve.fetch(1, { signal: ac1.signal }));
    const b = track(valve.fetch(2, { signal: ac2.signal }));
    await flush();
    const signal = runs[0]!.ctx.signal;
    ac1.abort('one');
    expect(signal.aborted).toBe(false);
    ac2.abort('two');
    expect(signal.aborted).toBe(true);
    gates[0]!.resolve([1, 2]);
    await flush();
    expect([a.error, b.error]).toEqual(['one', 'two']);
  });

  it('keys abandoned before dispatch are not fetched', async () => {
    const { runs, gates, batch } = gatedBatch<number>();
    const valve = new BurstValve<number, number>({ batch });
    const ac = new AbortController();
    const a = track(valve.fetch(1, { signal: ac.signal }));
    const b = track(valve.fetch(2));
    ac.abort('gone');
    await flush();
    expect(runs[0]!.keys).toEqual([2]);
    gates[0]!.resolve([20]);
    await flush();
    expect(a.error).toBe('gone');
    expect(b.value).toBe(20);
  });

  it('timeoutMs times out the whole batch and aborts its signal', async () => {
    const clock = new ManualClock();
    const { runs, gates, batch } = gatedBatch<number>();
    const valve = new BurstValve<number, number>({ batch, timeoutMs: 20, clock });
    const r = track(valve.batch([1, 2]));
    await flush();
    await clock.advanceAsync(20);
    expect(runs[0]!.ctx.signal.aborted).toBe(true);
    const out = r.value as unknown[];
    expect(out.every((e) => isValveError(e, 'ERR_VALVE_TIMEOUT'))).toBe(true);
    gates[0]!.resolve([1, 2]);
    await flush();
    expect(valve.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('lingers batch results like single results', async () => {
    const clock = new ManualClock();
    let runs = 0;
    const valve = new BurstValve<number, number>({
      batch: async (keys) => {
        runs++;
        return keys;
      },
      lingerMs: 50,
      clock,
    });
    await valve.batch([1, 2]);
    expect(await valve.batch([1, 2])).toEqual([1, 2]);
    expect(runs).toBe(1);
    await clock.advanceAsync(50);
    expect(valve.size).toBe(0);
  });

  it('batch() in single mode fetches each distinct key once with the single fetcher', async () => {
    const seen: number[] = [];
    const valve = new BurstValve<number, number>(async (k) => {
      seen.push(k!);
      return k! + 1;
    });
    expect(await valve.batch([1, 2, 1])).toEqual([2, 3, 2]);
    expect(seen).toEqual([1, 2]);
  });
});
