// lingerMs as a function of the value and key: a lifetime per result (issue 19, Burst item 2;
// dataloader#13/#47/#128/#290 ask for TTLs).
import { ManualClock } from '@valve/core';
import { flush } from '@valve/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BurstValve } from '../src/index.js';

interface User {
  id: string;
  ttl: number;
}

function valveWith(lingerMs: (u: User | null, key: string | undefined) => number) {
  const clock = new ManualClock();
  const runs: string[] = [];
  const valve = new BurstValve<User | null, string>(
    async (id) => {
      runs.push(id);
      return id === 'missing' ? null : { id, ttl: Number(id) };
    },
    { lingerMs, clock },
  );
  return { valve, runs, clock };
}

describe('lingerMs(value, key)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('keeps each value for its own lifetime, expiring out of insertion order', async () => {
    const { valve, runs, clock } = valveWith((u) => u?.ttl ?? 0);
    await Promise.all([valve.fetch('300'), valve.fetch('100'), valve.fetch('200')]);
    expect(valve.stats().lingering).toBe(3);
    await clock.advanceAsync(100);
    expect(valve.stats().lingering).toBe(2);
    await valve.fetch('300');
    await valve.fetch('200');
    expect(runs).toEqual(['300', '100', '200']);
    await clock.advanceAsync(100);
    expect(valve.stats().lingering).toBe(1);
    await clock.advanceAsync(100);
    expect(valve.size).toBe(0);
  });

  it('0 keeps nothing (a negative result is not cached); Infinity keeps until cleared', async () => {
    const { valve, runs } = valveWith((u, key) => (u === null ? 0 : key === '1' ? Number.POSITIVE_INFINITY : 10));
    await valve.fetch('missing');
    expect(valve.size).toBe(0);
    await valve.fetch('missing');
    expect(runs).toEqual(['missing', 'missing']);
    await valve.fetch('1');
    expect(valve.stats().lingering).toBe(1);
    expect(valve.clear('1')).toBe(true);
  });

  it('is called with the key', async () => {
    const seen: unknown[] = [];
    const { valve } = valveWith((u, key) => {
      seen.push([u?.id, key]);
      return 5;
    });
    await valve.fetch('7');
    expect(seen).toEqual([['7', '7']]);
  });

  it('a throw or a bad number keeps nothing and surfaces the error on a microtask', async () => {
    const thrown: unknown[] = [];
    const listener = (e: unknown) => thrown.push(e);
    process.on('uncaughtException', listener);
    try {
      let result: unknown = -1;
      const { valve } = valveWith(() => {
        if (result === 'throw') throw new Error('boom');
        return result as number;
      });
      expect(await valve.fetch('1')).toEqual({ id: '1', ttl: 1 });
      expect(valve.size).toBe(0);
      result = Number.NaN;
      await valve.fetch('2');
      result = 'throw';
      await valve.fetch('3');
      await flush();
      expect(valve.size).toBe(0);
      expect(thrown.map((e) => (e as Error).message)).toEqual([
        'lingerMs(value, key) must return a number >= 0, got -1',
        'lingerMs(value, key) must return a number >= 0, got NaN',
        'boom',
      ]);
    } finally {
      process.off('uncaughtException', listener);
    }
  });

  it('is followed by staleWhileRevalidateMs as a constant lingerMs is', async () => {
    const clock = new ManualClock();
    let n = 0;
    const valve = new BurstValve<number, string>(async () => ++n, {
      lingerMs: (v) => v * 10,
      staleWhileRevalidateMs: 50,
      clock,
    });
    expect(await valve.fetch('k')).toBe(1);
    await clock.advanceAsync(10);
    expect(await valve.fetch('k')).toBe(1); // stale, refresh started
    await flush();
    expect(await valve.fetch('k')).toBe(2); // fresh for 20 ms
    await clock.advanceAsync(19);
    expect(await valve.fetch('k')).toBe(2);
    expect(n).toBe(2);
  });

  it('is validated at construction when not a function', () => {
    expect(() => new BurstValve(async () => 1, { lingerMs: '5' as never })).toThrow(
      new TypeError('lingerMs must be a finite number >= 0, got "5"'),
    );
  });

  it('maxKeys evicts the value closest to expiry', async () => {
    const clock = new ManualClock();
    const valve = new BurstValve<number, number>(async (k) => k, { lingerMs: (v) => v, maxKeys: 2, clock });
    await valve.fetch(300);
    await valve.fetch(100);
    await valve.fetch(200);
    expect(valve.stats().lingering).toBe(2);
    expect(valve.isActive(100)).toBe(false);
    expect(valve.size).toBe(2);
    const runs = valve.stats().runs;
    await valve.fetch(300);
    await valve.fetch(200);
    expect(valve.stats().runs).toBe(runs);
  });
});
