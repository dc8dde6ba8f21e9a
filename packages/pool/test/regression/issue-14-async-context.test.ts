// Issue 14 defect 1: a queued task ran in the async context of the task that freed its slot:
// with maxWorkers 1, store.run({ id }, () => pool.run(...)) for ids 1, 2, 3 saw 1, 1, 1.
import { AsyncLocalStorage } from 'node:async_hooks';
import { MetricsRegistry } from '@valve/core';
import { deferred } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { PromisePool, type PromisePoolOptions } from '../../src/index.js';

const store = new AsyncLocalStorage<{ id: number }>();
const ids = [1, 2, 3];

// Plain pools, pools whose tasks get a record (metrics), and a task with a signal: every queued path.
const variants: [string, PromisePoolOptions, boolean][] = [
  ['plain', { maxWorkers: 1 }, false],
  ['with a record', { maxWorkers: 1, metrics: new MetricsRegistry() }, false],
  ['with a signal', { maxWorkers: 1 }, true],
];

describe.each(variants)('issue 14: queued tasks run in their caller context (%s)', (_name, options, withSignal) => {
  it('run()', async () => {
    const pool = new PromisePool({ ...options, name: `ctx-run-${_name}` });
    const signal = withSignal ? new AbortController().signal : undefined;
    const seen = await Promise.all(
      ids.map((id) =>
        store.run({ id }, () =>
          pool.run(
            async () => {
              await Promise.resolve();
              return store.getStore()?.id;
            },
            signal ? { signal } : undefined,
          ),
        ),
      ),
    );
    expect(seen).toEqual(ids);
  });

  it('add()', async () => {
    const pool = new PromisePool({ ...options, name: `ctx-add-${_name}` });
    const seen: (number | undefined)[] = [];
    const gate = deferred();
    pool.add(() => gate.promise);
    for (const id of ids) {
      store.run({ id }, () =>
        pool.add(async () => {
          await Promise.resolve();
          seen.push(store.getStore()?.id);
        }),
      );
    }
    gate.resolve();
    await pool.drain();
    expect(seen).toEqual(ids);
  });
});

// A caller without a store queues the bare task (no context record); it must still not see the
// store of the task that frees its slot (core's NO_STORE runs it in a store-free resource then).
describe.each(variants)(
  'issue 14: a queued task of a caller without a store sees none (%s)',
  (_name, options, withSignal) => {
    const signal = withSignal ? new AbortController().signal : undefined;

    it('add() and run() queued behind a task started inside store.run()', async () => {
      const pool = new PromisePool({ ...options, name: `ctx-none-${_name}` });
      const gate = deferred();
      store.run({ id: 99 }, () => pool.add(() => gate.promise));
      const seen: (number | string | undefined)[] = [];
      expect(store.getStore()).toBeUndefined();
      pool.add(async () => {
        seen.push(store.getStore()?.id ?? 'none');
        await Promise.resolve();
        seen.push(store.getStore()?.id ?? 'none');
      });
      const ran = pool.run(async () => store.getStore()?.id ?? 'none', signal ? { signal } : undefined);
      gate.resolve();
      await pool.drain();
      expect(seen).toEqual(['none', 'none']);
      expect(await ran).toBe('none');
    });

    it('a store set with enterWith() inside a queued task does not leak into the next one', async () => {
      const pool = new PromisePool({ ...options, name: `ctx-enter-${_name}` });
      const gate = deferred();
      pool.add(() => gate.promise);
      const seen: (number | string)[] = [];
      pool.add(() => {
        store.enterWith({ id: 7 });
        seen.push(store.getStore()?.id ?? 'none');
      });
      pool.add(() => {
        seen.push(store.getStore()?.id ?? 'none');
      });
      gate.resolve();
      await pool.drain();
      expect(seen[1]).toBe('none');
    });
  },
);
