// The module keeps one paused pool alive (`holdShapes` in src/PromisePool.ts) so a major GC while
// no pool has a queued task no longer frees the hot path's hidden classes and deoptimizes
// add()/run() (bench: add() of 10^5 queued tasks cost 2-3x the fire-and-forget floor after the
// harness's gc(), about 1x with the held pool). Speed is shown in bench/; these tests pin what
// the held pool must never do: be visible, hold a timer, or settle anything.
import { describe, expect, it, vi } from 'vitest';

describe('the pool the module holds', () => {
  it('loading the module starts no timer (it cannot keep a process alive)', async () => {
    vi.resetModules();
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
    try {
      const mod = await import('../../src/PromisePool.js');
      expect(typeof mod.PromisePool).toBe('function');
      expect(setTimeoutSpy).not.toHaveBeenCalled();
      expect(setIntervalSpy).not.toHaveBeenCalled();
    } finally {
      setTimeoutSpy.mockRestore();
      setIntervalSpy.mockRestore();
    }
  });

  it('is not part of the API: no new own property on the class', async () => {
    const { PromisePool } = await import('../../src/index.js');
    expect(Object.getOwnPropertyNames(PromisePool).sort()).toEqual(
      ['length', 'map', 'mapIterable', 'mapSettled', 'name', 'prototype'].sort(),
    );
  });

  it('leaves new pools untouched: empty, unpaused, no stats carried over', async () => {
    const { PromisePool } = await import('../../src/index.js');
    const pool = new PromisePool();
    expect(pool.size).toBe(0);
    expect(pool.active).toBe(0);
    expect(pool.isPaused).toBe(false);
    expect(pool.stats()).toMatchObject({ queued: 0, active: 0, completed: 0, failed: 0, name: 'pool' });
    expect(pool.add(() => Promise.resolve())).toBe(1);
    await expect(pool.drain()).resolves.toMatchObject({ completed: 1, failed: 0 });
  });
});
