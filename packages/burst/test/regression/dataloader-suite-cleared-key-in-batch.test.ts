// Found running dataloader's public test suite through a DataLoader adapter: a key cleared
// (`clear`/`forget`/`clearAll`) while it waits for its tick's batch and asked again in the same
// tick is in that batch twice, once per call (as in dataloader). A Map result or an `earlyWrite`
// for the key settled only the later call; the earlier caller rejected with
// ERR_VALVE_BURST_NO_RESULT although the fetcher answered its key. Every call of the key in the
// batch now gets the key's one result.
import { isValveError } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../../src/index.js';

const results = {
  array: (keys: string[]) => keys.map((k) => `${k}!`),
  map: (keys: string[]) => new Map(keys.map((k) => [k, `${k}!`])),
  earlyWrite: (keys: string[], write: (key: string, value: string) => void) => {
    for (const k of keys) write(k, `${k}!`);
  },
};

describe('a key cleared before its batch went and asked again in the same tick', () => {
  for (const [shape, result] of Object.entries(results)) {
    it(`both calls get the key's result (${shape})`, async () => {
      const batches: string[][] = [];
      const valve = new BurstValve<string, string>({
        batch: async (keys, earlyWrite) => {
          batches.push([...keys]);
          return result(keys, earlyWrite);
        },
      });
      const first = valve.fetch('A');
      valve.clear('A');
      const second = valve.fetch('A');
      await expect(first).resolves.toBe('A!');
      await expect(second).resolves.toBe('A!');
      expect(batches).toEqual([['A', 'A']]);
    });
  }

  it('clearAll, with keyOf: an Error in a Map result fails both calls', async () => {
    const boom = new Error('boom');
    const valve = new BurstValve<string, { id: number }>({
      batch: async (keys) => new Map(keys.map((k) => [k, boom])),
      keyOf: (k) => k.id,
    });
    const first = valve.fetch({ id: 1 });
    valve.clearAll();
    const second = valve.fetch({ id: 1 });
    const settled = await Promise.allSettled([first, second]);
    expect(settled.map((s) => (s.status === 'rejected' ? s.reason : s.value))).toEqual([boom, boom]);
    expect(settled.some((s) => s.status === 'rejected' && isValveError(s.reason))).toBe(false);
  });
});

// Found next to the same suite: user callbacks got valve's internal objects as `this` (the
// scheduler for batchScheduleFn, the call table or batch for keyOf). They run with none now.
describe('user callbacks run without a receiver', () => {
  it('keyOf and batchScheduleFn see this === undefined', async () => {
    const receivers: unknown[] = [];
    const valve = new BurstValve<number, { id: number }>({
      batch: async (keys) => keys.map((k) => k.id),
      keyOf(this: unknown, key) {
        receivers.push(this);
        return key.id;
      },
      batchScheduleFn(this: unknown, dispatch) {
        receivers.push(this);
        setImmediate(dispatch);
      },
    });
    const results = await Promise.all([valve.fetch({ id: 1 }), valve.fetch({ id: 2 }), valve.fetch({ id: 1 })]);
    expect(results).toEqual([1, 2, 1]);
    expect(receivers.length).toBeGreaterThan(0);
    expect(receivers.every((r) => r === undefined)).toBe(true);
  });
});
