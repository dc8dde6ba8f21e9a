// burst-valve 1.4.0's defects (issue 9, B1..B8), each reproduced against the published package
// on these machines; here each is a regression test against @valve/burst.
import { deferred, flush, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';

describe('burst-valve 1.4.0 defects', () => {
  it('B1: fetch(0) and fetch("") are keys of their own, settle, and do not wedge keyless calls', async () => {
    const seen: unknown[] = [];
    const valve = new BurstValve<string, number | string>(async (key) => {
      seen.push(key);
      return `v:${String(key)}`;
    });
    await expect(valve.fetch(0)).resolves.toBe('v:0');
    await expect(valve.fetch('')).resolves.toBe('v:');
    await expect(valve.fetch()).resolves.toBe('v:undefined');
    expect(seen).toEqual([0, '', undefined]);
    // 0 and the keyless slot are different slots: both in flight at once run twice.
    const gate = deferred();
    const v2 = new BurstValve<number, number>(async (key) => {
      await gate.promise;
      return key ?? -1;
    });
    const a = v2.fetch(0);
    const b = v2.fetch();
    expect(v2.isActive(0)).toBe(true);
    expect(v2.isActive()).toBe(true);
    gate.resolve();
    expect(await Promise.all([a, b])).toEqual([0, -1]);
    expect(v2.size).toBe(0);
  });

  it('B2: a fetcher that throws synchronously rejects its callers and leaves the key usable', async () => {
    let n = 0;
    const boom = new Error('sync');
    const valve = new BurstValve<number, string>((_key) => {
      if (n++ === 0) throw boom;
      return Promise.resolve(n);
    });
    const [a, b] = [valve.fetch('k'), valve.fetch('k')];
    await expect(a).rejects.toBe(boom);
    await expect(b).rejects.toBe(boom);
    expect(valve.isActive('k')).toBe(false);
    await expect(valve.fetch('k')).resolves.toBe(2);
  });

  it('B3: a fetcher that resolves to an Error value resolves every caller with it', async () => {
    const value = new Error('I am data');
    const valve = new BurstValve<Error, string>(async () => value);
    const [a, b] = await Promise.all([valve.fetch('k'), valve.fetch('k')]);
    expect(a).toBe(value);
    expect(b).toBe(value);
  });

  it('B4: non-Error rejections pass through unchanged, fields such as code included', async () => {
    const reason = { code: 'ECONNRESET', retryable: true };
    const valve = new BurstValve<number, string>(() => Promise.reject(reason));
    const [a, b] = [track(valve.fetch('k')), track(valve.fetch('k'))];
    await flush();
    expect(a.error).toBe(reason);
    expect(b.error).toBe(reason);
    const plain = new BurstValve<number>(() => Promise.reject('just a string'));
    await expect(plain.fetch()).rejects.toBe('just a string');
  });

  it('B5: a batch result array of the wrong length rejects those keys and does not wedge them', async () => {
    let calls = 0;
    const valve = new BurstValve<number, number>({
      batch: async (keys) => (calls++ === 0 ? [1] : keys.map((k) => k * 10)),
    });
    const results = await valve.batch([1, 2]);
    expect(results[0]).toBeInstanceOf(Error);
    expect((results[0] as Error).message).toMatch(/returned 1 results for 2 keys/);
    expect(valve.isActive(1)).toBe(false);
    expect(valve.isActive(2)).toBe(false);
    expect(await valve.batch([1, 2])).toEqual([10, 20]);
  });

  it('B6: a batch fetcher that throws synchronously rejects every key with that value; keys stay usable', async () => {
    let calls = 0;
    const boom = new Error('sync batch');
    const valve = new BurstValve<number, number>({
      batch: (keys) => {
        if (calls++ === 0) throw boom;
        return keys.map((k) => k + 1);
      },
    });
    expect(await valve.batch([1, 2, 3])).toEqual([boom, boom, boom]);
    await expect(valve.unsafeBatch([1])).resolves.toEqual([2]);
    expect(valve.size).toBe(0);
  });

  it('B7: separate fetch() calls in the same tick are merged into one batch', async () => {
    const batches: number[][] = [];
    const valve = new BurstValve<number, number>({
      batch: async (keys) => {
        batches.push([...keys]);
        return keys.map((k) => k * 2);
      },
    });
    const results = await Promise.all([valve.fetch(1), valve.fetch(2), valve.batch([3, 1]), valve.fetch(4)]);
    expect(results).toEqual([2, 4, [6, 2], 8]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  it('B8: de-duplication inside batch() is linear: 20,000 ids with duplicates give each id one fetch', async () => {
    const fetched: number[] = [];
    const valve = new BurstValve<number, number>({
      batch: async (keys) => {
        fetched.push(...keys);
        return keys;
      },
    });
    // Every id three times. A quadratic `includes` scan would still pass this, so the linear
    // bound is checked structurally: one Map lookup per key (counted below), not by timing.
    const ids = Array.from({ length: 60_000 }, (_, i) => i % 20_000);
    let keyOfCalls = 0;
    const counted = new BurstValve<number, number>({
      keyOf: (k) => {
        keyOfCalls++;
        return k;
      },
      batch: async (keys) => keys,
    });
    const out = await valve.batch(ids);
    expect(fetched.length).toBe(20_000);
    expect(new Set(fetched).size).toBe(20_000);
    expect(out[20_005]).toBe(5);
    await counted.batch(ids);
    expect(keyOfCalls).toBe(60_000); // one map lookup per key: O(n)
  });
});
