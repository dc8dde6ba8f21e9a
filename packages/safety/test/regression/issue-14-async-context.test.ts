// Issue 14 defect 1: a queued job ran in the async context of the job that freed its slot:
// with one slot, store.run({ id }, () => valve.run(...)) for ids 1, 2, 3 saw 1, 1, 1.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ManualClock } from '@valve/core';
import { describe, expect, it } from 'vitest';
import { SafetyValve, type SafetyValveOptions } from '../../src/index.js';

const store = new AsyncLocalStorage<{ id: number }>();
const ids = [1, 2, 3];

const variants: [string, Omit<SafetyValveOptions, 'size'>][] = [
  ['counted cap', { concurrency: 1 }],
  ['lease', { concurrency: 1, leaseMs: 60_000 }],
  ['rate limited', { concurrency: 1, rate: 1, hz: 1, tokenLimit: 1, clock: new ManualClock() }],
];

describe.each(variants)('issue 14: queued jobs run in their caller context (%s)', (_name, options) => {
  it('run()', async () => {
    const valve = new SafetyValve({ ...options, size: 10 });
    const all = Promise.all(
      ids.map((id) =>
        store.run({ id }, () =>
          valve.run(async () => {
            await Promise.resolve();
            return store.getStore()?.id;
          }),
        ),
      ),
    );
    await refill(options);
    const seen = await all;
    expect(seen).toEqual(ids);
    valve.close();
  });

  it('ask(): the caller resumes in its own context with its permit', async () => {
    const valve = new SafetyValve({ ...options, size: 10 });
    const all = Promise.all(
      ids.map((id) =>
        store.run({ id }, async () => {
          const permit = await valve.ask();
          const got = store.getStore()?.id;
          await Promise.resolve();
          permit.done();
          return got;
        }),
      ),
    );
    await refill(options);
    const seen = await all;
    expect(seen).toEqual(ids);
    valve.close();
  });
});

/** Lets a rate-limited variant's bucket refill on its ManualClock until every job ran. */
async function refill(options: { clock?: unknown }): Promise<void> {
  if (options.clock instanceof ManualClock) await options.clock.advanceAsync(5_000);
}
