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
